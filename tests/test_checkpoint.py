"""Checkpoint: round trip, reproducible bytes, and a helpful refusal for every kind of bad file."""

import hashlib
import io
import json
import os
import re
import time
import zipfile

import numpy as np
import pytest

from forecast import files
from forecast.config import models_dir
from forecast.errors import ForecastError
from forecast.model import checkpoint
from forecast.model.checkpoint import (
    FORMAT_VERSION,
    PARAM_SHAPES,
    load_model,
    save_model,
)

D, H, O = 3, 5, 2  # input features, hidden units, outputs
TICKER = "AAPL"
RETRAIN = "forecast train AAPL"


def make_params(rng, D=D, H=H, O=O):
    return {name: rng.standard_normal(shape) for name, shape in PARAM_SHAPES(D, H, O).items()}


META = {
    "options": {"hidden": H, "lr": 1e-3, "epochs": 3},
    "features": ["ret_1", "ret_5", "vol_20"],
    "scaler": {"mean": [0.1, -0.2, 0.3], "std": [1.0, 2.0, 0.5]},
    "train_end": "2024-06-28",
    "seed": 0,
    "final_loss": {"train": 0.5, "val": 0.75},
    "versions": {"numpy": np.__version__},
}


@pytest.fixture
def params(rng):
    return make_params(rng)


def weights_name(data: bytes, ticker=TICKER) -> str:
    """The content-addressed npz name: <TICKER>.<first 12 hex digits of sha256>.npz."""
    return f"{ticker}.{hashlib.sha256(data).hexdigest()[:12]}.npz"


def model_files(data_dir) -> list[str]:
    return sorted(p.name for p in models_dir(data_dir).iterdir())


@pytest.fixture
def saved(data_dir, params):
    """A model saved for AAPL; returns its (npz, json) paths."""
    json_path = save_model(data_dir, TICKER, params, META)
    npz_name = json.loads(json_path.read_text())["weights_file"]
    return models_dir(data_dir) / npz_name, json_path


def npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def replace_npz(saved, data: bytes, rehash: bool) -> None:
    """Overwrite the npz; with rehash, also store it under its new name and fix the JSON's name
    and hash to match, so only the content checks object."""
    npz_path, json_path = saved
    npz_path.write_bytes(data)
    if rehash:
        npz_path.rename(npz_path.with_name(weights_name(data)))
        meta = json.loads(json_path.read_text())
        meta["weights_sha256"] = hashlib.sha256(data).hexdigest()
        meta["weights_file"] = weights_name(data)
        json_path.write_text(json.dumps(meta))


def edit_json(saved, **fields) -> None:
    json_path = saved[1]
    meta = json.loads(json_path.read_text())
    meta.update(fields)
    json_path.write_text(json.dumps(meta))


def refused(data_dir, *words) -> str:
    """Load must fail with one line that says to retrain and contains each of `words`."""
    with pytest.raises(ForecastError) as e:
        load_model(data_dir, TICKER)
    msg = str(e.value)
    assert "\n" not in msg
    for w in (RETRAIN, *words):
        assert w in msg, msg
    return msg


# --- round trip --------------------------------------------------------------------------------


def test_round_trip(data_dir, params, saved):
    npz_path, json_path = saved
    assert re.fullmatch(r"AAPL\.[0-9a-f]{12}\.npz", npz_path.name)
    assert model_files(data_dir) == [npz_path.name, "AAPL.json"]

    got, meta = load_model(data_dir, TICKER)
    assert list(got) == list(PARAM_SHAPES(D, H, O))
    for name, a in params.items():
        assert got[name].dtype == np.float64
        assert got[name].flags.c_contiguous and got[name].flags.writeable
        assert got[name].tobytes() == a.tobytes(), name  # bit-identical

    assert {k: meta[k] for k in META} == META
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["shapes"] == {"D": D, "H": H, "O": O}
    assert meta["dtype"] == "float64"
    assert meta["weights_file"] == weights_name(npz_path.read_bytes())
    assert meta["weights_sha256"] == hashlib.sha256(npz_path.read_bytes()).hexdigest()
    assert meta["saved_at"].endswith("+00:00")
    assert json.loads(json_path.read_text()) == meta


def test_npz_is_plain_arrays_in_canonical_order(saved):
    with zipfile.ZipFile(saved[0]) as z:
        assert z.namelist() == [f"{n}.npy" for n in PARAM_SHAPES(D, H, O)]
    with np.load(saved[0], allow_pickle=False) as npz:  # loads without pickle
        assert npz["Whh"].shape == (H, H)


def test_loaded_arrays_are_copies_in_c_order(data_dir, params):
    fortran = {k: np.asfortranarray(v) for k, v in params.items()}
    save_model(data_dir, TICKER, fortran, META)
    got, _ = load_model(data_dir, TICKER)
    assert got["Wxh"].flags.c_contiguous
    np.testing.assert_array_equal(got["Wxh"], params["Wxh"])
    got["Wxh"][0, 0] = 99.0
    assert load_model(data_dir, TICKER)[0]["Wxh"][0, 0] == params["Wxh"][0, 0]


def test_same_weights_same_bytes(tmp_path, params, monkeypatch):
    """Reproducible: another save, at another clock time and memory layout, gives identical npz."""

    def weights(data_dir, params) -> bytes:
        save_model(data_dir, TICKER, params, META)
        (npz,) = models_dir(data_dir).glob("*.npz")
        return npz.read_bytes()

    first = weights(tmp_path / "a", params)
    later = time.time() + 10 * 365 * 86400
    monkeypatch.setattr(time, "time", lambda: later)  # zip entries must not carry the clock
    second = weights(tmp_path / "b", {k: np.asfortranarray(v) for k, v in params.items()})
    assert first == second
    assert model_files(tmp_path / "a") == model_files(tmp_path / "b")  # so the same name too
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_resave_replaces_model_and_removes_old_weights(data_dir, rng, saved):
    new = make_params(rng, H=4)
    save_model(data_dir, TICKER, new, {"seed": 1})
    got, meta = load_model(data_dir, TICKER)
    assert got["Whh"].shape == (4, 4) and meta["seed"] == 1 and "features" not in meta
    assert model_files(data_dir) == sorted([meta["weights_file"], "AAPL.json"])
    assert not saved[0].exists()


def test_resave_same_weights_keeps_one_file(data_dir, params, saved):
    save_model(data_dir, TICKER, params, {"seed": 1})
    assert model_files(data_dir) == [saved[0].name, "AAPL.json"]
    assert load_model(data_dir, TICKER)[1]["seed"] == 1


def test_save_removes_legacy_and_stale_weights_of_this_ticker_only(data_dir, params, rng):
    d = models_dir(data_dir)
    d.mkdir(parents=True)
    others = ["AAPL.json.bak", "AAPLX.0123456789ab.npz", "AAPL.0123456789AB.npz", "MSFT.npz"]
    for name in ["AAPL.npz", "AAPL.0123456789ab.npz", *others]:
        (d / name).write_bytes(b"old")
    save_model(data_dir, TICKER, params, META)
    npz = json.loads((d / "AAPL.json").read_text())["weights_file"]
    assert model_files(data_dir) == sorted([npz, "AAPL.json", *others])


@pytest.mark.parametrize("ticker", ["^GSPC", "BRK-B", "7203.T", "EURUSD=X"])
def test_round_trip_for_symbols_with_punctuation(data_dir, params, ticker):
    save_model(data_dir, ticker, params, META)
    assert load_model(data_dir, ticker)[1]["weights_file"].startswith(f"{ticker}.")


# --- save refuses programming errors before writing anything ----------------------------------


def _drop(p, name):
    return {k: v for k, v in p.items() if k != name}


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda p: _drop(p, "by"), "exactly"),
        (lambda p: {**p, "extra": np.zeros(1)}, "exactly"),
        (lambda p: {**p, "Why": p["Why"].astype(np.float32)}, "float64"),
        (lambda p: {**p, "bh": p["bh"].tolist()}, "float64"),
        (lambda p: {**p, "Whh": np.where(p["Whh"] > 0, np.nan, p["Whh"])}, "non-finite"),
        (lambda p: {**p, "by": np.full(O, np.inf)}, "non-finite"),
        (lambda p: {**p, "Whh": np.zeros((H, H + 1))}, "Whh has shape"),
        (lambda p: {**p, "bh": np.zeros(H + 1)}, "bh has shape"),
        (lambda p: {**p, "Why": np.zeros(O)}, "2-D"),
    ],
)
def test_save_rejects_bad_params(data_dir, params, mutate, words):
    with pytest.raises(ValueError, match=words):
        save_model(data_dir, TICKER, mutate(params), META)
    assert not models_dir(data_dir).exists()


@pytest.mark.parametrize(
    "meta, words",
    [
        ({"format_version": 2}, "may not set"),
        ({"weights_sha256": "x"}, "may not set"),
        ({"seed": np.int64(0)}, "JSON"),
        ({"when": object()}, "JSON"),
        ([1, 2], "dict"),
    ],
)
def test_save_rejects_bad_meta(data_dir, params, meta, words):
    with pytest.raises(ValueError, match=words):
        save_model(data_dir, TICKER, params, meta)
    assert not models_dir(data_dir).exists()


@pytest.mark.parametrize("fail_on", [".npz", ".json"])
def test_failed_save_keeps_previous_model(data_dir, rng, saved, monkeypatch, fail_on):
    """A save that dies inside either atomic write leaves the old model byte-identical."""
    before = {p: p.read_bytes() for p in saved}
    real_replace = os.replace

    def replace(src, dst):  # the temporary file is written and synced; the rename fails
        if str(dst).endswith(fail_on):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        save_model(data_dir, TICKER, make_params(rng), {"seed": 2})
    monkeypatch.undo()

    assert {p: p.read_bytes() for p in saved} == before
    assert not list(models_dir(data_dir).glob(".*"))  # no temporary files left
    assert load_model(data_dir, TICKER)[1]["seed"] == META["seed"]


def test_kill_between_npz_and_json_keeps_previous_model(data_dir, rng, saved, monkeypatch):
    """Killed after the new npz is written but before the JSON, with no cleanup code run after:
    the old JSON still names the old, untouched npz; the next successful save removes the new
    npz it left behind."""
    before = {p: p.read_bytes() for p in saved}
    killed = False
    real_write_bytes = checkpoint.atomic_write_bytes

    def write_bytes(path, data):
        assert not killed, "a killed process writes nothing more"
        real_write_bytes(path, data)

    def write_json(path, obj):
        nonlocal killed
        killed = True
        raise KeyboardInterrupt  # stands in for SIGKILL at the worst moment

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", write_bytes)
    monkeypatch.setattr(checkpoint, "atomic_write_json", write_json)
    new = make_params(rng)
    with pytest.raises(KeyboardInterrupt):
        save_model(data_dir, TICKER, new, {"seed": 2})
    monkeypatch.undo()

    assert {p: p.read_bytes() for p in saved} == before
    assert len(model_files(data_dir)) == 3  # the orphan npz is there, named by no JSON
    got, meta = load_model(data_dir, TICKER)
    assert meta["seed"] == META["seed"] and got["Whh"].tobytes() != new["Whh"].tobytes()

    save_model(data_dir, TICKER, new, {"seed": 3})
    meta = load_model(data_dir, TICKER)[1]
    assert meta["seed"] == 3
    assert model_files(data_dir) == sorted([meta["weights_file"], "AAPL.json"])


def test_failed_first_save_leaves_no_model(data_dir, params, monkeypatch):
    def failing(path, obj):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "atomic_write_json", failing)
    with pytest.raises(OSError):
        save_model(data_dir, TICKER, params, META)
    assert not (models_dir(data_dir) / "AAPL.json").exists()
    with pytest.raises(ForecastError, match="no model for AAPL"):
        load_model(data_dir, TICKER)


# --- load refuses bad files with one helpful line ---------------------------------------------


def test_missing_model(data_dir):
    with pytest.raises(ForecastError, match="^no model for AAPL; run `forecast train AAPL`$"):
        load_model(data_dir, TICKER)


def test_npz_without_json_is_no_model(data_dir, saved):
    saved[1].unlink()
    with pytest.raises(ForecastError, match="no model for AAPL"):
        load_model(data_dir, TICKER)


def test_missing_npz(data_dir, saved):
    saved[0].unlink()
    refused(data_dir, f"{saved[0].name} is missing")


def test_legacy_model_is_refused(data_dir, saved):
    """A format-1 model (weights in AAPL.npz) is refused with one line, not looked for."""
    saved[0].rename(saved[0].with_name("AAPL.npz"))
    edit_json(saved, format_version=1, weights_file="AAPL.npz")
    refused(data_dir, "format 1", "does not read")


def test_truncated_npz(data_dir, saved):
    data = saved[0].read_bytes()
    replace_npz(saved, data[: len(data) // 2], rehash=False)
    refused(data_dir, "checksum")


def test_truncated_npz_with_matching_hash_is_unreadable(data_dir, saved):
    data = saved[0].read_bytes()
    replace_npz(saved, data[: len(data) // 2], rehash=True)
    refused(data_dir, "cannot be read")


@pytest.mark.parametrize("data", [b"", b"garbage, not a zip", b"PK\x03\x04" + b"\0" * 40])
def test_garbage_npz_with_matching_hash_is_unreadable(data_dir, saved, data):
    replace_npz(saved, data, rehash=True)
    refused(data_dir, "cannot be read")


def test_bare_npy_is_not_an_npz(data_dir, saved):
    buf = io.BytesIO()
    np.save(buf, np.zeros(3))
    replace_npz(saved, buf.getvalue(), rehash=True)
    refused(data_dir, "cannot be read", "not a zip file")


def test_flipped_byte(data_dir, saved):
    data = bytearray(saved[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    replace_npz(saved, bytes(data), rehash=False)
    refused(data_dir, "checksum")


def test_replaced_weights(data_dir, rng, saved):
    replace_npz(saved, npz_bytes(make_params(rng)), rehash=False)
    refused(data_dir, "checksum")


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 99])
def test_newer_format(data_dir, saved, version):
    edit_json(saved, format_version=version)
    refused(data_dir, f"format {version}", "newer", "upgrade forecast")


@pytest.mark.parametrize("version", [0, FORMAT_VERSION - 1, "1", True, 1.0, None])
def test_other_format(data_dir, saved, version):
    edit_json(saved, format_version=version)
    refused(data_dir, "format", "does not read")


def test_json_without_format_version(data_dir, saved):
    meta = json.loads(saved[1].read_text())
    del meta["format_version"]
    saved[1].write_text(json.dumps(meta))
    refused(data_dir, "lacks format_version")


@pytest.mark.parametrize("field", ["shapes", "dtype", "weights_file", "weights_sha256"])
def test_json_missing_field(data_dir, saved, field):
    meta = json.loads(saved[1].read_text())
    del meta[field]
    saved[1].write_text(json.dumps(meta))
    refused(data_dir, f"lacks {field}")


@pytest.mark.parametrize(
    "shapes, words",
    [
        ({"D": D, "H": H + 1, "O": O}, "Wxh in"),
        ({"D": D + 1, "H": H, "O": O}, "Wxh in"),
        ({"D": D, "H": H, "O": O + 1}, "Why in"),
        ({"D": D, "H": H}, "shapes lacks O"),
        ({"D": D, "H": 0, "O": O}, "shapes.H is 0, outside [1, 1024]"),
        ({"D": D, "H": "5", "O": O}, "shapes.H is '5', not an integer"),
        ([D, H, O], "shapes is [3, 5, 2], not an object"),
    ],
)
def test_json_wrong_shapes(data_dir, saved, shapes, words):
    edit_json(saved, shapes=shapes)
    refused(data_dir, words)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("dtype", "float32", "dtype"),
        ("weights_sha256", 12, "weights_sha256"),
        ("weights_sha256", "0" * 63, "weights_sha256"),
        ("weights_sha256", "A" * 64, "weights_sha256"),
        ("weights_sha256", "g" * 64, "weights_sha256"),
    ],
)
def test_json_bad_field(data_dir, saved, field, value, words):
    edit_json(saved, **{field: value})
    refused(data_dir, words)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "../x.npz",
        "AAPL.npz/../..",
        "AAPL.npz",
        "BBB.0123456789ab.npz",  # another ticker's weights
        "AAPL.0123456789ab.npz",  # well-formed, but not the hash the JSON holds
        "AAPL.0123456789AB.npz",
        "/tmp/AAPL.0123456789ab.npz",
        "sub/AAPL.0123456789ab.npz",
        "",
        None,
        12,
        ["AAPL.0123456789ab.npz"],
    ],
)
def test_json_bad_weights_file(data_dir, saved, name):
    """Only the name save_model derives from the ticker and the hash is accepted."""
    edit_json(saved, weights_file=name)
    refused(data_dir, "names weights" if isinstance(name, str) else "weights_file is")


def test_json_bad_weights_file_that_exists(data_dir, saved):
    """Even a readable, well-formed npz is refused when the JSON's name is not the one it expects."""
    other = models_dir(data_dir) / "BBB.0123456789ab.npz"
    other.write_bytes(saved[0].read_bytes())
    edit_json(saved, weights_file=other.name)
    refused(data_dir, "names weights", "BBB.0123456789ab.npz")


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", '"a string"', "null"])
def test_garbage_json(data_dir, saved, text):
    saved[1].write_text(text)
    refused(data_dir, "AAPL.json")


def test_json_not_utf8(data_dir, saved):
    saved[1].write_bytes(b"\xff\xfe\x00garbage")
    refused(data_dir, "not readable JSON")


def test_wrong_dtype(data_dir, params, saved):
    replace_npz(saved, npz_bytes({**params, "Whh": params["Whh"].astype(np.float32)}), True)
    refused(data_dir, "Whh", "float32")


def test_missing_array(data_dir, params, saved):
    replace_npz(saved, npz_bytes(_drop(params, "by")), rehash=True)
    refused(data_dir, "holds arrays")


def test_extra_array(data_dir, params, saved):
    replace_npz(saved, npz_bytes({**params, "Wxx": np.zeros(2)}), rehash=True)
    refused(data_dir, "holds arrays", "Wxx")


def test_wrong_array_shape(data_dir, params, saved):
    replace_npz(saved, npz_bytes({**params, "Whh": params["Whh"][:, :-1]}), rehash=True)
    refused(data_dir, "Whh", "shape")


def test_object_array_is_not_unpickled(data_dir, params, saved):
    replace_npz(saved, npz_bytes({**params, "by": np.array([{}, 1], dtype=object)}), True)
    refused(data_dir, "by in", "is declared object (2,), expected float64 (2,)")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights(data_dir, params, saved, bad):
    Why = params["Why"].copy()
    Why[1, 2] = bad
    replace_npz(saved, npz_bytes({**params, "Why": Why}), rehash=True)
    refused(data_dir, "Why", "non-finite")


def test_an_ensemble_round_trips_with_a_member_axis_and_its_shapes_are_checked(data_dir, rng):
    """M members stacked on a leading axis: shapes carry M; a file whose JSON says another M
    than its arrays is refused like any other shape mismatch."""
    M = 3
    params = {k: rng.standard_normal(s) for k, s in PARAM_SHAPES(D, H, O, M).items()}
    json_path = save_model(data_dir, TICKER, params, META)
    meta = json.loads(json_path.read_text())
    assert meta["shapes"] == {"D": D, "H": H, "O": O, "M": M}
    got, _ = load_model(data_dir, TICKER)
    for k in params:
        np.testing.assert_array_equal(got[k], params[k])
    meta["shapes"]["M"] = 2
    json_path.write_text(json.dumps(meta))
    with pytest.raises(ForecastError, match="unusable"):
        load_model(data_dir, TICKER)
    with pytest.raises(ValueError, match="shape"):
        save_model(data_dir, TICKER, {**params, "bh": params["bh"][:2]}, META)


def test_a_gated_cells_weights_round_trip_and_other_block_counts_are_refused(data_dir, rng):
    """G = 3 blocks of rows (--cell gru) are saved as shapes.G and read back; an Elman model
    writes no G; 2 blocks is no cell and is refused before anything is written."""
    gru = {n: rng.standard_normal(s) for n, s in PARAM_SHAPES(D, H, O, G=3).items()}
    save_model(data_dir, TICKER, gru, META)
    got, meta = load_model(data_dir, TICKER)
    assert meta["shapes"] == {"D": D, "H": H, "O": O, "G": 3}
    assert got["Whh"].shape == (3 * H, H) and np.array_equal(got["Wxh"], gru["Wxh"])
    save_model(data_dir, "ELMAN", make_params(rng), META)
    assert "G" not in load_model(data_dir, "ELMAN")[1]["shapes"]
    before = model_files(data_dir)
    two = {n: rng.standard_normal(s) for n, s in PARAM_SHAPES(D, H, O, G=2).items()}
    with pytest.raises(ValueError, match="G 1 or 3"):
        save_model(data_dir, "TWO", two, META)
    assert model_files(data_dir) == before


def test_a_models_score_rows_take_one_line_each_and_read_back_exactly(data_dir, params, rng):
    """The calibration keeps ~540 x 20 scores: one line per day, not per number (json_text),
    and every float comes back bit for bit."""
    scores = np.round(rng.exponential(size=(540, 20)), 6).tolist()
    scores[-1][5:] = [None] * 15  # the last origins have no long-horizon outcome
    json_path = save_model(data_dir, TICKER, params, {**META, "calibration": {"scores": scores}})
    text = json_path.read_text()
    assert len(text.splitlines()) < 540 + 100
    _, meta = load_model(data_dir, TICKER)
    assert meta["calibration"]["scores"] == scores
