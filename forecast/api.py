"""The library's front door: one function per CLI command (train, predict), no terminal inside."""

import datetime as dt
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import calendar, checkpoint, prices
from forecast.config import MAX_HORIZON, TrainConfig
from forecast.errors import ForecastError
from forecast.features import split_days
from forecast.model import RNNForecaster
from forecast.train import Epoch

STALE_SESSIONS = 3  # cached prices older than this many sessions get a warning


def package_versions() -> dict:
    names = ["forecast", "numpy", "pandas", "numba", "scipy", "yfinance"]
    return {n: importlib.metadata.version(n) for n in names}


# --- train ---------------------------------------------------------------------------------------


@dataclass
class TrainReport:
    ticker: str
    path: Path
    model: RNNForecaster
    rows: int
    n_train: int  # training windows
    n_val: int  # validation windows
    baseline_val_loss: float  # what a random walk scores on the same validation windows


def train(
    ticker: str | None,
    data_dir: Path,
    config: TrainConfig,
    on_epoch: Callable[[Epoch], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> TrainReport:
    """Fit an RNN on the cached prices of `ticker` (default: the latest fetched) and save it.

    on_start is called once the inputs are checked, just before training begins.
    """
    config.validate()
    ticker = (
        prices.validate_symbol(ticker) if ticker is not None else prices.latest_ticker(data_dir)
    )
    frame = prices.load_prices(ticker, data_dir)
    # the split's own check, before training starts (and before the compile notice)
    split_days(len(frame) - 1, config.window, config.val_fraction)
    if on_start is not None:
        on_start()
    model = RNNForecaster(config).fit(frame, on_epoch=on_epoch)
    params, meta = model.to_checkpoint()
    meta.update(
        ticker=ticker,
        exchange=calendar.exchange_for(ticker),
        fingerprint=prices.fingerprint(frame),
        rows=len(frame),
        versions=package_versions(),
        seed=config.seed,
    )
    path = checkpoint.save_model(data_dir, ticker, params, meta)
    return TrainReport(
        ticker,
        path,
        model,
        len(frame),
        model.n_windows_[0],
        model.n_windows_[1],
        model.baseline_val_loss_,
    )


# --- predict -------------------------------------------------------------------------------------


@dataclass
class Prediction:
    ticker: str
    last_date: pd.Timestamp
    last_close: float
    loss: str  # the model's head
    table: pd.DataFrame  # indexed by trading date: median, lower/upper_80/95, p_up, coverage_80/95
    history: pd.Series  # the last 120 closes before the forecast, for the fan charts
    warnings: list[str] = field(default_factory=list)
    trained_through: str = ""

    def fan_series(self) -> dict:
        """The arrays a fan chart draws (fanchart.fan_chart and plot.write_fan_png take them)."""
        tb = self.table
        return {
            "history_dates": self.history.index,
            "history_closes": self.history.to_numpy(),
            "forecast_dates": tb.index,
            **{
                k: tb[k].to_numpy()
                for k in ("median", "lower_80", "upper_80", "lower_95", "upper_95")
            },
        }

    def to_json(self) -> dict:
        rows = []
        for date, r in self.table.iterrows():
            rows.append(
                {"date": date.strftime("%Y-%m-%d")}
                | {k: _json_number(r[k]) for k in self.table.columns}
            )
        return {
            "ticker": self.ticker,
            "last_date": self.last_date.strftime("%Y-%m-%d"),
            "last_close": self.last_close,
            "model": {"loss": self.loss, "trained_through": self.trained_through},
            "p_up_meaning": (
                "P(up that day)" if self.loss == "direction" else "P(close above last_close)"
            ),
            "forecasts": rows,
            "warnings": self.warnings,
        }


def _json_number(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def predict(
    ticker: str | None,
    data_dir: Path,
    days: int,
    n_paths: int = 2000,
    seed: int | None = None,
    today: dt.date | None = None,
) -> Prediction:
    """Forecast the next `days` trading sessions after the last cached date, with calibrated bands."""
    if not 1 <= days <= MAX_HORIZON:
        raise ForecastError(f"--days must be between 1 and {MAX_HORIZON}, got {days}")
    if not 100 <= n_paths <= 100_000:
        raise ForecastError(f"--paths must be between 100 and 100000, got {n_paths}")
    if seed is not None and not 0 <= seed < 2**32:
        raise ForecastError(f"--seed must be in [0, 2^32), got {seed}")
    ticker = (
        prices.validate_symbol(ticker) if ticker is not None else prices.latest_ticker(data_dir)
    )
    params, meta = checkpoint.load_model(data_dir, ticker)
    try:
        model = RNNForecaster.from_checkpoint(params, meta)
        fingerprint = str(meta["fingerprint"])
        exchange = str(meta.get("exchange") or calendar.exchange_for(ticker))
    except (ForecastError, KeyError, TypeError, ValueError, IndexError) as e:
        raise ForecastError(
            f"the model file for {ticker} is inconsistent ({e}); retrain with `forecast train {ticker}`"
        ) from None
    frame = prices.load_prices(ticker, data_dir)
    warnings = _freshness_warnings(
        ticker, frame, model, fingerprint, exchange, today or dt.date.today()
    )
    dates = calendar.next_trading_days(frame.index[-1], days, exchange)
    table = model.forecast(frame, days, dates=dates, n_paths=n_paths, seed=seed)
    return Prediction(
        ticker=ticker,
        last_date=frame.index[-1],
        last_close=float(frame["Adj Close"].iloc[-1]),
        loss=model.config.loss,
        table=table,
        history=frame["Adj Close"].iloc[-120:],  # the PNG shows 120 days, the terminal 60
        warnings=warnings,
        trained_through=meta["last_fit_date"],
    )


def _freshness_warnings(ticker, frame, model, fingerprint, exchange, today) -> list[str]:
    """Say when the cache is old, or no longer the data the model was trained on."""
    out = []
    last = frame.index[-1]
    behind = calendar.trading_days_between(last, pd.Timestamp(today), exchange)
    if behind > STALE_SESSIONS:
        out.append(
            f"cached {ticker} prices end {last:%Y-%m-%d}, {behind} trading days ago; "
            f"forecasts start from there (run `forecast fetch {ticker}` for newer prices)"
        )
    trained = frame.loc[: model.last_fit_date_]
    if (
        trained.empty
        or trained.index[-1] != model.last_fit_date_
        or prices.fingerprint(trained) != fingerprint
    ):
        out.append(
            f"the cached {ticker} prices differ from those the model was trained on "
            f"(new split or dividend adjustment, or another range?); run `forecast train {ticker}`"
        )
    elif len(frame) > len(trained):
        out.append(
            f"the model was trained through {model.last_fit_date_:%Y-%m-%d}; "
            f"{len(frame) - len(trained)} newer days are used as inputs only "
            f"(run `forecast train {ticker}` to learn from them)"
        )
    return out
