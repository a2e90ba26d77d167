"""What the data directory holds, ticker by ticker: trained models to list, files to remove.

Reads the JSON sidecars that forecast.prices and forecast.checkpoint write, without loading
prices or weights: `forecast models`, `forecast rm` and the "latest model" default need only
names, dates and sizes.

    <data dir>/prices/<TICKER>.csv, <TICKER>.json          one ticker's cached prices
    <data dir>/models/<TICKER>.json, <TICKER>.<hash>.npz    one ticker's model
"""

import re
from dataclasses import dataclass
from pathlib import Path

from forecast import jsonfile
from forecast.config import models_dir
from forecast.prices import cache
from forecast.errors import ForecastError


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
    kind: str | None = None  # "global": one model over many tickers (forecast/globalmodel.py)

    @property
    def skill(self) -> float | None:
        """Validation loss minus the random walk's: below 0, the model did better."""
        if self.val_loss is None or self.baseline_val_loss is None:
            return None
        return self.val_loss - self.baseline_val_loss


def _weights_pattern(ticker: str) -> re.Pattern:
    # exact: "BRK" must not match BRK.B's files, so no glob on "BRK.*"
    return re.compile(re.escape(ticker) + r"(\.[0-9a-f]{12})?\.npz")


def _number(x) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def models(data_dir: Path) -> list[ModelInfo]:
    """Every model in the data directory, by ticker; unreadable sidecars listed with what is known."""
    d = models_dir(data_dir)
    out = []
    for json_path in sorted(d.glob("*.json")):
        ticker = json_path.stem
        try:
            meta = jsonfile.read_object(json_path)
        except (OSError, ValueError):  # unreadable or not a JSON object: listed with its name
            meta = {}
        pattern = _weights_pattern(ticker)
        weights = [p for p in d.iterdir() if pattern.fullmatch(p.name)]
        losses = meta.get("losses") if isinstance(meta.get("losses"), dict) else {}
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        out.append(
            ModelInfo(
                ticker=ticker,
                path=json_path,
                trained_through=meta.get("last_fit_date"),
                saved_at=meta.get("saved_at"),
                config=config,
                val_loss=_number(losses.get("val")),
                baseline_val_loss=_number(meta.get("baseline_val_loss")),
                size=sum(p.stat().st_size for p in [json_path, *weights]),
                kind=meta.get("kind"),
            )
        )
    return out


def latest_model(data_dir: Path) -> str:
    """The ticker whose model was saved last, for predict and backtest run without a ticker."""
    # a global model is not a ticker: predict without one means the last per-ticker model
    dated = [m for m in models(data_dir) if isinstance(m.saved_at, str) and m.kind != "global"]
    if not dated:
        raise ForecastError("no trained model yet; run `forecast train TICKER`")
    return max(dated, key=lambda m: (m.saved_at, m.path.stat().st_mtime_ns)).ticker


def ticker_files(ticker: str, data_dir: Path, *, prices: bool, models: bool) -> list[Path]:
    """The files `forecast rm` would delete for `ticker`: its cached prices and/or its model."""
    out = []
    if prices:
        out += cache.files(ticker, data_dir)
    if models:
        d = models_dir(data_dir)
        out.append(d / f"{ticker}.json")
        if d.is_dir():
            pattern = _weights_pattern(ticker)
            out += sorted(p for p in d.iterdir() if pattern.fullmatch(p.name))
    return [p for p in out if p.is_file()]


def remove(paths: list[Path]) -> None:
    """Delete the files in an order that never leaves a half: each JSON (the commit point of a
    model or of cached prices) before the weights or CSV it names. Interrupted, what is left
    reads as "not there" rather than as corrupt."""

    def order(p: Path) -> int:
        return 0 if p.suffix == ".json" else 1

    for p in sorted(paths, key=order):
        p.unlink(missing_ok=True)
