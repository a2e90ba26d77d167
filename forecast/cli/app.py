"""The `forecast` command line: parse options, call one function of forecast.api, render the result.

The CLI imports only api, display, config and errors; api (and with it numpy, pandas, numba,
yfinance) is imported inside the commands that need it, so `forecast --help` stays fast.

Exit codes are Click's: 0 success, 1 a failure at run time (one `error:` line on stderr),
2 a usage error (unknown option or command, wrong type, value out of range), 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM, handled like Ctrl-C: workers stopped, no file left partial).
"""

import datetime as dt
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

try:
    from typer._click.exceptions import ClickException  # typer >= 0.22 carries its own Click
except ImportError:  # pragma: no cover - older typer on the real Click
    from click.exceptions import ClickException

from forecast import config
from forecast.cli import display
from forecast.config import RANGES, Loss, TrainConfig
from forecast.errors import (
    ForecastError,
    Terminated,
    UsageError,
    interrupted_exit_code,
    raise_terminated,
)


class OneLineErrors(TyperGroup):
    """Usage errors as one `error:` line on stderr and exit code 2, like runtime errors (1)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        previous = _on_sigterm(raise_terminated)  # SIGTERM: the clean-up Ctrl-C gets, exit 143
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except ClickException as e:
            where = f"; see `{e.ctx.command_path} -h`" if getattr(e, "ctx", None) else ""
            message = " ".join(e.format_message().replace("Value error, ", "").split())
            if message:  # empty: `forecast` alone, whose help Click has printed already
                display.error(message.rstrip(".") + where)
            code = e.exit_code
        except typer.Abort as e:
            if isinstance(e.__cause__, Terminated):  # Click turns a KeyboardInterrupt into Abort
                display.error("terminated; files on disk are unchanged")
                code = interrupted_exit_code(e.__cause__)
            else:
                display.error("aborted; nothing was changed")
                code = 1
        else:
            code = rv if isinstance(rv, int) else 0
        finally:
            _on_sigterm(previous)
        if not standalone_mode:
            return code
        sys.exit(code)


def _on_sigterm(handler):
    """Install `handler` for SIGTERM and return the one it replaces (None where signals cannot
    be set: not the main thread, or no SIGTERM)."""
    import signal

    if handler is None or not hasattr(signal, "SIGTERM"):
        return None
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding application's worker thread)
        return None


app = typer.Typer(
    cls=OneLineErrors,
    help="Honest stock forecasts from a hand-written, Numba-compiled RNN.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# CLI defaults are TrainConfig's
DEFAULTS = {
    name: TrainConfig.default(name)
    for name in ("window", "hidden", "epochs", "batch_size", "lr", "patience", "seed", "ensemble")
}
LOSS_DEFAULT = Loss(TrainConfig.default("loss"))
FEATURES_DEFAULT = ",".join(TrainConfig.default("features"))


class State:
    data_dir: Path


state = State()


@contextmanager
def user_errors():
    """Turn the library's ForecastError into one line on stderr and exit code 1."""
    try:
        yield
    except UsageError as e:  # the options, found wrong by the library: Click's exit code
        display.error(str(e))
        raise typer.Exit(2) from None
    except ForecastError as e:
        display.error(str(e))
        raise typer.Exit(1) from None
    except OSError as e:  # the file system said no: permissions, a full disk, a missing folder
        target = e.filename2 or e.filename  # a failed rename names the temporary file first
        where = f" {target}" if target else ""
        display.error(f"cannot use{where}: {e.strerror or e}; check the path and its permissions")
        raise typer.Exit(1) from None
    except KeyboardInterrupt as e:
        display.error(f"{_stopped(e)}; files on disk are unchanged")
        raise typer.Exit(interrupted_exit_code(e)) from None


def _stopped(e: KeyboardInterrupt) -> str:
    return "terminated" if isinstance(e, Terminated) else "interrupted"


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        display.out.print(f"forecast {version('forecast')}", highlight=False)
        raise typer.Exit()


@app.callback(
    epilog=f"Data directory: [bold]{config.DATA_DIR_ENV}[/bold], else the per-user "
    f"{display.escape(str(config.default_data_dir()))}; `forecast list` shows the one in use."
)
def main(
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir",
            help=f"Where prices and models live (env: {config.DATA_DIR_ENV}; "
            f"default: {display.escape(str(config.default_data_dir()))}).",
            show_default=False,
            metavar="DIR",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    try:
        state.data_dir = config.resolve_data_dir(data_dir)
    except ForecastError as e:
        raise typer.BadParameter(str(e)) from None


def ranged(name: str, help: str, panel: str, **kwargs):
    """An integer option whose range the parser checks (exit 2), from config.RANGES."""
    lo, hi = RANGES[name]
    return typer.Option(help=help, min=lo, max=hi, rich_help_panel=panel, **kwargs)


def _features(text: str) -> str:
    names = config.parse_features(text)
    bad = [f for f in names if f not in config.FEATURES]
    if bad or not names or names[0] != "return" or len(set(names)) != len(names):
        raise typer.BadParameter(
            f"{text!r}: give 'return' first, then any of {', '.join(config.FEATURES[1:])}, "
            "comma-separated, each once"
        )
    return text


def _lr(value: float) -> float:
    if not 0 < value < 1:  # math.isfinite too: nan fails both comparisons
        raise typer.BadParameter(f"{value} is not in (0, 1)")
    return value


def _day(text: str | None) -> dt.date | None:
    # strptime's %Y-%m-%d also takes 2020-1-1; README promises YYYY-MM-DD, so exactly that
    if text is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _plot_path(path: Path | None) -> Path | None:
    if path is not None and path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise typer.BadParameter(f"{path.name}: give a file name ending in .png, .svg or .pdf")
    return path


# --- fetch / list: cached prices -----------------------------------------------------------------


@app.command()
def fetch(
    tickers: Annotated[
        list[str],
        typer.Argument(
            help="Yahoo symbols, e.g. AAPL MSFT ^GSPC BRK-B.",
            metavar="TICKER",
            show_default=False,
        ),
    ],
    start: Annotated[
        str | None,
        typer.Option(
            help="First day, YYYY-MM-DD (default: all history).",
            callback=_day,
            show_default=False,
            metavar="YYYY-MM-DD",
            rich_help_panel="Range",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help="Last day, YYYY-MM-DD, inclusive (default: today).",
            callback=_day,
            show_default=False,
            metavar="YYYY-MM-DD",
            rich_help_panel="Range",
        ),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Import this CSV (Yahoo export, or Date and Close columns) instead of Yahoo.",
            show_default=False,
            rich_help_panel="Source",
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Don't contact Yahoo: use the cache or the shipped sample.",
            rich_help_panel="Source",
        ),
    ] = False,
) -> None:
    """Download daily prices from Yahoo into the data directory (only new days after the first)."""
    start_day, end_day = start, end  # dates already (_day)
    if csv is not None:
        if len(tickers) != 1:
            raise typer.BadParameter("--csv imports one ticker; give exactly one symbol with it")
        if start_day or end_day or offline:
            raise typer.BadParameter("--start, --end and --offline do not apply to --csv imports")
    with user_errors():
        from forecast import api  # numpy, pandas, numba: not for --help

        if csv is not None:
            result = api.import_csv(tickers[0], csv, state.data_dir)
            if result.warning:
                display.warn(result.warning)
            display.fetch_table([result])
            return
        results, failed = [], []
        client = api.yahoo_client()  # remembers a network failure for the next ticker
        # all symbols checked before any is fetched: a typo costs one line, not a half-done run
        symbols = list(dict.fromkeys(api.validate_symbol(t) for t in tickers))
        for ticker in symbols:
            try:
                with display.status(f"fetching {ticker}") as on_status:
                    result = api.fetch(
                        ticker,
                        state.data_dir,
                        start=start_day,
                        end=end_day,
                        offline=offline,
                        on_status=on_status,
                        client=client,
                    )
            except ForecastError as e:
                if len(symbols) == 1:
                    raise
                display.error(str(e))
                failed.append(ticker or repr(ticker))
                continue
            if result.warning:
                display.warn(result.warning)
            results.append(result)
        if results:
            display.fetch_table(results)
        if failed:
            names = ", ".join(failed)
            raise ForecastError(f"{len(failed)} of {len(symbols)} tickers failed: {names}")


@app.command("list")
def list_cached() -> None:
    """Show the cached tickers: date range, rows, source and whether they are stale."""
    with user_errors():
        from forecast import api  # numpy, pandas, numba: not for --help

        entries = api.cached(state.data_dir)
        if not entries:
            display.info(f"no prices in {state.data_dir} yet; run `forecast fetch TICKER`")
            return
        display.cached_table(entries, state.data_dir)


# --- train / predict: the model ------------------------------------------------------------------

MODEL, TRAINING, FORECAST, OUTPUT, WALK = "Model", "Training", "Forecast", "Output", "Walk-forward"

# The model options train and backtest share: one definition, one help text.
Window = Annotated[int, ranged("window", "T: trading days the RNN reads per forecast.", MODEL)]
Hidden = Annotated[int, ranged("hidden", "H: hidden units.", MODEL)]
LossOpt = Annotated[  # --head names what it is; --loss, its name before, still works
    Loss,
    typer.Option(
        "--head",
        "--loss",
        help="Output head: vol (volatility, mean 0), gaussian (mean, volatility), "
        "mse (point), direction (P(up)).",
        rich_help_panel=MODEL,
    ),
]
Features = Annotated[
    str,
    typer.Option(
        help="Inputs per day, comma-separated: return, then range and/or volume.",
        callback=_features,
        rich_help_panel=MODEL,
    ),
]
BatchSize = Annotated[int, ranged("batch_size", "Windows per Adam step.", TRAINING)]
Ensemble = Annotated[
    int,
    ranged("ensemble", "vol head: RNNs trained from seeds seed, seed+1, ...; averaged.", TRAINING),
]
LearningRate = Annotated[
    float,
    typer.Option(help="Adam learning rate, in (0, 1).", callback=_lr, rich_help_panel=TRAINING),
]
Patience = Annotated[
    int, ranged("patience", "Epochs without validation improvement before stopping.", TRAINING)
]
JsonOut = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON only.", rich_help_panel=OUTPUT)
]
Plot = Annotated[
    Path | None,
    typer.Option(
        help="Also draw a chart into this .png, .svg or .pdf file (needs matplotlib).",
        callback=_plot_path,
        show_default=False,
        rich_help_panel=OUTPUT,
    ),
]


def _levels(option: str):
    """A callback that checks repeatable percent levels (range, repeats): exit 2 when wrong."""

    def check(values: list[float] | None):
        if not values:
            return None
        from forecast.model.predictive import check_levels  # numpy: not for --help

        try:
            return check_levels(values, option)
        except UsageError as e:
            raise typer.BadParameter(str(e).removeprefix(f"{option} ")) from None

    return check


RISK = "Risk"
Levels = Annotated[
    list[float] | None,
    typer.Option(
        "--level",
        help="Band level in percent, repeatable, in (50, 99.9) [default: 80 and 95].",
        callback=_levels("--level"),
        metavar="PCT",
        show_default=False,
        rich_help_panel=RISK,
    ),
]
VarLevels = Annotated[
    list[float] | None,
    typer.Option(
        "--var",
        help="Value at Risk and Expected Shortfall level in percent, repeatable "
        "[default: 95 and 99].",
        callback=_levels("--var"),
        metavar="PCT",
        show_default=False,
        rich_help_panel=RISK,
    ),
]


UNIVERSE = "Universe"
Tickers = Annotated[
    list[str] | None,
    typer.Argument(
        help="Symbols (default: the most recently fetched or trained one).",
        metavar="[TICKER]...",
        show_default=False,
    ),
]
UniverseFile = Annotated[
    Path | None,
    typer.Option(
        "--universe",
        help="Also every ticker in this file: one per line, # comments, blanks and repeats ignored.",
        show_default=False,
        metavar="FILE",
        rich_help_panel=UNIVERSE,
    ),
]
Jobs = Annotated[
    int | None,
    typer.Option(
        help="Worker processes for many tickers, each single-threaded (default: one per core).",
        min=RANGES["jobs"][0],
        max=RANGES["jobs"][1],
        show_default=False,
        rich_help_panel=UNIVERSE,
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Run the per-ticker jobs on this Dask scheduler, e.g. tcp://host:8786 "
        "(env: FORECAST_SCHEDULER, used for per-ticker runs over many tickers).",
        show_default=False,
        metavar="ADDRESS",
        rich_help_panel=UNIVERSE,
    ),
]
ModelName = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Use the global model saved by `train ... --global NAME` instead of the ticker's own.",
        show_default=False,
        metavar="NAME",
        rich_help_panel=UNIVERSE,
    ),
]


def _show_problems(plan) -> None:
    """Invalid symbols of the universe, one line each; then the plan's error, if it has one."""
    for problem in plan.problems:
        display.error(problem)
    if plan.error is not None:
        raise plan.error


def _run_universe(verb: str, plan, jobs, scheduler, work):
    """Run `work(symbols, runner, on_row)` over a "many" plan's tickers with one progress bar."""
    from forecast import api  # numpy, pandas, numba: not for --help

    _show_problems(plan)
    try:
        with api.runner(jobs, scheduler) as runner:
            with display.UniverseProgress(len(plan.tickers), verb, runner.where) as progress:
                return work(plan.tickers, runner, progress)
    except KeyboardInterrupt as e:
        display.error(
            f"{_stopped(e)}; workers stopped; files saved before it are complete, none is partial"
        )
        raise typer.Exit(interrupted_exit_code(e)) from None


def _show_rows(rows, plan, json_out: bool, table) -> None:
    """Many tickers' rows as a JSON list (--json) or table(), then exit 1 if any failed."""
    if json_out:
        import json

        display.out.print_json(json.dumps([r.to_json() for r in rows]))
    else:
        table()
    _exit_if_failed(rows, plan)


def _exit_if_failed(rows, plan) -> None:
    from forecast import api  # numpy, pandas, numba: not for --help

    error = api.many_error(rows, plan.problems)
    if error is not None:
        raise error


def train_config(features: str, **options) -> TrainConfig:
    """TrainConfig from CLI options (features given as "return,range"); it checks itself."""
    return TrainConfig(features=config.parse_features(features), **options)


@app.command()
def train(
    tickers: Tickers = None,
    universe_file: UniverseFile = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    global_name: Annotated[
        str | None,
        typer.Option(
            "--global",
            help="Save the one model over all the tickers as NAME (default: the --universe "
            "file's name, else GLOBAL).",
            show_default=False,
            metavar="NAME",
            rich_help_panel=UNIVERSE,
        ),
    ] = None,
    per_ticker: Annotated[
        bool,
        typer.Option(
            "--per-ticker",
            help="Several tickers: one model per ticker on worker processes (implied by "
            "--jobs and --scheduler) instead of one global model.",
            rich_help_panel=UNIVERSE,
        ),
    ] = False,
    window: Window = DEFAULTS["window"],
    hidden: Hidden = DEFAULTS["hidden"],
    loss: LossOpt = LOSS_DEFAULT,
    features: Features = FEATURES_DEFAULT,
    epochs: Annotated[
        int, ranged("epochs", "Maximum epochs (early stopping may end sooner).", TRAINING)
    ] = DEFAULTS["epochs"],
    batch_size: BatchSize = DEFAULTS["batch_size"],
    lr: LearningRate = DEFAULTS["lr"],
    patience: Patience = DEFAULTS["patience"],
    ensemble: Ensemble = DEFAULTS["ensemble"],
    seed: Annotated[
        int, ranged("seed", "Seed for weights and shuffling: same seed, same model.", TRAINING)
    ] = DEFAULTS["seed"],
) -> None:
    """Train the RNN on cached prices and save the model under the data directory."""
    with user_errors():
        cfg = train_config(
            features,
            window=window,
            hidden=hidden,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            loss=loss,
            seed=seed,
            patience=patience,
            ensemble=ensemble,
        )
        from forecast import api  # numpy, pandas, numba: not for --help

        plan = api.plan(
            "train",
            tickers,
            universe_file,
            jobs=jobs,
            scheduler=scheduler,
            global_name=global_name,
            per_ticker=per_ticker,
        )
        if plan.mode == "global":
            _show_problems(plan)
            with display.EpochProgress(cfg.epochs) as progress:
                report = api.train_global(
                    plan.global_name,
                    plan.tickers,
                    state.data_dir,
                    cfg,
                    on_epoch=progress,
                    on_notice=display.info,
                )
                progress.stop_early()
            for t, why in report.failed.items():
                display.warn(f"{t} left out of {report.name}: {why}")
            display.global_summary(report)
            error = report.left_out_error(invalid=len(plan.problems))
            if error is not None:  # the model is saved; the exit code says not all tickers are in
                raise error
            return
        if plan.mode == "many":
            api.compile_notice(display.info)
            rows = _run_universe(
                "training",
                plan,
                jobs,
                scheduler,
                lambda symbols, runner, on_row: api.train_many(
                    symbols, state.data_dir, cfg, runner, on_row
                ),
            )
            display.train_many_table(rows)
            _exit_if_failed(rows, plan)
            return
        with display.EpochProgress(cfg.epochs) as progress:
            report = api.train(
                plan.ticker, state.data_dir, cfg, on_epoch=progress, on_notice=display.info
            )
            progress.stop_early()
        display.train_summary(report)


@app.command()
def predict(
    tickers: Tickers = None,
    universe_file: UniverseFile = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    model: ModelName = None,
    days: Annotated[int, ranged("days", "Trading days ahead.", FORECAST)] = 5,
    paths: Annotated[
        int, ranged("paths", "Sampled paths (more: smoother quantiles).", FORECAST)
    ] = 2000,
    seed: Annotated[
        int | None,
        ranged("seed", "Sampling seed (default: the model's seed).", FORECAST, show_default=False),
    ] = None,
    json_out: JsonOut = False,
    plot: Plot = None,
    history: Annotated[
        int | None,
        ranged(
            "history",
            "Trading days of closes drawn before the forecast in --plot "
            "(default: 4 per forecast day, 40 to 120).",
            OUTPUT,
            show_default=False,
        ),
    ] = None,
    level: Levels = None,
    var: VarLevels = None,
    short: Annotated[
        bool,
        typer.Option(
            "--short", help="VaR and ES of a short position (the upper tail).", rich_help_panel=RISK
        ),
    ] = False,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="Many tickers: sort the screen by this column: sigma, ratio, var99, es97.5, "
            "median, p_up or ticker [default: sigma, highest first].",
            metavar="COLUMN",
            show_default=False,
            rich_help_panel=UNIVERSE,
        ),
    ] = None,
) -> None:
    """Forecast the next trading days: volatility, calibrated bands, VaR and ES, fan chart."""
    with user_errors():
        from forecast import api  # numpy, pandas, numba: not for --help

        risk = {"var_levels": var, "short": short} | ({"levels": level} if level else {})
        if sort is not None and sort not in display.SCREEN_SORTS:
            raise typer.BadParameter(
                f"{sort}: give one of {', '.join(display.SCREEN_SORTS)}",
                param_hint="'--sort'",
            )
        plan = api.plan(
            "predict",
            tickers,
            universe_file,
            jobs=jobs,
            scheduler=scheduler,
            global_name=model,
            one_ticker_only={"--plot": plot},
        )
        if plan.mode == "many":
            rows = _run_universe(
                "forecasting",
                plan,
                jobs,
                scheduler,
                lambda symbols, runner, on_row: api.predict_many(
                    symbols, state.data_dir, days, paths, seed, runner, on_row, global_name=model
                ),
            )
            _show_rows(rows, plan, json_out, lambda: display.screen_table(rows, days, sort))
            return
        if plot is not None:
            api.check_plot_path(plot, state.data_dir)
        pred = api.predict(
            plan.ticker,
            state.data_dir,
            days,
            n_paths=paths,
            seed=seed,
            global_name=model,
            **risk,
        )
        if plot is not None:
            display.info(f"wrote {api.plot_prediction(pred, plot, history_days=history)}")
        for w in pred.warnings:
            display.warn(w)
        if json_out:
            import json

            display.out.print_json(json.dumps(pred.to_json()))
            return
        display.prediction_table(pred)
        display.risk_table(pred)
        display.fan(pred)


# --- backtest: walk-forward evaluation against baselines -----------------------------------------


@app.command()
def backtest(
    tickers: Tickers = None,
    universe_file: UniverseFile = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    model: ModelName = None,
    horizon: Annotated[int, ranged("horizon", "Trading days forecast from each origin.", WALK)] = 5,
    refit_every: Annotated[
        int,
        typer.Option(
            help="Refit the scaler and model every this many trading days.",
            min=1,
            rich_help_panel=WALK,
        ),
    ] = 21,
    test_days: Annotated[
        int,
        typer.Option(
            help="Walk forward over this many last trading days of the history.",
            min=1,
            rich_help_panel=WALK,
        ),
    ] = 250,
    max_train: Annotated[
        int | None,
        typer.Option(
            help="Fit each refit on at most this many last returns [default: all history].",
            min=2,
            show_default=False,
            rich_help_panel=WALK,
        ),
    ] = None,
    paths: Annotated[int, ranged("paths", "Sampled paths per origin.", WALK)] = 500,
    seed: Annotated[
        int, ranged("seed", "Seed for weights, shuffling and sampling.", WALK)
    ] = DEFAULTS["seed"],
    json_out: JsonOut = False,
    plot: Plot = None,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Also write every forecast (model, origin, h, mean, sd, bands, ...) to this CSV.",
            show_default=False,
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    window: Window = DEFAULTS["window"],
    hidden: Hidden = DEFAULTS["hidden"],
    loss: LossOpt = LOSS_DEFAULT,
    features: Features = FEATURES_DEFAULT,
    epochs: Annotated[
        int,
        ranged(
            "epochs",
            "Maximum epochs per refit (early stopping may end sooner).",
            TRAINING,
        ),
    ] = DEFAULTS["epochs"],
    batch_size: BatchSize = DEFAULTS["batch_size"],
    lr: LearningRate = DEFAULTS["lr"],
    patience: Patience = DEFAULTS["patience"],
    ensemble: Ensemble = DEFAULTS["ensemble"],
    level: Levels = None,
    var: VarLevels = None,
) -> None:
    """Walk-forward test of the RNN against random-walk, EWMA, GARCH and EGARCH baselines:
    the verdict, VaR/ES backtests and variance losses, then point and interval scores."""
    with user_errors():
        cfg = train_config(
            features,
            window=window,
            hidden=hidden,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            loss=loss,
            seed=seed,
            patience=patience,
            ensemble=ensemble,
        )
        from forecast import api  # numpy, pandas, numba: not for --help

        if plot is not None:
            api.check_plot_path(plot, state.data_dir)
        if export is not None:
            api.check_export_path(export, state.data_dir)
        options = dict(
            horizon=horizon, refit_every=refit_every, test_days=test_days, max_train=max_train
        )
        if level:
            options["levels"] = level
        if var:
            options["var_levels"] = var
        plan = api.plan(
            "backtest",
            tickers,
            universe_file,
            jobs=jobs,
            scheduler=scheduler,
            global_name=model,
            one_ticker_only={"--plot": plot, "--export": export, "--model": model},
        )
        if plan.mode == "many":
            api.compile_notice(display.info)
            rows = _run_universe(
                "backtesting",
                plan,
                jobs,
                scheduler,
                lambda symbols, runner, on_row: api.backtest_many(
                    symbols,
                    state.data_dir,
                    cfg,
                    runner,
                    on_row,
                    seed=seed,
                    n_paths=paths,
                    **options,
                ),
            )
            _show_rows(rows, plan, json_out, lambda: display.backtest_many_table(rows, horizon))
            return
        with display.fold_progress() as on_fold:
            report = api.backtest(
                plan.ticker,
                state.data_dir,
                cfg,
                global_name=model,
                **options,
                n_paths=paths,
                seed=seed,
                on_fold=on_fold,
                on_notice=display.info,
            )
        if plot is not None:
            display.info(f"wrote {api.plot_backtest(report, plot)}")
        if export is not None:
            display.info(f"wrote {api.export_backtest(report, export)} forecasts to {export}")
        if json_out:
            import json

            display.out.print_json(json.dumps(report.to_json()))
            return
        display.backtest_table(report.ticker, report.result)


# --- models / rm: what the data directory holds ---------------------------------------------------


@app.command()
def models() -> None:
    """List the trained models: trained through, options, validation score vs random walk, size."""
    with user_errors():
        from forecast import api  # numpy, pandas, numba: not for --help

        infos = api.models(state.data_dir)
        if not infos:
            display.info(f"no models in {state.data_dir} yet; run `forecast train TICKER`")
            return
        display.models_table(infos, state.data_dir)


@app.command()
def rm(
    ticker: Annotated[str, typer.Argument(metavar="TICKER", help="Symbol whose files to delete.")],
    prices: Annotated[
        bool, typer.Option("--prices", help="Delete only its cached prices.")
    ] = False,
    models: Annotated[bool, typer.Option("--models", help="Delete only its model.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Don't ask for confirmation.")] = False,
) -> None:
    """Delete a ticker's cached prices and model (both unless --prices or --models)."""
    with user_errors():
        from forecast import api  # numpy, pandas, numba: not for --help

        both = not prices and not models
        paths = api.files_of(
            ticker, state.data_dir, price_files=prices or both, model_files=models or both
        )
        if not paths:
            what = "prices or model" if both else ("prices" if prices else "model")
            raise ForecastError(
                f"no {what} for {ticker.upper()} in {state.data_dir}; nothing to delete"
            )
        display.info("will delete:")
        for p in paths:  # one line each: info() escapes control characters, newlines too
            display.info(f"  {p}")
        if not yes:
            try:
                answer = typer.confirm("delete these files?", err=True)
            except typer.Abort:  # no terminal to answer from (or Ctrl-C, Ctrl-D)
                display.err.print()
                raise ForecastError(
                    "no answer, nothing deleted; add --yes to delete without asking"
                ) from None
            if not answer:
                display.info("nothing deleted")
                return
        api.remove(ticker, state.data_dir, paths)
        display.info(f"deleted {len(paths)} file{'s' * (len(paths) != 1)}")
