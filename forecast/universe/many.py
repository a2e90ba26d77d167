"""Commands over a universe of tickers: the per-ticker work a worker does, and the row the parent keeps.

Each `*_one` function runs in a worker process (forecast.universe.jobs) on inputs the parent read for
it (the price frame, the saved model) and returns plain values: the worker never touches the
data directory, so it needs no shared file system. The parent writes what comes back
(`save_fit`), keeps one small `Row` per ticker for the summary, and drops the rest, so a
universe of hundreds of tickers costs the parent little memory.
"""

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import exports, pipeline, prices, store
from forecast.config import TrainConfig
from forecast.evaluation.backtest import run_backtest
from forecast.jsonfile import plain
from forecast.model import checkpoint, globalmodel
from forecast.model.heads import HEADS


@dataclass
class Row:
    """One ticker's line in a universe summary."""

    ticker: str
    status: str  # "ok" or "failed"
    seconds: float = 0.0
    error: str | None = None
    values: dict = field(default_factory=dict)  # what the command measured (see each *_row)
    table: object = None  # its long table for --export (forecast.exports), when one was asked for

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict:
        return (
            {"ticker": self.ticker, "status": self.status, "seconds": round(self.seconds, 3)}
            | ({"error": self.error} if self.error else {})
            | plain(self.values)
        )


def failed(ticker: str, error: str, seconds: float = 0.0) -> Row:
    return Row(ticker, "failed", seconds, error)


# --- train -------------------------------------------------------------------------------------


@dataclass
class Fit:
    """What a training worker returns: the checkpoint's params and meta, and the summary values."""

    params: dict[str, np.ndarray]
    meta: dict
    values: dict


def fit_one(ticker: str, frame: pd.DataFrame, cfg: TrainConfig) -> Fit:
    """Train one ticker's RNN on `frame`; everything the parent needs to save it and report it."""
    fitted = pipeline.fit_model(ticker, frame, cfg)
    model = fitted.model
    cov = model.calibration_.coverage
    values = {
        "val_loss": float(model.losses_["val"]),
        "random_walk": float(model.baseline_val_loss_),
        "coverage_80": float(cov[0, 0]),
        "coverage_95": float(cov[1, 0]),
        "epochs": len(model.history_),
    }
    return Fit(fitted.params, fitted.meta, values)


def save_fit(data_dir: Path, ticker: str, fit: Fit) -> Path:
    """Write a worker's model in the parent: weights, then the JSON (the commit point)."""
    return checkpoint.save_model(data_dir, ticker, fit.params, fit.meta)


# --- predict -----------------------------------------------------------------------------------


def predict_one(
    ticker: str,
    frame: pd.DataFrame,
    params: dict,
    meta: dict,
    days: int,
    n_paths: int,
    seed: int | None,
    today: dt.date,
    is_global: bool = False,
):
    """pipeline.Prediction for one ticker from a saved model (params, meta) and its prices: the
    ticker's own model, or a global model (`is_global`) that may not have seen it."""
    predict = pipeline.predict_global_frame if is_global else pipeline.predict_frame
    has_risk = HEADS[str(meta.get("config", {}).get("loss", "vol"))].has_distribution
    risk = {"var_levels": SCREEN_VAR_LEVELS if has_risk else None}
    pred = predict(ticker, frame, params, meta, days, n_paths, seed, today, **risk)
    return replace(pred, history=pred.history.iloc[-1:])  # a screen draws no fan chart


SCREEN_VAR_LEVELS = (0.975, 0.99)  # ES 97.5 (Basel's FRTB measure) and VaR 99 (its old one)


def screen_values(pred) -> dict:
    """A screen's columns: the day-1 sigma (annualised) and its ratio to the ticker's own
    realised one-year sigma, VaR 99% and ES 97.5% at the last forecast day; median return,
    P(up) and the band widths there."""
    last = pred.table.iloc[-1]
    first = pred.table.iloc[0]
    risk = {}
    if "var_99" in pred.table:
        risk = {"var_99": float(last["var_99"]), "es_97.5": float(last["es_97.5"])}
    return {
        "sigma": float(first["sigma_ann"]),
        "sigma_ratio": float(first["sigma"] / pred.sigma_1y),
        **risk,
        "zero_mean": pred.zero_mean,
        "last_date": f"{pred.last_date:%Y-%m-%d}",
        "last_close": pred.last_close,
        "date": f"{pred.table.index[-1]:%Y-%m-%d}",
        "median_return": float(last["median"] / pred.last_close - 1.0),
        "p_up": float(last["p_up"]),
        "band_80": float((last["upper_80"] - last["lower_80"]) / pred.last_close),
        "band_95": float((last["upper_95"] - last["lower_95"]) / pred.last_close),
        "coverage_80": float(last["coverage_80"]),
        "model": pred.trained_through,  # a date, or "NAME (global, cut DATE)"
        "model_name": pred.model_name,
        "model_kind": pred.model_kind,
        "warnings": list(pred.warnings),
        "forecasts": pred.to_json()["forecasts"],  # every day, not only the last
    }


# --- backtest ----------------------------------------------------------------------------------


def backtest_one(
    ticker: str, frame: pd.DataFrame, cfg: TrainConfig, options: dict, seed: int, keep=False
):
    """run_backtest's JSON summary for one ticker; the per-case arrays stay in the worker unless
    `keep` (--export): then its forecasts' long table comes back as "forecasts_table"."""
    result = run_backtest(frame, cfg, **options, seed=seed)
    summary = result.to_json()
    if keep:
        summary["forecasts_table"] = result.forecasts(ticker)
    return summary


def backtest_values(summary: dict) -> dict:
    """A universe backtest's columns, the RNN's at one day: CRPS and Winkler score (widest
    band) against the best yardstick's, 99% VaR exceedance rate and Basel zone; the relative
    MAE, DM p and coverage stay in the JSON."""
    rnn = summary["models"]["rnn"][0]
    basel = (summary.get("basel") or {}).get("rnn") or {}
    return {
        "origins": summary["origins"],
        "best_baseline": summary.get("best_baseline"),
        "crps_vs_best": rnn.get("crps_vs_best"),
        "dm_crps_p": rnn.get("dm_crps_p_value"),
        "winkler_vs_best": rnn.get("interval_score_vs_best"),
        "var_99_rate": rnn.get("var_99_rate"),
        "basel_zone": basel.get("zone"),
        "basel_exceptions": basel.get("exceptions"),
        "rel_mae": rnn.get("rel_mae"),
        "dm_p": rnn.get("dm_p_value"),
        "coverage_80": rnn.get("coverage_80"),
        "coverage_95": rnn.get("coverage_95"),
        "verdict": summary["verdict"],
        "risk_verdict": summary.get("risk_verdict"),
    }


# --- the parent's loops: read inputs as jobs are sent, keep one Row per ticker ------------------


def _row(outcome, values: dict) -> Row:
    return Row(str(outcome.key), "ok", outcome.seconds, values=values)


def _collect(outcomes, row_of, on_row) -> list[Row]:
    """One Row per job as it finishes: row_of(outcome) for a job that ran, else its failure;
    on_row hears each at once."""
    rows = []
    for o in outcomes:
        row = row_of(o) if o.ok else failed(o.key, o.error, o.seconds)
        on_row(row)
        rows.append(row)
    return rows


def train_universe(tickers, data_dir: Path, cfg: TrainConfig, runner, on_row) -> list[Row]:
    """Train every ticker's model on the runner's workers; the parent saves each as it arrives."""

    def args_for(ticker):
        return (ticker, prices.load_prices(ticker, data_dir), cfg)

    def saved(o) -> Row:
        try:
            path = save_fit(data_dir, o.key, o.value)
        except OSError as e:
            return failed(o.key, f"cannot save its model ({e.strerror or e})", o.seconds)
        return _row(o, o.value.values | {"path": str(path)})

    return _collect(runner.run(fit_one, tickers, args_for), saved, on_row)


def predict_universe(
    tickers,
    data_dir: Path,
    days,
    n_paths,
    seed,
    today,
    runner,
    on_row,
    global_name=None,
    keep=False,
) -> list[Row]:
    """Screen values per ticker, from the global model `global_name`, or else from the model
    `predict TICKER` would use (its own or a global one trained on it, the newest); with its
    forecast table (exports.prediction_table) when `keep`."""
    own = global_name is not None and store.is_own(global_name)  # never a global
    global_name = None if own else global_name
    loaded = {}  # global models by name, each read once
    choose = global_name is None and not own  # model_choice reads every sidecar, once
    infos = store.models(data_dir) if choose else []

    def global_args(name: str, ticker: str):
        if name not in loaded:
            loaded[name] = globalmodel.load_global(data_dir, name)
        frame = prices.load_prices(ticker, data_dir)
        return (ticker, frame, *loaded[name], days, n_paths, seed, today, True)

    def args_for(ticker):
        if global_name is not None:
            return global_args(global_name, ticker)
        chosen, switch = (None, None) if own else store.model_choice(data_dir, ticker, infos)
        if chosen is not None and chosen.kind == "global":
            if switch is not None:  # never switched silently: the row says so
                switched[ticker] = switch
            return global_args(chosen.ticker, ticker)
        frame = prices.load_prices(ticker, data_dir)
        params, meta = checkpoint.load_model(data_dir, ticker)
        return (ticker, frame, params, meta, days, n_paths, seed, today)

    def row_of(o) -> Row:
        values = screen_values(o.value)
        if o.key in switched:
            values["switched"] = switched[o.key]
        row = _row(o, values)
        if keep:
            row.table = exports.prediction_table(o.value)
        return row

    switched = {}  # ticker -> why a global model forecast it instead of its own
    outcomes = runner.run(predict_one, tickers, args_for)
    return _collect(outcomes, row_of, on_row)


def backtest_universe(
    tickers, data_dir: Path, cfg: TrainConfig, options: dict, seed: int, runner, on_row, keep=False
) -> list[Row]:
    """A walk-forward backtest per ticker on the runner's workers; one Row each (with its
    forecasts' long table when `keep`)."""

    def args_for(ticker):
        return (ticker, prices.load_prices(ticker, data_dir), cfg, options, seed, keep)

    def row_of(o) -> Row:
        table = o.value.pop("forecasts_table", None)
        row = _row(o, backtest_values(o.value))
        row.table = table
        return row

    outcomes = runner.run(backtest_one, tickers, args_for)
    return _collect(outcomes, row_of, on_row)
