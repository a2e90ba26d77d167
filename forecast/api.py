"""The library's front door: what each `forecast` command does, with no terminal inside.

Every CLI command calls the functions here and nothing else of the library. They take one
ticker (or one price frame) and return a result object; progress and notices leave through
callbacks, so a multi-ticker caller can run them in a loop, a pool or a notebook:

    on_status(text)     fetch: what the download is doing now
    on_epoch(Epoch)     train: one record per finished epoch
    on_fold(i, n)       backtest: refit i of n done (0 before the first)
    on_notice(text)     anything worth one line to the user (e.g. the first run compiles)
"""

import datetime as dt
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast import calendars, prices, store
from forecast.config import CAL_HORIZON, TrainConfig, check_range, plot_history_days
from forecast.errors import ForecastError
from forecast.model import checkpoint, kernels
from forecast.model.estimator import RNNForecaster
from forecast.model.features import check_features, split_days, usable_features
from forecast.model.heads import HEADS
from forecast.model.train import Epoch

if TYPE_CHECKING:  # imported when a backtest runs: its metrics are not needed to predict
    from forecast.evaluation.backtest import BacktestResult

STALE_SESSIONS = 3  # cached prices older than this many sessions get a warning
COMPILE_NOTICE = "compiling the Numba kernels (first run only, about 15 s)…"

Notice = Callable[[str], None] | None


def package_versions() -> dict:
    names = ["forecast", "numpy", "pandas", "numba", "scipy", "yfinance"]
    return {n: importlib.metadata.version(n) for n in names}


# --- prices --------------------------------------------------------------------------------------


def fetch(
    ticker: str,
    data_dir: Path,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    offline: bool = False,
    on_status: Notice = None,
    client: prices.Yahoo | None = None,
) -> prices.FetchResult:
    """Download (or update) one ticker's daily prices into the cache; see forecast.prices.fetch.

    client: one yahoo_client shared by the tickers of a command, so a network failure seen for
    one is remembered for the next.
    """
    return prices.fetch(
        ticker,
        data_dir,
        start=start,
        end=end,
        offline=offline,
        on_status=on_status,
        client=client,
    )


def yahoo_client() -> prices.Yahoo:
    """The Yahoo client one multi-ticker fetch shares."""
    return prices.Yahoo()


def validate_symbol(ticker: str) -> str:
    """The symbol upper-cased, or ForecastError saying what is wrong with it."""
    return prices.validate_symbol(ticker)


def import_csv(ticker: str, csv_path: Path, data_dir: Path) -> prices.FetchResult:
    """Import one ticker's prices from a CSV file into the cache."""
    return prices.import_csv(ticker, csv_path, data_dir)


def cached(data_dir: Path) -> list[dict]:
    """Every cached ticker: first, last, rows, source, fetched_at, stale."""
    return prices.list_cached(data_dir)


def load_prices(ticker: str, data_dir: Path) -> pd.DataFrame:
    """One ticker's cached prices (the schema of forecast.prices), checked against its sidecar."""
    return prices.load_prices(ticker, data_dir)


def latest_fetched(data_dir: Path) -> str:
    """The ticker fetched last: what `train` uses without a ticker."""
    return prices.latest_ticker(data_dir)


def latest_trained(data_dir: Path) -> str:
    """The ticker whose model was saved last: what `predict` and `backtest` use without one."""
    return store.latest_model(data_dir)


def _symbol(ticker: str | None, default: Callable[[Path], str], data_dir: Path) -> str:
    return prices.validate_symbol(ticker) if ticker is not None else default(data_dir)


# --- models on disk ------------------------------------------------------------------------------


def models(data_dir: Path) -> list[store.ModelInfo]:
    """Every trained model: ticker, trained through, options, validation loss vs random walk, size."""
    return store.models(data_dir)


def files_of(
    ticker: str, data_dir: Path, *, price_files: bool = True, model_files: bool = True
) -> list[Path]:
    """The files `remove` would delete for one ticker (its cached prices and/or its model)."""
    symbol = prices.validate_symbol(ticker)
    return store.ticker_files(symbol, data_dir, prices=price_files, models=model_files)


def remove(ticker: str, data_dir: Path, paths: list[Path]) -> None:
    """Delete one ticker's files listed by files_of, under the locks its saves take."""
    store.remove(prices.validate_symbol(ticker), data_dir, paths)


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


def compile_notice(on_notice: Notice) -> None:
    """Tell the user the kernels will compile when Numba's cache does not hold them yet."""
    if on_notice is not None and not kernels.is_cached():
        on_notice(COMPILE_NOTICE)


def fit(
    frame: pd.DataFrame,
    config: TrainConfig,
    on_epoch: Callable[[Epoch], None] | None = None,
    on_notice: Notice = None,
) -> RNNForecaster:
    """Fit an RNN on one price frame; the inputs are checked before the compile notice."""
    check_features(frame, config.features, config.loss)
    _, note = usable_features(frame, config.features, config.loss)
    if note and on_notice is not None:
        on_notice(note)
    split_days(len(frame) - 1, config.window, config.val_fraction)  # enough days for the window
    compile_notice(on_notice)
    return RNNForecaster(config).fit(frame, on_epoch=on_epoch)


def provenance(ticker: str, frame: pd.DataFrame, config: TrainConfig) -> dict:
    """What a model file records besides its weights: where its prices came from and with what."""
    return {
        "ticker": ticker,
        "exchange": calendars.exchange_for(ticker),
        "fingerprint": prices.fingerprint(frame),
        "rows": len(frame),
        "versions": package_versions(),
        "seed": config.seed,
    }


def train(
    ticker: str | None,
    data_dir: Path,
    config: TrainConfig,
    on_epoch: Callable[[Epoch], None] | None = None,
    on_notice: Notice = None,
) -> TrainReport:
    """Fit an RNN on the cached prices of `ticker` (default: the latest fetched) and save it."""
    ticker = _symbol(ticker, latest_fetched, data_dir)
    frame = prices.load_prices(ticker, data_dir)
    model = fit(frame, config, on_epoch, on_notice)
    params, meta = model.to_checkpoint()
    meta.update(provenance(ticker, frame, config))
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
    history: pd.Series  # every cached close (Adj Close) up to last_date; charts take their tail
    warnings: list[str] = field(default_factory=list)
    trained_through: str = ""
    currency: str | None = None  # when the price source said
    calibrated_days: int = CAL_HORIZON  # horizons with their own conformal factor

    @property
    def p_up_label(self) -> str:
        return HEADS[self.loss].p_up_label

    def fan_series(self, history_days: int | None = None) -> dict:
        """The arrays a fan chart draws (fanchart.fan_chart and plot.write_fan take them)."""
        tb = self.table
        h = self.history if history_days is None else self.history.iloc[-history_days:]
        return {
            "history_dates": h.index,
            "history_closes": h.to_numpy(),
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
            "currency": self.currency,
            "model": {"loss": self.loss, "trained_through": self.trained_through},
            "p_up_meaning": HEADS[self.loss].p_up_meaning,
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
    """Forecast the next `days` trading sessions after the last cached date, with calibrated bands.

    Without a ticker: the one whose model was trained last. The model: the newest saved of
    the ticker's own and the global models trained on it (store.model_for).
    """
    check_range("days", days)
    check_range("paths", n_paths)
    if seed is not None:
        check_range("seed", seed)
    ticker = _symbol(ticker, latest_trained, data_dir)
    chosen, switched = store.model_choice(data_dir, ticker)
    if chosen is not None and chosen.kind == "global":
        pred = predict_global(ticker, data_dir, chosen.ticker, days, n_paths, seed, today)
        pred.warnings[:0] = [switched] if switched else []
        return pred
    params, meta = checkpoint.load_model(data_dir, ticker)
    frame = prices.load_prices(ticker, data_dir)
    pred = predict_frame(ticker, frame, params, meta, days, n_paths, seed, today)
    pred.currency = _currency(ticker, data_dir)
    return pred


def predict_frame(
    ticker: str,
    frame: pd.DataFrame,
    params: dict,
    meta: dict,
    days: int,
    n_paths: int = 2000,
    seed: int | None = None,
    today: dt.date | None = None,
) -> Prediction:
    """predict() for a saved model (params, meta) and prices already in memory: what a worker
    with no access to the data directory runs."""
    try:
        model = RNNForecaster.from_checkpoint(params, meta)
        fingerprint = str(meta["fingerprint"])
        exchange = str(meta.get("exchange") or calendars.exchange_for(ticker))
    except (ForecastError, KeyError, TypeError, ValueError, IndexError) as e:
        raise ForecastError(
            f"the model file for {ticker} is inconsistent ({e}); retrain with `forecast train {ticker}`"
        ) from None
    warnings = _freshness_warnings(
        ticker, frame, model, fingerprint, exchange, today or dt.date.today()
    )
    return _prediction(
        ticker, frame, model, exchange, days, n_paths, seed, warnings, meta["last_fit_date"]
    )


def predict_global_frame(
    ticker: str,
    frame: pd.DataFrame,
    params: dict,
    meta: dict,
    days: int,
    n_paths: int = 2000,
    seed: int | None = None,
    today: dt.date | None = None,
) -> Prediction:
    """predict_frame() with a global model (params, meta), for a ticker it saw or not."""
    from forecast.model import globalmodel

    model = globalmodel.for_ticker(params, meta, ticker, frame)
    exchange = calendars.exchange_for(ticker)
    warnings = _stale_warnings(ticker, frame, exchange, today or dt.date.today())
    trained = f"{meta['name']} (global, cut {meta['cut_date']})"
    return _prediction(ticker, frame, model, exchange, days, n_paths, seed, warnings, trained)


def _prediction(ticker, frame, model, exchange, days, n_paths, seed, warnings, trained_through):
    table = forecast(model, frame, days, exchange, n_paths=n_paths, seed=seed)
    return Prediction(
        ticker=ticker,
        last_date=frame.index[-1],
        last_close=float(frame["Adj Close"].iloc[-1]),
        loss=model.config.loss,
        table=table,
        history=frame["Adj Close"],
        warnings=warnings,
        trained_through=trained_through,
        calibrated_days=model.calibration_.horizon,
    )


def forecast(
    model: RNNForecaster,
    frame: pd.DataFrame,
    days: int,
    exchange: str = "XNYS",
    n_paths: int = 2000,
    seed: int | None = None,
) -> pd.DataFrame:
    """A fitted model's forecast from the last day of one price frame, indexed by the next
    `days` sessions of `exchange` (a MIC, e.g. calendars.exchange_for(ticker)): median,
    lower/upper_80/95, p_up, coverage_80/95."""
    dates = calendars.next_trading_days(frame.index[-1], days, exchange)
    return model.forecast(frame, days, dates=dates, n_paths=n_paths, seed=seed)


def _currency(ticker: str, data_dir: Path) -> str | None:
    """The currency the price source recorded, if it did."""
    try:
        value = prices.read_provenance(ticker, data_dir).get("currency")
    except ForecastError:
        return None
    return value if isinstance(value, str) and value else None


def _stale_warnings(ticker, frame, exchange, today) -> list[str]:
    """Say when the cached prices end more than STALE_SESSIONS sessions before today."""
    last = frame.index[-1]
    behind = calendars.trading_days_between(last, pd.Timestamp(today), exchange)
    if behind <= STALE_SESSIONS:
        return []
    return [
        f"cached {ticker} prices end {last:%Y-%m-%d}, {behind} trading days ago; "
        f"forecasts start from there (run `forecast fetch {ticker}` for newer prices)"
    ]


def _freshness_warnings(ticker, frame, model, fingerprint, exchange, today) -> list[str]:
    """Say when the cache is old, or no longer the data the model was trained on."""
    out = _stale_warnings(ticker, frame, exchange, today)
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


def _latest_for_backtest(data_dir: Path) -> str:
    """The latest trained model's ticker; with no model yet, the latest fetched (a backtest
    trains its own models, so it needs only prices)."""
    try:
        return latest_trained(data_dir)
    except ForecastError:  # no model yet
        return latest_fetched(data_dir)


# --- backtest ------------------------------------------------------------------------------------


@dataclass
class BacktestReport:
    ticker: str
    result: "BacktestResult"

    def to_json(self) -> dict:
        return {"ticker": self.ticker, **self.result.to_json()}


def backtest(
    ticker: str | None,
    data_dir: Path,
    config: TrainConfig,
    *,
    on_fold: Callable[[int, int], None] | None = None,
    on_notice: Notice = None,
    **options,
) -> BacktestReport:
    """Walk-forward test of one ticker (default: the latest trained model's); `options` go to
    forecast.evaluation.backtest.run_backtest (horizon, refit_every, test_days, n_paths, seed, ...)."""
    from forecast.evaluation.backtest import run_backtest

    ticker = _symbol(ticker, _latest_for_backtest, data_dir)
    frame = prices.load_prices(ticker, data_dir)
    check_features(frame, config.features, config.loss)

    def fold(i: int, n: int) -> None:
        if i == 0:  # the options are checked: the first fit comes next
            compile_notice(on_notice)
        if on_fold is not None:
            on_fold(i, n)

    import warnings

    with warnings.catch_warnings():
        # constant prices make some scores 0/0, shown as nan or –: no raw NumPy warnings on top
        warnings.simplefilter("ignore", RuntimeWarning)
        result = run_backtest(frame, config, on_fold=fold, **options)
    return BacktestReport(ticker, result)


def check_export_path(path: Path, data_dir: Path | None = None) -> Path:
    """Refuse, before any work, an export path that is a folder, has no folder, is no file to
    write (a socket, a block device) or lies inside the data directory (files.check_output)."""
    from forecast.files import check_output

    return check_output(path, "--export", data_dir)


def export_backtest(report: BacktestReport, path: Path) -> int:
    """Every forecast of a backtest to one CSV (BacktestResult.forecasts), written atomically;
    returns the number of rows."""
    return report.result.write_forecasts_csv(path, report.ticker)


# --- charts --------------------------------------------------------------------------------------


def check_plot_path(path: Path, data_dir: Path | None = None) -> Path:
    """Refuse a chart file name before any work: unknown extension, a missing folder, no file
    to write, or a path inside the data directory."""
    from forecast import plot

    return plot.check_path(path, data_dir)


def plot_prediction(pred: Prediction, path: Path, history_days: int | None = None) -> Path:
    """The fan chart of a prediction as .png, .svg or .pdf (by the extension); returns the path."""
    from forecast import plot

    days = history_days or plot_history_days(len(pred.table))
    title = (
        f"{pred.ticker}: {len(pred.table)}-day forecast from the close of {pred.last_date:%Y-%m-%d}"
    )
    if pred.currency:
        title += f" ({pred.currency})"
    return plot.write_fan(
        path,
        **pred.fan_series(days),
        title=title,
        history_days=days,
        currency=pred.currency,
    )


def plot_backtest(report: BacktestReport, path: Path) -> Path:
    """The RNN's past forecasts with their bands against what happened, and coverage by horizon."""
    from forecast import plot
    from forecast.model.estimator import LEVELS

    result, cases = report.result, report.result.cases
    n, h = cases.y.shape
    dates = getattr(cases, "target_dates", None)
    if dates is not None:
        target = pd.DatetimeIndex(np.asarray(dates)[:, h - 1])
    else:  # origins are consecutive sessions: origin j's day h is origin j + h
        origins = pd.DatetimeIndex(result.origins)
        target = origins[h:].append(pd.DatetimeIndex([pd.NaT] * min(h, n)))[:n]
    y = cases.y[:, h - 1]
    ok = np.isfinite(y) & ~target.isna()
    coverage = {
        model: {L: np.array([r[f"coverage_{round(L * 100)}"] for r in rows], float) for L in LEVELS}
        for model, rows in result.metrics.items()
    }
    first, last = result.origins[0], result.origins[-1]
    return plot.write_backtest(
        path,
        target[ok],
        realised=y[ok],
        median=cases.point["rnn"][ok, h - 1],
        bands={
            L: (cases.lower["rnn", L][ok, h - 1], cases.upper["rnn", L][ok, h - 1]) for L in LEVELS
        },
        coverage=coverage,
        title=f"{report.ticker}: RNN {h}-day forecasts from {first:%Y-%m-%d} .. {last:%Y-%m-%d}, "
        "and coverage by horizon",
    )


# --- universes: many tickers per command, one global model (forecast/universe/tickers.py, jobs.py, -------
# --- many.py, panel.py, globalmodel.py) ----------------------------------------------------------


def universe(tickers: list[str] | None, universe_file: Path | None):
    """The tickers of a command line plus a --universe file (forecast.universe.tickers.Universe)."""
    from forecast.universe.tickers import resolve

    return resolve(tickers, universe_file)


def runner(jobs: int | None = None, scheduler: str | None = None):
    """A forecast.universe.jobs.Runner: `jobs` local processes, or the Dask scheduler at `scheduler`
    (else $FORECAST_SCHEDULER); use it as a context manager."""
    from forecast.universe.jobs import Runner, scheduler_address

    return Runner(jobs=jobs, scheduler=scheduler_address(scheduler))


def train_many(tickers, data_dir: Path, config: TrainConfig, runner, on_row, on_notice=None):
    """Train one model per ticker on the runner's workers; on_row(many.Row) as each finishes."""
    from forecast.universe import many

    compile_notice(on_notice)
    return many.train_universe(tickers, data_dir, config, runner, on_row)


def predict_many(tickers, data_dir, days, n_paths, seed, runner, on_row, model=None, today=None):
    """Screen values per ticker (median return, P(up), band width) from its own model or from
    the global model `model`."""
    from forecast.universe import many

    check_range("days", days)
    check_range("paths", n_paths)
    today = today or dt.date.today()
    return many.predict_universe(
        tickers, data_dir, days, n_paths, seed, today, runner, on_row, model=model
    )


def backtest_many(tickers, data_dir, config, runner, on_row, *, seed=0, **options):
    """A walk-forward backtest per ticker on the runner's workers; one many.Row each."""
    from forecast.universe import many

    return many.backtest_universe(tickers, data_dir, config, options, seed, runner, on_row)


DEFAULT_GLOBAL = "GLOBAL"


def default_global_name(universe_file: Path | None) -> str:
    """The name several tickers' global model is saved under without --global NAME: the
    universe file's name (watchlist.txt -> WATCHLIST) when it makes a valid one, else GLOBAL."""
    if universe_file is not None:
        try:
            return prices.validate_symbol(Path(universe_file).stem)
        except ForecastError:
            pass
    return DEFAULT_GLOBAL


@dataclass
class GlobalReport:
    name: str
    path: Path
    fit: object  # forecast.model.globalmodel.GlobalFit
    failed: dict  # ticker -> why it is not in the model


def train_global(
    name: str,
    tickers: list[str],
    data_dir: Path,
    config: TrainConfig,
    on_epoch: Callable[[Epoch], None] | None = None,
    on_notice: Notice = None,
) -> GlobalReport:
    """One RNN on the windows of all `tickers`, saved as model `name`.

    Reads the prices twice (dates first, for the calendar cut; then one frame at a time into
    the panel), so a large universe never has all its frames in memory at once.
    """
    from forecast.model import globalmodel
    from forecast.model.panel import default_cut

    try:
        name = prices.validate_symbol(name)
    except ForecastError as e:  # a model name is spelled like a symbol: say which name it was
        raise ForecastError(f"--global {name!r} is no model name: {e}") from None
    globalmodel.check_name(data_dir, name)  # before the training, not after it
    if not tickers:
        raise ForecastError(
            f"--global {name} trains on many tickers; give them, or --universe FILE"
        )
    failed, dates = {}, []
    for t in tickers:
        try:
            dates.append(prices.load_prices(t, data_dir).index[1:])
        except ForecastError as e:
            failed[t] = str(e)
    usable = [t for t in tickers if t not in failed]
    if not usable:
        raise ForecastError(f"no ticker of the global model {name} has cached prices")
    cut = default_cut(dates, config.window, config.val_fraction)
    compile_notice(on_notice)
    frames = ((t, prices.load_prices(t, data_dir)) for t in usable)
    fit = globalmodel.fit_global(name, frames, config, cut=cut, on_epoch=on_epoch)
    failed |= fit.panel.skipped
    path = globalmodel.save_global(data_dir, fit)
    return GlobalReport(name, path, fit, failed)


def predict_global(
    ticker: str,
    data_dir: Path,
    model: str,
    days: int,
    n_paths: int = 2000,
    seed: int | None = None,
    today: dt.date | None = None,
) -> Prediction:
    """predict() with the global model `model`, for any ticker with prices on both sides of
    its cut date."""
    from forecast.model import globalmodel

    check_range("days", days)
    check_range("paths", n_paths)
    ticker = prices.validate_symbol(ticker)
    params, meta = globalmodel.load_global(data_dir, model)
    frame = prices.load_prices(ticker, data_dir)
    pred = predict_global_frame(ticker, frame, params, meta, days, n_paths, seed, today)
    pred.currency = _currency(ticker, data_dir)
    return pred


def backtest_global(
    ticker: str,
    data_dir: Path,
    model: str,
    *,
    on_fold: Callable[[int, int], None] | None = None,
    on_notice: Notice = None,
    **options,
) -> BacktestReport:
    """Walk-forward test of the global model `model` on `ticker`: each refit trains it again on
    all its tickers' prices cut at the fold's first origin date, with its saved options."""
    from forecast.evaluation.backtest import run_backtest
    from forecast.model import globalmodel

    ticker = prices.validate_symbol(ticker)
    _, meta = globalmodel.load_global(data_dir, model)
    config = globalmodel.config_of(meta)
    frame = prices.load_prices(ticker, data_dir)
    others = {}
    for t in meta["tickers"]:
        if t != ticker:
            try:
                others[t] = prices.load_prices(t, data_dir)
            except ForecastError as e:
                if on_notice is not None:
                    on_notice(f"{t} left out of the refits: {e}")
    fit = globalmodel.refit_for_backtest(model, others, ticker, config)

    def fold(i: int, n: int) -> None:
        if i == 0:
            compile_notice(on_notice)
        if on_fold is not None:
            on_fold(i, n)

    result = run_backtest(frame, config, on_fold=fold, fit=fit, **options)
    return BacktestReport(ticker, result)
