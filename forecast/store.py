"""What the data directory holds, ticker by ticker: trained models to list, files to remove.

Reads the JSON sidecars that forecast.prices and forecast.model.checkpoint write, without loading
prices or weights: `forecast models`, `forecast rm` and the "latest model" default need only
names, dates and sizes.

    <data dir>/prices/<TICKER>.json, <TICKER>.<hash>.csv   one ticker's cached prices
    <data dir>/models/<TICKER>.json, <TICKER>.<hash>.npz    one ticker's model
"""

import re
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from forecast import jsonfile
from forecast.config import models_dir, prices_dir
from forecast.errors import ForecastError
from forecast.files import lock_path, locked
from forecast.model import checkpoint
from forecast.prices import cache
from forecast.symbols import is_symbol
from forecast.text import printable


@dataclass(frozen=True)
class ModelInfo:
    """One trained model, as its JSON sidecar describes it (None where the sidecar lacks it)."""

    ticker: str
    path: Path  # the JSON sidecar
    trained_through: str | None  # last price day the model was fitted on
    saved_at: str | None  # ISO time of the save
    config: dict  # the TrainConfig it was trained with
    val_loss: float | None  # validation loss per step of the best epoch
    baseline_val_loss: float | None  # a random walk's on the same windows
    size: int  # bytes on disk: JSON and weights
    kind: str | None = None  # "global": one model over many tickers (forecast/model/globalmodel.py)
    tickers: tuple[str, ...] = ()  # a global model's series with validation days (it can serve)
    problem: str | None = None  # why it is no usable model (one line); None: it is one
    forecast_version: str | None = None  # the forecast version that trained it

    def to_json(self) -> dict:
        """What `models --json` prints for this model (README, "JSON output")."""
        return {
            "name": self.ticker,
            "kind": self.kind or "own",
            "trained_through": self.trained_through,
            "saved_at": self.saved_at,
            "val_loss": self.val_loss,
            "baseline_val_loss": self.baseline_val_loss,
            "skill": self.skill,
            "config": self.config,
            "tickers": list(self.tickers),
            "size": self.size,
            "forecast_version": self.forecast_version,
            "path": str(self.path),
        }

    @property
    def skill(self) -> float | None:
        """Validation loss minus the random walk's: below 0, the model did better."""
        if self.val_loss is None or self.baseline_val_loss is None:
            return None
        return self.val_loss - self.baseline_val_loss


def _text(x) -> str | None:
    """A string from a sidecar, safe to print (control characters escaped); else None."""
    return printable(x)[:40] if isinstance(x, str) else None


def _number(x) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def models(data_dir: Path) -> list[ModelInfo]:
    """Every model in the data directory, by ticker; unreadable sidecars listed with what is known."""
    d = models_dir(data_dir)
    out = []
    for json_path in sorted(d.glob("*.json")):
        ticker = json_path.stem
        meta, problem = checkpoint.checked_sidecar(data_dir, ticker)
        if problem is not None:  # what a corrupt file says of itself is not to be trusted
            try:
                meta = jsonfile.read_object(json_path)
            except (OSError, ValueError):  # unreadable or not a JSON object: listed by name
                meta = {}
            meta = {k: meta[k] for k in ("last_fit_date", "saved_at") if k in meta}
        weights = [p for p in _files(d, ticker, "npz") if p.suffix == ".npz"]
        losses = meta.get("losses") if isinstance(meta.get("losses"), dict) else {}
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        out.append(
            ModelInfo(
                ticker=printable(ticker),  # a file name: may hold control characters
                path=json_path,
                trained_through=_text(meta.get("last_fit_date")),
                saved_at=_text(meta.get("saved_at")),
                config=config,
                val_loss=_number(losses.get("val")),
                baseline_val_loss=_number(meta.get("baseline_val_loss")),
                size=sum(p.stat().st_size for p in [json_path, *weights]),
                kind=meta.get("kind"),
                tickers=_served(meta) if meta.get("kind") == "global" else (),
                problem=problem,
                forecast_version=_text((meta.get("versions") or {}).get("forecast"))
                if isinstance(meta.get("versions"), dict)
                else None,
            )
        )
    return out


def _served(meta: dict) -> tuple[str, ...]:
    """The tickers a global model's sidecar lists with validation windows: those it can
    calibrate bands for. Valid symbols only (a name read from disk never becomes "../x")."""
    windows = meta.get("windows")
    if not isinstance(windows, dict):
        return ()
    return tuple(
        t
        for t, w in windows.items()
        if isinstance(t, str) and is_symbol(t) and isinstance(w, dict) and _number(w.get("val"))
    )


def _saved(m: ModelInfo) -> tuple:
    """Sort key for "saved last": the sidecar's saved_at, then the file's time (same second)."""
    return (m.saved_at, m.path.stat().st_mtime_ns)


def model_for(data_dir: Path, ticker: str, infos: list[ModelInfo] | None = None):
    """The model `predict TICKER` uses: the newest saved of the ticker's own model and the
    global models that can serve it (None when there is neither). Newest, because what was
    trained last is what the user last asked for; `--model NAME` picks a global one.
    infos: models(data_dir) read once by a caller resolving many tickers."""
    mine = [
        m
        for m in (models(data_dir) if infos is None else infos)
        if m.problem is None
        and isinstance(m.saved_at, str)
        and (
            (m.kind != "global" and m.ticker == ticker)
            or (m.kind == "global" and ticker in m.tickers)
        )
    ]
    return max(mine, key=_saved, default=None)


def unusable_own_model(ticker: str, infos: list[ModelInfo]) -> ModelInfo | None:
    """The ticker's own model file when it is corrupt (a model of that name with a problem)."""
    return next((m for m in infos if m.ticker == ticker and m.problem is not None), None)


def model_choice(
    data_dir: Path, ticker: str, infos: list[ModelInfo] | None = None
) -> tuple[ModelInfo | None, str | None]:
    """model_for, and a one-line warning when a global model serves `ticker` only because the
    ticker's own model is corrupt: a model is never switched silently. infos as model_for's."""
    infos = models(data_dir) if infos is None else infos
    chosen = model_for(data_dir, ticker, infos)
    broken = unusable_own_model(ticker, infos)
    if chosen is None or chosen.kind != "global" or broken is None:
        return chosen, None
    return chosen, switch_warning(ticker, broken, chosen)


def is_own(model: str) -> bool:
    """--model own: the ticker's own model, whatever global models were trained later."""
    return model.strip().lower() == "own"


def switch_warning(ticker: str, broken: ModelInfo, chosen: ModelInfo) -> str:
    return (
        f"the model for {ticker} is unusable ({broken.problem}); forecasting with the global "
        f"model {chosen.ticker} instead; retrain with `forecast train {ticker}`"
    )


def latest_model(data_dir: Path) -> str:
    """The ticker whose model was saved last, for predict and backtest run without a ticker."""
    # a global model is not a ticker: predict without one means the last per-ticker model
    dated = [
        m
        for m in models(data_dir)
        if isinstance(m.saved_at, str) and m.kind != "global" and is_symbol(m.ticker)
    ]  # a name read from the disk is validated like one typed: never "../x"
    if not dated:
        raise ForecastError("no trained model yet; run `forecast train TICKER`")
    return max(dated, key=_saved).ticker


def _files(directory: Path, ticker: str, data_suffix: str) -> list[Path]:
    """`ticker`'s files in `directory`: its JSON, then its data files <T>.<hash12>.<suffix> (and
    <T>.<suffix> of older layouts), matched exactly: "BRK" never takes BRK.B's files.
    (forecast.prices.cache.files does the same for the price cache.)"""
    if not directory.is_dir():
        return []
    pattern = re.compile(re.escape(ticker) + r"(\.[0-9a-f]{12})?\." + re.escape(data_suffix))
    data = sorted(p for p in directory.iterdir() if pattern.fullmatch(p.name))
    return [p for p in [directory / f"{ticker}.json", *data] if p.is_file()]


def _refuse_linked_folders(data_dir: Path) -> None:
    """ForecastError if prices/ or models/ is a symbolic link: `rm` then deletes nothing.

    Deleting <link>/AAPL.json removes a file wherever the link points, outside the data
    directory too; the data directory itself may be a link (the user chose where it lives).
    """
    for folder in (prices_dir(data_dir), models_dir(data_dir)):
        if folder.is_symlink():
            raise ForecastError(
                f"{folder} is a symbolic link; forecast deletes nothing through a linked "
                "folder: replace the link with a real folder, or delete the files yourself"
            )


def ticker_files(ticker: str, data_dir: Path, *, prices: bool, models: bool) -> list[Path]:
    """The files `forecast rm` would delete for `ticker`: its cached prices and/or its model."""
    _refuse_linked_folders(data_dir)
    out = []
    if prices:
        out += cache.files(ticker, data_dir)  # the cache knows its own file names
    if models:
        out += _files(models_dir(data_dir), ticker, "npz")
    return out


def remove(ticker: str, data_dir: Path, paths: list[Path]) -> None:
    """Delete `ticker`'s files (from ticker_files), holding the locks its saves take, so no
    fetch or train of it is half-way through meanwhile. Each JSON goes before the data files
    it names: it is the commit point, so an interrupted remove leaves files that read as
    "not cached" / "no model", never as corrupt."""
    _refuse_linked_folders(data_dir)  # again: a link may have been made since ticker_files
    kinds = [kind for kind in ("prices", "models") if any(p.parent.name == kind for p in paths)]
    with ExitStack() as stack:
        for kind in kinds:
            stack.enter_context(
                locked(lock_path(data_dir, kind, ticker), f"the {kind} of {ticker}")
            )
        for p in sorted(paths, key=lambda p: p.suffix != ".json"):
            p.unlink(missing_ok=True)
