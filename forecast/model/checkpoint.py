"""The model file: RNN weights in a content-addressed `.npz` named by a JSON sidecar, versioned
and checked on load.

    models/AAPL.3f2a9c01b7de.npz  Wxh (GH, D), Whh (GH, H), bh (GH,), Why (O, H), by (O,); float64,
                                  no pickle; named by the first 12 hex digits of its sha256;
                                  an ensemble of M members stacks them: Wxh (M, H, D), ...
    models/AAPL.json              the caller's meta + format_version, shapes, dtype,
                                  weights_file, weights_sha256 (of the npz bytes), saved_at

A save, holding the ticker's lock (.locks/models.AAPL.lock) so that saves of one ticker run one after
another, writes the new npz beside the current one (a new name: it never overwrites the weights
the current JSON names), then replaces the JSON atomically (the commit point), then deletes the
ticker's npz files the committed JSON does not name, and temp files of killed saves. A kill at
any moment leaves a JSON naming a complete npz whose hash it holds; at worst an unnamed npz
lingers until the next save. Load accepts only the name save would derive from the ticker and
that hash, so no name read from a file ever becomes a path, and a model whose npz was cut short
or edited is refused instead of half-used. Same weights give the same bytes and so the same name.

Load trusts nothing it reads: the JSON is size- and depth-capped and checked against META (types
and ranges of every field the program uses); the npz is read only if it is a regular file no
larger than its JSON's shapes imply, and each array's declared shape and dtype (its .npy header)
are checked before any array is loaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only; the functions that read or write weights import it
    import numpy as np

from forecast import jsonfile
from forecast.config import models_dir
from forecast.errors import ForecastError
from forecast.files import (
    RefusedFile,
    atomic_write_bytes,
    atomic_write_json,
    lock_path,
    locked,
    read_regular,
    remove_stale_temps,
)
from forecast.jsonfile import (
    DATE,
    SHA256,
    TIMESTAMP,
    Any,
    Bool,
    Dict,
    Float,
    Int,
    Json,
    List,
    Null,
    Str,
)

FORMAT_VERSION = 2  # bump when the files change meaning; load refuses any other version
# 2: content-addressed weights file (1 kept the weights in <TICKER>.npz)

DTYPE = "float64"

# Fields the checkpoint writes into the JSON itself; the caller's meta may not use these names.
_ADDED_FIELDS = ("format_version", "shapes", "dtype", "weights_file", "weights_sha256", "saved_at")

# What np.load raises on a truncated or garbage zip, or an .npy it refuses to unpickle.
_NPZ_ERRORS = (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError)


_TICKER = Str(15, r"[A-Z0-9^][A-Z0-9.\-^=]*")
_MAX_SERIES = 100_000  # tickers in one global model
_CONFIG = {  # TrainConfig's fields, as far as they are known here; all optional (renames pass)
    "window": Int(2, 1000),
    "hidden": Int(1, 1024),
    "epochs": Int(1, 1_000_000),
    "batch_size": Int(1, 1_000_000),
    "lr": Float(0, 1),
    "loss": Str(20),
    "head": Str(20),
    "cell": Str(20),
    "seed": Int(0, 2**32 - 1),
    "patience": Int(1, 1_000_000),
    "features": List(Str(20), 16, 1),
    "val_fraction": Float(0, 1),
    "max_norm": Float(0, 1e6),
}
_CELL = Any(Float(0, 1e6), Null())  # a calibration number; null where it is NaN (no cases)
_CALIBRATION = Dict(  # conformal.Calibration.to_dict: levels (L,), the rest (L, H) or (N, H)
    {
        "levels": List(Float(1e-9, 1 - 1e-9), 20, 1),
        "factors": List(List(_CELL, 1000, 1), 20, 1),  # finite and > 0: _check_consistent
        "coverage": List(List(Any(Float(0, 1), Null()), 1000, 1), 20, 1),
        "n": List(Int(0, 10**9), 1000, 1),
        "fallback": List(List(Bool(), 1000, 1), 20, 1),
        "held_out": Str(10, "cross|half"),
        "scores": List(List(_CELL, 1000, 1), 1_000_000),
        "prior": Dict(
            {
                "scale": Float(1e-6, 1e6),
                "cases": Float(0, 1e9),
                "nu": Any(Float(2 + 1e-9, 1e6), Null()),
            }
        ),
    },
    # types and ranges here; which fields a model needs, Calibration.from_dict (older files
    # lack fallback, held_out, scores and prior)
    optional=("levels", "factors", "coverage", "n", "fallback", "held_out", "scores", "prior"),
)
# The model JSON: the checkpoint's own fields are required; the model's (meta) are checked when
# present, so that a field the model adds or renames does not make old files unreadable.
META = Dict(
    {
        "format_version": Int(0, 1000),
        "shapes": Dict(
            {"D": Int(1, 64), "H": Int(1, 1024), "O": Int(1, 64), "M": Int(1, 64), "G": Int(3, 3)},
            optional=("M", "G"),  # M: ensemble members (absent: one model, no member axis);
            # G: a gated cell's blocks of rows (absent: Elman)
        ),
        "dtype": Str(10),
        "weights_file": Str(100),
        "weights_sha256": SHA256,
        "saved_at": TIMESTAMP,
        "ticker": _TICKER,
        "config": Dict(_CONFIG, optional=tuple(_CONFIG), extra=Json()),
        "features": List(Str(20), 16, 1),
        "scaler": Dict({"mean": List(Float(), 64), "std": List(Float(0), 64)}, extra=Json()),
        "dates": Dict(extra=DATE, max_len=20),
        "last_fit_date": DATE,
        "best_epoch": Int(0, 1_000_000),
        "epochs_run": Int(0, 1_000_000),
        "losses": Dict(extra=Float(finite=False), max_len=20),
        "baseline_val_loss": Float(finite=False),
        "resid_std": Float(0),
        "n_windows": Dict({"train": Int(0, 10**9), "val": Int(0, 10**9)}, extra=Json()),
        "abs_return_quantiles": List(Float(0), 1000),
        "calibration": _CALIBRATION,
        "vol": Dict(  # the vol head's statistics and calibration scale
            {
                "sd": Float(1e-12, 10.0),  # a daily log return's sd: 1000% a day is not one
                "m_hl": Float(0, 10.0),
                "kp": Float(0, 1e6),
                "scale": Float(1e-3, 1e3),  # f: chosen on a grid of 0.4..2
                "member_epochs": List(List(Int(0, 1_000_000), 2, 2), 64, 1),
                "blend": Dict(  # the EGARCH fallback (estimator.VolForecaster); older files lack it
                    {
                        "model": Str(20, "egarch"),
                        "chosen": Str(10, "rnn|egarch|blend"),
                        "egarch_vs_rnn": Float(finite=False),  # NaN: nothing to compare on
                        "weights": List(Float(0, 1), 1000, 1),
                        "params": List(Float(), 4, 4),
                        "bounds": List(Float(0), 2, 2),
                        "converged": Bool(),
                    }
                ),
            },
            optional=("blend",),
            extra=Json(),
        ),
        "exchange": Str(20),
        "fingerprint": SHA256,
        "rows": Int(0, 10**8),
        "versions": Dict(extra=Str(60), max_len=40),
        "seed": Int(0, 2**32 - 1),
        # a global model's own fields (forecast/model/globalmodel.py); _GLOBAL_FIELDS: required there
        "kind": Str(20, "global"),
        "name": _TICKER,
        "cut_date": DATE,
        "tickers": List(_TICKER, _MAX_SERIES, 1),
        "windows": Dict(
            extra=Dict({"train": Int(0, 10**9), "val": Int(0, 10**9)}), max_len=_MAX_SERIES
        ),
        "last_dates": Dict(extra=DATE, max_len=_MAX_SERIES),
        "skipped": Dict(extra=Str(1000), max_len=_MAX_SERIES),
        "member_epochs": List(List(Int(0, 1_000_000), 2, 2), 64, 1),
        # its close-only ensemble: the last close_members members (globalmodel.check_weights)
        "close_members": Int(1, 63),
        "close_features": List(Str(20), 16, 1),
        "close_losses": Dict(extra=Float(finite=False), max_len=20),
        "close_only": List(_TICKER, _MAX_SERIES),
        "close_choice": Dict(
            {
                "first": Float(finite=False),
                "close": Float(finite=False),
                "chosen": Str(10, "first|close"),
            }
        ),
    },
    optional=(
        *("ticker", "config", "features", "scaler", "dates", "last_fit_date", "best_epoch"),
        *("epochs_run", "losses", "baseline_val_loss", "resid_std", "n_windows"),
        *("abs_return_quantiles", "calibration", "exchange", "fingerprint", "rows"),
        *("versions", "seed", "vol"),
        *("kind", "name", "cut_date", "tickers", "windows", "last_dates", "skipped"),
        "member_epochs",
        *("close_members", "close_features", "close_losses", "close_only", "close_choice"),
    ),
    extra=Json(),
)
# What a global model (kind "global") cannot be used without: its options, the date that splits
# every series into scaler/training days and calibration days, and the series it was fitted on.
_GLOBAL_FIELDS = ("name", "config", "cut_date", "tickers", "windows")
_MAX_JSON_BYTES = 4 << 20  # a model JSON is ~30 kB; its calibration grows with the horizon
_NPZ_SLACK = 64 << 10  # zip and .npy headers around the float64 payload of five arrays


VERSIONED = ("numpy", "pandas", "numba", "scipy", "yfinance")


def package_versions() -> dict[str, str]:
    """The versions a model file records (per-ticker and global alike), for bug reports.
    forecast's own comes from the package, which a source checkout has without an install
    (and whose distribution is named forecast-rnn)."""
    from forecast import __version__

    return {"forecast": __version__} | {n: importlib.metadata.version(n) for n in VERSIONED}


def PARAM_SHAPES(
    D: int, H: int, O: int, M: int | None = None, G: int = 1
) -> dict[str, tuple[int, ...]]:
    """Each parameter's shape for D inputs, H hidden units, O outputs; this order is canonical.
    M: an ensemble's members, a leading axis on every array (None: one model); G: the cell's
    blocks of rows (1 Elman, 3 gated: forecast/model/kernels/rnn.py param_shapes)."""
    shapes = {"Wxh": (G * H, D), "Whh": (G * H, H), "bh": (G * H,), "Why": (O, H), "by": (O,)}
    return shapes if M is None else {k: (M, *v) for k, v in shapes.items()}


def _json_path(data_dir: Path, ticker: str) -> Path:
    return models_dir(data_dir) / f"{ticker}.json"


def _weights_name(ticker: str, sha256: str) -> str:
    """The npz's file name for weights whose bytes hash to `sha256` (64 lowercase hex digits)."""
    return f"{ticker}.{sha256[:12]}.npz"


def _lock(data_dir: Path, ticker: str):
    return locked(lock_path(data_dir, "models", ticker), f"the model of {ticker}")


def _remove_unnamed_weights(data_dir: Path, ticker: str, keep: str) -> None:
    """Delete the ticker's npz files other than `keep`: older saves, orphans of a killed save,
    and the `<TICKER>.npz` of format 1. No other ticker's format-2 file matches: the symbol must
    be followed by exactly "." + 12 hex digits + ".npz"."""
    ours = re.compile(re.escape(ticker) + r"(\.[0-9a-f]{12})?\.npz")
    for p in models_dir(data_dir).iterdir():
        if p.name != keep and ours.fullmatch(p.name):
            try:
                p.unlink(missing_ok=True)
            except OSError:
                pass  # the new model is already committed; a leftover is retried next save


def _check_params(params: dict[str, np.ndarray]) -> dict[str, int]:
    """Return {"D", "H", "O"} (and "M" for an ensemble: Wxh 3-D; "G" = 3 for the gated cell)
    for a complete, finite, float64 parameter set; else ValueError."""
    import numpy as np  # here, not at the top: listing models reads sidecars only

    names = list(PARAM_SHAPES(0, 0, 0))
    if not isinstance(params, dict) or set(params) != set(names):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must have exactly {names}, got {got}")
    for name in names:
        a = params[name]
        if not isinstance(a, np.ndarray) or a.dtype != np.float64:
            raise ValueError(
                f"{name} must be a float64 ndarray, got {getattr(a, 'dtype', type(a))}"
            )
        if not np.isfinite(a).all():
            raise ValueError(f"{name} has non-finite values")
    ndim = params["Wxh"].ndim
    if ndim not in (2, 3) or params["Why"].ndim != ndim:
        raise ValueError("Wxh and Why must be 2-D (or 3-D with a leading member axis)")
    M = params["Wxh"].shape[0] if ndim == 3 else None
    D = params["Wxh"].shape[-1]  # input features
    H = params["Why"].shape[-1]  # hidden units
    G = params["Wxh"].shape[-2] // max(H, 1)  # the cell's blocks of rows (1 Elman, 3 gated)
    O = params["Why"].shape[-2]  # outputs
    if min(D, H, O, M or 1) < 1 or G not in (1, 3):  # G: Elman's 1 or the gated cell's 3
        raise ValueError(
            f"D, H, O, M must be positive and G 1 or 3, got D={D} H={H} O={O} G={G} M={M}"
        )
    for name, shape in PARAM_SHAPES(D, H, O, M, G).items():
        if params[name].shape != shape:
            raise ValueError(f"{name} has shape {params[name].shape}, expected {shape}")
    # G only for a gated cell: an Elman model's shapes are what they were before cells
    return (
        {"D": D, "H": H, "O": O} | ({"M": M} if M is not None else {}) | ({"G": G} if G > 1 else {})
    )


def _npz_bytes(params: dict[str, np.ndarray]) -> bytes:
    """The npz file as bytes: same weights give the same bytes (zip entries carry no clock time)."""
    import numpy as np  # here, not at the top: listing models reads sidecars only

    buf = io.BytesIO()
    # C order so the bytes depend only on the values, not on how the caller's arrays are laid out
    np.savez(buf, **{name: np.ascontiguousarray(params[name]) for name in PARAM_SHAPES(0, 0, 0)})
    return buf.getvalue()


def save_model(data_dir: Path, ticker: str, params: dict[str, np.ndarray], meta: dict) -> Path:
    """Write models/<TICKER>.<sha256[:12]>.npz then models/<TICKER>.json; return the JSON's path.

    params: Wxh (GH, D), Whh (GH, H), bh (GH,), Why (O, H), by (O,), float64 and finite
    (G = 1 for the Elman cell, 3 for the gated one).
    meta: JSON-safe dict (options, features, scaler, dates, versions, losses, ...).
    Bad params or meta raise ValueError before anything is written. Until the JSON is replaced
    the previous model stays the model: a save that fails or is killed before then leaves it
    loadable (and maybe an unnamed npz, which the next successful save removes).
    """
    shapes = _check_params(params)
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__}")
    clash = sorted(set(meta) & set(_ADDED_FIELDS))
    if clash:
        raise ValueError(f"meta may not set {clash}: the checkpoint writes them")

    data = _npz_bytes(params)
    sha256 = hashlib.sha256(data).hexdigest()
    npz_name = _weights_name(ticker, sha256)
    record = {
        **meta,
        "format_version": FORMAT_VERSION,
        "shapes": shapes,
        "dtype": DTYPE,
        "weights_file": npz_name,
        "weights_sha256": sha256,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:  # fail on unserializable meta now, not after the npz has been written
        json.dumps(record, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"meta is not JSON-serializable: {e}") from e

    json_path = _json_path(data_dir, ticker)
    with _lock(data_dir, ticker):  # another save of this ticker waits: it cannot delete ours
        remove_stale_temps(models_dir(data_dir))
        # A new name unless these very weights are saved already; then the same bytes replace them.
        atomic_write_bytes(models_dir(data_dir) / npz_name, data)
        atomic_write_json(json_path, record)  # the commit point: from here this is the model
        _remove_unnamed_weights(data_dir, ticker, keep=npz_name)  # what the committed JSON names
    return json_path


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


def _read_json(json_path: Path, unusable) -> dict:
    try:
        return jsonfile.read_object(json_path, max_bytes=_MAX_JSON_BYTES)
    except jsonfile.InvalidJSON as e:
        raise unusable(str(e)) from None
    except OSError as e:
        raise unusable(f"{json_path} is not readable JSON ({_one_line(e)})") from None


def _check_fields(meta: dict, json_path: Path, ticker: str, unusable) -> None:
    """Check the sidecar fields load_model relies on (format_version is checked before)."""
    missing = [f for f in _ADDED_FIELDS if f not in meta]
    if missing:
        raise unusable(f"{json_path} lacks {', '.join(missing)}")
    shapes = meta["shapes"]
    if not (
        isinstance(shapes, dict)
        and set(shapes) - {"M", "G"} == {"D", "H", "O"}
        and all(type(v) is int and v >= 1 for v in shapes.values())
    ):
        raise unusable(f"{json_path} has invalid shapes {shapes!r}")
    if meta["dtype"] != DTYPE:
        raise unusable(f"{json_path} says dtype {meta['dtype']!r}, expected {DTYPE!r}")
    sha = meta["weights_sha256"]
    if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise unusable(f"{json_path} has an invalid weights_sha256")
    # Compare with the name save would give these weights: a name read from a file is never
    # turned into a path, so no "../x", other ticker's or stale npz can be loaded.
    expected = _weights_name(ticker, sha)
    if meta["weights_file"] != expected:
        raise unusable(f"{json_path} names weights {meta['weights_file']!r}, not {expected}")
    if meta.get("kind") == "global":
        missing = [f for f in _GLOBAL_FIELDS if f not in meta]
        if missing:
            raise unusable(f"{json_path} lacks {', '.join(missing)}")
        if meta["name"] != ticker:  # copied or planted under another name
            raise unusable(f"{json_path} is the global model {meta['name']}")
        members = len(meta.get("member_epochs", [])) or shapes.get("M", 1)
        if members != shapes.get("M", members):
            raise unusable(
                f"{json_path} has member_epochs for {members} members, not {shapes['M']}"
            )


def _declared(data: bytes, max_member: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each array's (shape, dtype) from its .npy header, without loading any array.

    Raises ValueError for anything np.load would not read as plain arrays, and for a member
    whose uncompressed size exceeds max_member (a zip bomb).
    """
    import numpy as np  # here, not at the top: listing models reads sidecars only

    declared = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy") or info.file_size > max_member:
                raise ValueError(f"unexpected member {info.filename[:40]!r}")
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"npy format {version}")
            declared[info.filename[: -len(".npy")]] = (shape, dtype)
    return declared


def _read_npz(data: bytes) -> dict[str, np.ndarray]:
    """Every array in the npz bytes, by name; raises what np.load raises, or TypeError if no npz."""
    import numpy as np  # here, not at the top: listing models reads sidecars only

    npz = np.load(io.BytesIO(data), allow_pickle=False)
    if not isinstance(npz, np.lib.npyio.NpzFile):  # a bare .npy loads as one array
        raise TypeError("not an npz archive")
    with npz:
        return {name: npz[name] for name in npz.files}


def _checked_meta(json_path: Path, ticker: str, unusable, retrain: str) -> dict:
    """The sidecar of `ticker`'s model, read and checked against META and _check_fields."""
    meta = _read_json(json_path, unusable)
    if "format_version" not in meta:
        raise unusable(f"{json_path} lacks format_version")
    version = meta["format_version"]
    if type(version) is int and version > FORMAT_VERSION:
        raise ForecastError(
            f"the model for {ticker} has format {version}, newer than this forecast reads "
            f"({FORMAT_VERSION}); upgrade forecast or {retrain}"
        )
    if type(version) is not int or version != FORMAT_VERSION:  # older, or not a version at all
        raise ForecastError(
            f"the model for {ticker} has format {version!r}, which this forecast does not read "
            f"(it reads {FORMAT_VERSION}); {retrain}"
        )
    try:
        jsonfile.check(meta, META, str(json_path))
    except jsonfile.InvalidJSON as e:
        raise unusable(str(e)) from None
    _check_fields(meta, json_path, ticker, unusable)
    if meta.get("ticker", ticker) != ticker:  # a model file copied or planted under another name
        raise unusable(f"{json_path} is the model of {meta['ticker']}")
    return meta


def checked_sidecar(data_dir: Path, name: str) -> tuple[dict | None, str | None]:
    """(meta, None) when models/<name>.json is a usable model, else (None, why in one line):
    every check load_model makes short of reading the weights, plus that its weights file
    exists. For listing models and choosing one without loading every npz."""
    json_path = _json_path(data_dir, name)
    try:
        meta = _checked_meta(json_path, name, ForecastError, "")
    except ForecastError as e:
        return None, str(e).removesuffix("; ")
    weights = models_dir(data_dir) / _weights_name(name, meta["weights_sha256"])
    if not weights.is_file():
        return None, f"{weights.name}, named by {json_path.name}, is missing"
    return meta, None


def sidecar_problem(data_dir: Path, name: str) -> str | None:
    """Why models/<name>.json is no usable model (checked_sidecar), or None when it is one."""
    return checked_sidecar(data_dir, name)[1]


def retrain_advice(name: str, kind: str | None = None) -> str:
    """What to run to replace the model `name`: a global model is retrained with --global."""
    if kind == "global":
        return f"retrain it with `forecast train TICKER ... --global {name}`"
    return f"retrain with `forecast train {name}`"


def load_model(
    data_dir: Path, ticker: str, retrain: str | None = None
) -> tuple[dict[str, np.ndarray], dict]:
    """Read and check a saved model; return (params, meta) or raise ForecastError.

    params: C-contiguous float64 copies, Wxh (GH, D), Whh (GH, H), bh (GH,), Why (O, H), by (O,).
    meta: the whole JSON sidecar, the caller's fields plus the ones save_model added.
    retrain: the advice ending each error (default: `forecast train TICKER`).
    """
    import numpy as np  # here, not at the top: listing models reads sidecars only

    json_path = _json_path(data_dir, ticker)
    retrain = retrain or retrain_advice(ticker)

    def unusable(detail: str) -> ForecastError:
        return ForecastError(f"the model for {ticker} is unusable: {detail}; {retrain}")

    if not (json_path.exists() or json_path.is_symlink()):  # a link to /dev/zero: refused below
        raise ForecastError(f"no model for {ticker}; run `forecast train {ticker}`")
    meta = _checked_meta(json_path, ticker, unusable, retrain)
    npz_path = models_dir(data_dir) / _weights_name(ticker, meta["weights_sha256"])
    s = meta["shapes"]
    expected = PARAM_SHAPES(s["D"], s["H"], s["O"], s.get("M"), s.get("G", 1))
    payload = 8 * sum(int(np.prod(shape)) for shape in expected.values())  # float64 bytes

    try:
        data = read_regular(npz_path, payload + _NPZ_SLACK)  # hash and parse the same bytes
    except FileNotFoundError:
        if _read_json(json_path, unusable).get("weights_sha256") != meta["weights_sha256"]:
            return load_model(data_dir, ticker, retrain)  # a save committed meanwhile: read it
        raise unusable(f"{npz_path} is missing") from None
    except RefusedFile as e:
        raise unusable(f"{e} (what shapes {s} need, and headers)") from None
    except OSError as e:
        raise unusable(f"{npz_path} cannot be read ({_one_line(e)})") from None
    if hashlib.sha256(data).hexdigest() != meta["weights_sha256"]:
        raise unusable(
            f"{npz_path} does not match the checksum in {json_path.name} (cut short or edited)"
        )
    try:  # the .npy headers first: an array is loaded only if its JSON agrees with its shape
        declared = _declared(data, payload + _NPZ_SLACK)
    except (ValueError, SyntaxError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise unusable(f"{npz_path} cannot be read ({_one_line(e)})") from None
    if set(declared) != set(expected):
        raise unusable(f"{npz_path} holds arrays {sorted(declared)}, expected {list(expected)}")
    for name, shape in expected.items():
        if declared[name][0] != shape or declared[name][1] != np.float64:
            raise unusable(
                f"{name} in {npz_path} is declared {declared[name][1]} {declared[name][0]}, "
                f"expected {DTYPE} {shape}"
            )
    try:
        arrays = _read_npz(data)
    except (*_NPZ_ERRORS, TypeError) as e:
        raise unusable(f"{npz_path} cannot be read ({_one_line(e)})") from None

    if set(arrays) != set(expected):
        raise unusable(f"{npz_path} holds arrays {sorted(arrays)}, expected {list(expected)}")
    for name, shape in expected.items():
        a = arrays[name]
        if a.dtype != np.float64:
            raise unusable(f"{name} in {npz_path} is {a.dtype}, expected {DTYPE}")
        if a.shape != shape:
            raise unusable(f"{name} in {npz_path} has shape {a.shape}, expected {shape}")
        if not np.isfinite(a).all():
            raise unusable(f"{name} in {npz_path} has non-finite values")
    params = {name: np.array(arrays[name], dtype=np.float64, order="C") for name in expected}
    return params, meta
