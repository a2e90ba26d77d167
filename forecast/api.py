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
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast import exports, pipeline, prices, store
from forecast.catalog import cached, files_of, models, remove
from forecast.config import TrainConfig, check_range, plot_history_days, resolve_data_dir
from forecast.errors import ForecastError
from forecast.model import checkpoint, globalmodel, summary
from forecast.model.estimator import RNNForecaster, percent
from forecast.model.features import check_features
from forecast.model.panel import default_cut
from forecast.model.summary import Summary
from forecast.model.train import Epoch
from forecast.pipeline import (  # the in-memory use cases, part of this door too
    FittedModel,
    Notice,
    Prediction,
    compile_notice,
    fit,
    fit_model,
    forecast,
    provenance,
)
from forecast.store import is_own
from forecast.universe.jobs import Runner, scheduler_address
from forecast.universe.tickers import resolve

__all__ = [  # the door's face: what the CLI, notebooks and scripts may use
    "backtest",
    "backtest_frame",
    "backtest_global",
    "backtest_many",
    "BacktestReport",
    "cached",
    "check_export_path",
    "check_plot_path",
    "check_replace",
    "compile_notice",
    "DEFAULT_GLOBAL",
    "default_global_name",
    "export_backtest",
    "export_prediction",
    "export_rows",
    "fetch",
    "files_of",
    "fit",
    "fit_model",
    "FittedModel",
    "forecast",
    "ForecastError",
    "Plan",
    "many_error",
    "plan",
    "GlobalReport",
    "import_csv",
    "import_csvs",
    "is_own",
    "latest_fetched",
    "latest_trained",
    "load_prices",
    "models",
    "plot_backtest",
    "plot_prediction",
    "predict",
    "predict_global",
    "predict_many",
    "Prediction",
    "provenance",
    "remove",
    "risk",
    "RNNForecaster",
    "runner",
    "train",
    "train_global",
    "train_many",
    "TrainConfig",
    "TrainReport",
    "universe",
    "validate_symbol",
    "yahoo_client",
]

if TYPE_CHECKING:  # imported when a backtest runs: its metrics are not needed to predict
    from forecast.evaluation.backtest import BacktestResult  # arch and scipy: see run_backtest


# --- the data directory: a str, a Path, or None for the user's ---------------------------------


def _data_dir(fn):
    """Let `fn` take data_dir as a str or a Path, or leave it out (None) for the user's data
    directory, found as the CLI finds it: $FORECAST_DATA_DIR, else the per-user one."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def with_data_dir(*args, **kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        bound.arguments["data_dir"] = resolve_data_dir(bound.arguments.get("data_dir"))
        return fn(*bound.args, **bound.kwargs)

    return with_data_dir


# --- prices --------------------------------------------------------------------------------------


@_data_dir
def fetch(
    ticker: str,
    data_dir: str | Path | None = None,
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


@_data_dir
def import_csv(
    ticker: str,
    csv_path: str | Path,
    data_dir: str | Path | None = None,
    exchange: str | None = None,
    currency: str | None = None,
) -> prices.FetchResult:
    """Import one ticker's prices from a CSV file into the cache; `exchange` (an
    exchange_calendars code such as XLON) and `currency` (ISO 4217) are kept with them and
    used for every forecast's dates and labels (default: the exchange the ticker's Yahoo
    suffix names, no currency)."""
    exchange, currency = _market(exchange, currency)
    return prices.import_csv(ticker, csv_path, data_dir, exchange, currency)


@_data_dir
def import_csvs(
    paths: list[str | Path],
    data_dir: str | Path | None = None,
    *,
    ticker: str | None = None,
    exchange: str | None = None,
    currency: str | None = None,
    workers: int | None = None,
) -> tuple[list[prices.FetchResult], dict[str, str]]:
    """Import several CSV files, folders of them (each ticker from its file name) or long files
    (a ticker column), in parallel: (results, {file: why it failed}); one bad file does not
    stop the others. `ticker` names the ticker of a single file."""
    from forecast.prices import bulk

    exchange, currency = _market(exchange, currency)
    items, failures = bulk.sources([Path(p) for p in paths], ticker)
    results, failed = bulk.import_all(items, data_dir, exchange, currency, workers)
    return results, failures | failed


def _market(exchange: str | None, currency: str | None) -> tuple[str | None, str | None]:
    """Checked exchange and currency codes (ForecastError for unknown ones)."""
    from forecast.calendars import check_exchange
    from forecast.symbols import check_currency

    return (
        check_exchange(exchange) if exchange else None,
        check_currency(currency) if currency else None,
    )


@_data_dir
def load_prices(ticker: str, data_dir: str | Path | None = None) -> pd.DataFrame:
    """One ticker's cached prices (the schema of forecast.prices), checked against its sidecar."""
    return prices.load_prices(ticker, data_dir)


@_data_dir
def latest_fetched(data_dir: str | Path | None = None) -> str:
    """The ticker fetched last: what `train` uses without a ticker."""
    return prices.latest_ticker(data_dir)


@_data_dir
def latest_trained(data_dir: str | Path | None = None) -> str:
    """The ticker whose model was saved last: what `predict` and `backtest` use without one."""
    return store.latest_model(data_dir)


def _symbol(ticker: str | None, default: Callable[[Path], str], data_dir: Path) -> str:
    return prices.validate_symbol(ticker) if ticker is not None else default(data_dir)


# --- models on disk: forecast.catalog (cached, models, files_of, remove), light for the CLI ----


# --- train ---------------------------------------------------------------------------------------


@dataclass
class TrainReport:
    """What train() did: the saved model file (path), the fitted model, and the sizes and random-walk loss it was judged by; to_json() is `train --json`."""

    ticker: str
    path: Path
    model: RNNForecaster
    rows: int
    n_train: int  # training windows
    n_val: int  # validation windows
    baseline_val_loss: float  # what a random walk scores on the same validation windows
    summary: Summary  # what a display shows: forecast.model.summary

    def to_json(self) -> dict:
        """What `train --json` prints for one ticker's model (README, "JSON output")."""
        from forecast import __version__
        from forecast.jsonfile import plain

        m = self.model
        cov = m.calibration_.coverage
        return plain(
            {
                "name": self.ticker,
                "kind": "own",
                "trained_through": f"{m.last_fit_date_:%Y-%m-%d}",
                "rows": self.rows,
                "windows": {"train": self.n_train, "val": self.n_val},
                "val_loss": float(m.losses_["val"]),
                "baseline_val_loss": float(self.baseline_val_loss),
                "coverage": {"80": float(cov[0, 0]), "95": float(cov[1, 0])},
                "config": m.config.to_dict(),
                "forecast_version": __version__,
                "path": str(self.path),
            }
        )


def _saved_tickers(data_dir: Path, name: str) -> tuple[str, list[str]] | None:
    """(kind, tickers) of the model saved as `name`, or None when there is none or it is
    corrupt (a corrupt model of either kind is replaced: checkpoint.sidecar_problem). A global
    model's tickers include those it skipped: the set it was asked to train on."""
    meta, problem = checkpoint.checked_sidecar(data_dir, name)
    if problem is not None:
        return None
    if not globalmodel.is_global(meta):
        return "own", [name]
    tickers = meta.get("tickers") if isinstance(meta.get("tickers"), list) else []
    skipped = meta.get("skipped") if isinstance(meta.get("skipped"), dict) else {}
    return "global", sorted({str(t) for t in tickers} | {str(t) for t in skipped})


@_data_dir
def check_replace(
    data_dir: str | Path | None, name: str, tickers: list[str], force: bool = False
) -> None:
    """Refuse, before training, to replace the model saved as `name` with one over another set
    of tickers (a global model of four tickers by one of two, a global model by a ticker's own)
    unless `force`: a command that names other tickers should not silently undo a model."""
    saved = _saved_tickers(Path(data_dir), name)
    if force or saved is None or set(saved[1]) == set(tickers):
        return
    kind, before = saved
    what = (
        f"the global model {name} of {', '.join(before)}"
        if kind == "global"
        else (f"{name}'s own model")
    )
    raise ForecastError(
        f"{name} is {what}; training it on {', '.join(tickers)} would replace it: "
        "add --force to replace it, or save the new model under another --global NAME"
    )


@_data_dir
def train(
    ticker: str | None = None,
    data_dir: str | Path | None = None,
    config: TrainConfig | None = None,
    on_epoch: Callable[[Epoch], None] | None = None,
    on_notice: Notice = None,
    force: bool = False,
) -> TrainReport:
    """Fit an RNN on the cached prices of `ticker` (default: the latest fetched) and save it;
    a global model saved under the same name is replaced only with `force`."""
    config = config or TrainConfig()
    ticker = _symbol(ticker, latest_fetched, data_dir)
    check_replace(data_dir, ticker, [ticker], force)
    frame = prices.load_prices(ticker, data_dir)
    fitted = pipeline.fit_model(ticker, frame, config, on_epoch, on_notice)
    model = fitted.model
    path = checkpoint.save_model(data_dir, ticker, fitted.params, fitted.meta)
    return TrainReport(
        ticker,
        path,
        model,
        len(frame),
        model.n_windows_[0],
        model.n_windows_[1],
        model.baseline_val_loss_,
        summary.of_estimator(model, ticker, len(frame), path),
    )


# --- predict -------------------------------------------------------------------------------------


@_data_dir
def predict(
    ticker: str | None = None,
    data_dir: str | Path | None = None,
    days: int = 5,
    n_paths: int = 2000,
    seed: int | None = None,
    today: dt.date | None = None,
    global_name: str | None = None,
    own: bool = False,
    **risk,
) -> Prediction:
    """Forecast the next `days` trading sessions after the last cached date, with calibrated bands.

    Without a ticker: the one whose model was trained last. The model: the global model named
    `global_name` if given; the ticker's own with `own` (or global_name "own", as `--model
    own` says); else the newest saved of the ticker's own and the global models trained on it
    (store.model_for). The Prediction names the model it came from (model_label).
    risk: levels (band levels, fractions), var_levels (VaR/ES levels; None: the default) and
    short (VaR of a short position); pred.table has the columns, pred.risk_frame() the
    tidy VaR/ES view.
    """
    check_range("days", days)
    check_range("paths", n_paths)
    if seed is not None:
        check_range("seed", seed)
    if global_name is not None and is_own(global_name):
        own, global_name = True, None
    if global_name is not None:
        if ticker is None:
            raise ForecastError(MODEL_NEEDS_TICKER["predict"])
        return predict_global(ticker, data_dir, global_name, days, n_paths, seed, today, **risk)
    ticker = _symbol(ticker, latest_trained, data_dir)
    chosen, switched = (None, None) if own else store.model_choice(data_dir, ticker)
    if chosen is not None and chosen.kind == "global":
        pred = predict_global(ticker, data_dir, chosen.ticker, days, n_paths, seed, today, **risk)
        pred.warnings[:0] = [switched] if switched else []
        return pred
    params, meta = checkpoint.load_model(data_dir, ticker)
    frame = prices.load_prices(ticker, data_dir)
    return pipeline.predict_frame(ticker, frame, params, meta, days, n_paths, seed, today, **risk)


def risk(
    ticker: str | None,
    data_dir: Path,
    days: int,
    var_levels=(0.95, 0.99),
    short: bool = False,
    **options,
) -> pd.DataFrame:
    """predict()'s Value at Risk and Expected Shortfall as a tidy frame, one row per day and
    level (Prediction.risk_frame: date, h, level, position, sigma, sigma_cum, var, es,
    var_price, es_price); options: n_paths, seed, today, levels."""
    return predict(
        ticker, data_dir, days, var_levels=var_levels, short=short, **options
    ).risk_frame()


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
    """A walk-forward backtest of one ticker: its result (scores, verdict, every forecast through result.forecasts()) and whose refits were scored; to_json() is `backtest --json`."""

    ticker: str
    result: "BacktestResult"
    currency: str | None = None  # when the price source said (chart titles)
    model_name: str = ""  # whose refits: the ticker's own model, or a global model's name
    model_kind: str = "own"

    @property
    def model_label(self) -> str:
        """Whose refits were scored: 'AAPL (own model)' or 'GLOBAL (global model)'."""
        kind = "global model" if self.model_kind == "global" else "own model"
        return f"{self.model_name or self.ticker} ({kind})"

    def to_json(self) -> dict:
        from forecast import __version__

        model = {"name": self.model_name or self.ticker, "kind": self.model_kind}
        return {
            "ticker": self.ticker,
            "model": model,
            "forecast_version": __version__,
            **self.result.to_json(),
        }


@_data_dir
def backtest(
    ticker: str | None = None,
    data_dir: str | Path | None = None,
    config: TrainConfig | None = None,
    *,
    on_fold: Callable[[int, int], None] | None = None,
    on_notice: Notice = None,
    global_name: str | None = None,
    **options,
) -> BacktestReport:
    """Walk-forward test of one ticker (default: the latest trained model's); `options` go to
    forecast.evaluation.backtest.run_backtest (horizon, refit_every, test_days, n_paths, seed, ...).
    With `global_name`, the global model of that name is refitted instead (backtest_global)."""
    config = config or TrainConfig()
    if global_name is not None and not is_own(global_name):
        if ticker is None:
            raise ForecastError(MODEL_NEEDS_TICKER["backtest"])
        return backtest_global(
            ticker, data_dir, global_name, on_fold=on_fold, on_notice=on_notice, **options
        )
    pipeline.risk_levels(config.loss, options.get("var_levels"))  # --var needs a distribution
    ticker = _symbol(ticker, _latest_for_backtest, data_dir)
    frame = prices.load_prices(ticker, data_dir)

    def fold(i: int, n: int) -> None:
        if i == 0:  # the options are checked: the first fit comes next
            compile_notice(on_notice)
        if on_fold is not None:
            on_fold(i, n)

    result = backtest_frame(frame, config, on_fold=fold, **options)
    return BacktestReport(ticker, result, frame.attrs.get("currency"))


def backtest_frame(
    frame: pd.DataFrame, config: TrainConfig | None = None, **options
) -> "BacktestResult":
    """Walk-forward test of an RNN on one price frame in memory (no data directory): refits
    every `refit_every` days over the last `test_days`, against the random walks, EWMA, GARCH
    and EGARCH. `options` go to run_backtest (horizon, refit_every, test_days, max_train,
    n_paths, seed). result.forecasts() is the long table of every forecast; result.metrics
    the scores per model and horizon; result.verdict one sentence."""
    import warnings

    from forecast.evaluation.backtest import run_backtest  # arch, scipy: not for predict

    config = config or TrainConfig()
    check_features(frame, config.features, config.loss)
    with warnings.catch_warnings():
        # constant prices make some scores 0/0, shown as nan or –: no raw NumPy warnings on top
        warnings.simplefilter("ignore", RuntimeWarning)
        return run_backtest(frame, config, **options)


def check_export_path(path: Path, data_dir: Path | None = None) -> Path:
    """Refuse, before any work, an export path whose suffix names no format (.csv, .parquet,
    .json; stdout, a FIFO and a device take CSV), that is a folder, has no folder, is no file
    to write (a socket, a block device) or lies inside the data directory (files.check_output)."""
    from forecast.files import check_output

    return check_output(exports.check_suffix(path), "--export", data_dir)


def export_backtest(report: BacktestReport, path: str | Path) -> int:
    """Every forecast of a backtest (BacktestResult.forecasts) to a .csv, .parquet or .json
    file (by its suffix), written atomically; returns the number of rows."""
    return exports.write(report.result.forecasts(report.ticker), path)


def export_prediction(pred: Prediction, path: str | Path) -> int:
    """A forecast in long format (forecast.exports.prediction_table) to a .csv, .parquet or
    .json file (by its suffix), written atomically; returns the number of rows."""
    return exports.write(exports.prediction_table(pred), path)


def export_rows(rows, path: str | Path) -> int:
    """A universe's forecasts (predict_many or backtest_many, with keep_forecasts) in one long
    table with a ticker column, to .csv, .parquet or .json; returns the number of rows."""
    return exports.write(exports.concat([r.table for r in rows if r.ok]), path)


# --- charts --------------------------------------------------------------------------------------


def check_plot_path(path: Path, data_dir: Path | None = None) -> Path:
    """Refuse a chart file name before any work: unknown extension, a missing folder, no file
    to write, or a path inside the data directory."""
    from forecast import plot  # matplotlib, only when a chart is drawn

    return plot.check_path(path, data_dir)


def plot_prediction(pred: Prediction, path: Path, history_days: int | None = None) -> Path:
    """The fan chart of a prediction, over a volatility panel (past |r| and the model's fitted
    sigma, then the forecast sigma path with its |r| bands), as .png, .svg or .pdf (by the
    extension); returns the path."""
    from forecast import plot  # matplotlib, only when a chart is drawn
    from forecast.model.valueatrisk import z

    days = history_days or plot_history_days(len(pred.table))
    title = (
        f"{pred.ticker}: {len(pred.table)}-day forecast from the close of {pred.last_date:%Y-%m-%d}"
    )
    if pred.currency:
        title += f" ({pred.currency})"
    title += f", {pred.loss} model trained through {pred.trained_through}"
    closes = pred.history
    r = np.abs(np.diff(np.log(closes.to_numpy(np.float64)), prepend=np.nan))[-days:]
    fitted = None
    if pred.fitted_sigma is not None:
        fitted = pred.fitted_sigma.reindex(closes.index[-days:]).to_numpy()
    vol = {  # on the same last `days` closes as the fan
        "abs_returns": r,
        "fitted": fitted,
        "sigma": pred.table["sigma"].to_numpy(),
        "z": {L: z((1 + L) / 2) for L in pred.levels},
    }
    title += f"\nmodel: {pred.model_label}; forecast {pred.run.get('forecast_version', '?')}"
    return plot.write_fan(
        path,
        **pred.fan_series(days),
        title=title,
        history_days=days,
        currency=pred.currency,
        vol=vol,
    )


def plot_backtest(report: BacktestReport, path: Path) -> Path:
    """The RNN's past forecasts with their bands against what happened, and coverage by horizon."""
    from forecast import plot  # matplotlib, only when a chart is drawn

    result, cases = report.result, report.result.cases
    h = cases.y.shape[1]
    target = pd.DatetimeIndex(cases.target_dates[:, h - 1])  # NaT past the data
    y = cases.y[:, h - 1]
    ok = np.isfinite(y) & ~target.isna()
    coverage = {
        model: {
            L: np.array([r[f"coverage_{percent(L)}"] for r in rows], float) for L in cases.levels
        }
        for model, rows in result.metrics.items()
    }
    first, last = result.origins[0], result.origins[-1]
    return plot.write_backtest(
        path,
        target[ok],
        realised=y[ok],
        median=cases.point["rnn"][ok, h - 1],
        bands={
            L: (cases.lower["rnn", L][ok, h - 1], cases.upper["rnn", L][ok, h - 1])
            for L in cases.levels
        },
        coverage=coverage,
        title=f"{report.ticker}: RNN ({result.options['config'].get('loss')}) {h}-day forecasts "
        f"from {first:%Y-%m-%d} .. {last:%Y-%m-%d}, prices through "
        f"{pd.Timestamp(np.nanmax(cases.target_dates)):%Y-%m-%d}"
        + (f" ({report.currency})" if report.currency else "")
        + f"\nrefits of {report.model_label}",
        currency=report.currency,
        exceedances=_exceedances(cases),
    )


def _exceedances(cases) -> dict:
    """The RNN's one-day VaRs against the long position's return on each day forecast."""
    ok = np.isfinite(cases.y[:, 0])
    return {
        "dates": pd.DatetimeIndex(cases.target_dates[ok, 0]),
        "returns": np.expm1(cases.log_return[ok, 0]),
        "var": {a: cases.var["rnn", a][ok, 0] for a in cases.var_levels},
    }


# --- universes: many tickers per command, one global model (forecast/universe/tickers.py, jobs.py, -------
# --- many.py, panel.py, globalmodel.py) ----------------------------------------------------------


@dataclass
class Plan:
    """How a command runs over the tickers it was given: api.plan decides, the caller runs it.

    mode "one": one ticker in this process (tickers holds it, or nothing for the default one);
    "global": one model over all the tickers, in this process (train); "many": one job per
    ticker on the runner's workers.
    """

    mode: str
    tickers: list[str]
    problems: list[str] = dataclass_field(default_factory=list)  # invalid symbols, one line each
    global_name: str | None = None  # the global model's name (train, mode "global")
    error: ForecastError | None = None  # raise it after showing the problems: nothing to run

    @property
    def ticker(self) -> str | None:
        """The one ticker of a "one" plan, None for the default (the latest fetched/trained)."""
        return self.tickers[0] if self.tickers else None


def _is_many(tickers, universe_file, jobs, scheduler) -> bool:
    """A universe run: several tickers, a file, or explicit workers; else the one-ticker command."""
    return len(tickers or []) > 1 or universe_file is not None or bool(jobs) or bool(scheduler)


def plan(
    command: str,
    tickers: list[str] | None,
    universe_file: Path | None = None,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    global_name: str | None = None,
    per_ticker: bool = False,
    one_ticker_only: dict[str, object] | None = None,
) -> Plan:
    """The run `command` ("train", "predict" or "backtest") makes of its tickers and options.

    train: several tickers (or --universe) train one global model, which forecast a little
    better than one model per ticker in make quality (README, "One global model"), unless
    --per-ticker, --jobs or --scheduler ask for one model per ticker on workers. predict and
    backtest: several tickers run per ticker on workers. global_name: the model train saves
    (--global), or the global model predict and backtest use (--model; "own": the ticker's).
    `one_ticker_only` names the options that apply to one ticker only ({"--plot": value,
    ...}): given with several tickers, they refuse.
    """
    if command == "train":
        separate = per_ticker or bool(jobs) or bool(scheduler)
        if global_name is not None and separate:
            raise ForecastError(
                "--global trains one model in this process; drop --per-ticker, --jobs and "
                "--scheduler, which train one model per ticker on workers"
            )
        if global_name is not None or (
            _is_many(tickers, universe_file, None, None) and not separate
        ):
            u = resolve(tickers, universe_file)
            name = default_global_name(universe_file) if global_name is None else global_name
            return Plan("global", u.tickers, u.problems, global_name=name)
    if _is_many(tickers, universe_file, jobs, scheduler):
        given = {k: v for k, v in (one_ticker_only or {}).items() if v is not None}
        if given and not (set(given) == {"--model"} and is_own(str(given["--model"]))):
            raise ForecastError(ONE_TICKER_ONLY[command])
        u = resolve(tickers, universe_file)
        error = None
        if not u.tickers:
            error = ForecastError(
                "give the tickers to run (or --universe FILE) with --jobs or --scheduler"
            )
        return Plan("many", u.tickers, u.problems, error=error)
    if command != "train" and global_name is not None and not is_own(global_name) and not tickers:
        raise ForecastError(MODEL_NEEDS_TICKER[command])
    return Plan("one", list(tickers or []))


ONE_TICKER_ONLY = {  # several tickers with an option that serves one
    "predict": "--plot draws one ticker's fan chart; give one ticker",
    "backtest": "--plot and --model NAME backtest one ticker; give one ticker",
}
MODEL_NEEDS_TICKER = {
    "predict": "--model needs the TICKER to forecast, e.g. `predict AAPL --model NAME`",
    "backtest": "--model needs the TICKER to backtest",
}


def many_error(rows, problems: list[str]) -> ForecastError | None:
    """The error of a run over many tickers (one line naming them) when a ticker failed or a
    symbol was invalid; None when every ticker ran. Every ticker has run by then."""
    failed = [r.ticker for r in rows if not r.ok]
    parts = []
    if failed:
        names = ", ".join(failed[:10]) + (", …" if len(failed) > 10 else "")
        parts.append(f"{len(failed)} of {len(rows)} tickers failed ({names})")
    if problems:
        n = len(problems)
        parts.append(f"{n} invalid symbol{'s' * (n != 1)} skipped")
    return ForecastError(" and ".join(parts) + "; see the lines above") if parts else None


def universe(tickers: list[str] | None, universe_file: Path | None):
    """The tickers of a command line plus a --universe file (forecast.universe.tickers.Universe)."""
    return resolve(tickers, universe_file)


def runner(jobs: int | None = None, scheduler: str | None = None):
    """A forecast.universe.jobs.Runner: `jobs` local processes, or the Dask scheduler at `scheduler`
    (else $FORECAST_SCHEDULER); use it as a context manager."""
    return Runner(jobs=jobs, scheduler=scheduler_address(scheduler))


@_data_dir
def train_many(
    tickers, data_dir: str | Path | None, config: TrainConfig, runner, on_row, on_notice=None
):
    """Train one model per ticker on the runner's workers; on_row(many.Row) as each finishes."""
    from forecast.universe import many  # imports the backtest: arch, scipy

    compile_notice(on_notice)
    return many.train_universe(tickers, data_dir, config, runner, on_row)


@_data_dir
def predict_many(
    tickers,
    data_dir,
    days,
    n_paths,
    seed,
    runner,
    on_row,
    global_name=None,
    today=None,
    keep_forecasts=False,
):
    """Screen values per ticker (median return, P(up), band width) from its own model or from
    the global model named `global_name` (with every forecast in row.table when
    keep_forecasts, for export_rows)."""
    from forecast.universe import many  # imports the backtest: arch, scipy

    check_range("days", days)
    check_range("paths", n_paths)
    today = today or dt.date.today()
    return many.predict_universe(
        tickers, data_dir, days, n_paths, seed, today, runner, on_row, global_name, keep_forecasts
    )


@_data_dir
def backtest_many(
    tickers, data_dir, config, runner, on_row, *, seed=0, keep_forecasts=False, **options
):
    """A walk-forward backtest per ticker on the runner's workers; one many.Row each (with
    every forecast in row.table when keep_forecasts, for export_rows)."""
    from forecast.universe import many  # imports the backtest: arch, scipy

    return many.backtest_universe(
        tickers, data_dir, config, options, seed, runner, on_row, keep=keep_forecasts
    )


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
    """What train_global() did: the model's name and file, its fit (panel, members, losses) and the tickers left out with why; to_json() is `train --json`."""

    name: str
    path: Path
    fit: globalmodel.GlobalFit
    failed: dict  # ticker -> why it is not in the model
    summary: Summary  # what a display shows: forecast.model.summary

    def left_out_error(self, invalid: int = 0) -> ForecastError | None:
        """The run's error when tickers were left out of the model (it is saved all the same),
        `invalid` symbols of the universe counted in; None when every ticker is in."""
        n = len(self.failed) + invalid
        if not n:
            return None
        names = ", ".join(list(self.failed)[:10])
        return ForecastError(
            f"{n} ticker{'s' * (n != 1)} left out of {self.name}"
            + (f" ({names})" if names else "")
            + "; see the lines above"
        )

    def to_json(self) -> dict:
        """What `train --json` prints for a global model (README, "JSON output")."""
        from forecast import __version__
        from forecast.jsonfile import plain

        fit = self.fit
        losses = fit.losses
        return plain(
            {
                "name": self.name,
                "kind": "global",
                "trained_through": f"{fit.panel.cut:%Y-%m-%d}",
                "tickers": list(fit.panel.tickers),
                "failed": dict(self.failed),
                "val_loss": float(losses["val"]),
                "baseline_val_loss": float(fit.baseline_val_loss),
                "config": fit.config.to_dict(),
                "close_only": (
                    {
                        "tickers": list(self.summary.close_only),
                        "chosen": self.summary.close_choice["chosen"],
                        "features": list(self.summary.close_features),
                        "val_loss": self.summary.close_choice["close"],
                        "first_val_loss": self.summary.close_choice["first"],
                    }
                    if self.summary.close_choice
                    else None
                ),
                "forecast_version": __version__,
                "path": str(self.path),
            }
        )


@_data_dir
def train_global(
    name: str,
    tickers: list[str],
    data_dir: Path,
    config: TrainConfig,
    on_epoch: Callable[[Epoch], None] | None = None,
    on_notice: Notice = None,
    force: bool = False,
) -> GlobalReport:
    """One RNN on the windows of all `tickers`, saved as model `name` (replacing a model of
    that name trained on another set of tickers only with `force`).

    Reads the prices twice (dates first, for the calendar cut; then one frame at a time into
    the panel), so a large universe never has all its frames in memory at once.
    """
    try:
        name = prices.validate_symbol(name)
    except ForecastError as e:  # a model name is spelled like a symbol: say which name it was
        raise ForecastError(f"--global {name!r} is no model name: {e}") from None
    if name == "OWN":
        raise ForecastError("--model own means a ticker's own model; choose another --global name")
    globalmodel.check_name(data_dir, name)  # before the training, not after it
    if not tickers:
        raise ForecastError(
            f"--global {name} trains on many tickers; give them, or --universe FILE"
        )
    check_replace(data_dir, name, list(dict.fromkeys(tickers)), force)
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
    return GlobalReport(name, path, fit, failed, summary.of_global(fit, path, failed))


@_data_dir
def predict_global(
    ticker: str,
    data_dir: Path,
    model: str,
    days: int,
    n_paths: int = 2000,
    seed: int | None = None,
    today: dt.date | None = None,
    **risk,
) -> Prediction:
    """predict() with the global model `model`, for any ticker with prices on both sides of
    its cut date."""
    check_range("days", days)
    check_range("paths", n_paths)
    ticker = prices.validate_symbol(ticker)
    params, meta = globalmodel.load_global(data_dir, model)
    frame = prices.load_prices(ticker, data_dir)
    return pipeline.predict_global_frame(
        ticker, frame, params, meta, days, n_paths, seed, today, **risk
    )


@_data_dir
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
    from forecast.evaluation.backtest import run_backtest  # arch, scipy: not for predict

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
    name = prices.validate_symbol(model)
    return BacktestReport(
        ticker, result, frame.attrs.get("currency"), model_name=name, model_kind="global"
    )
