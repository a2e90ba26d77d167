"""The `forecast` command line: parse options, call one function of forecast.api, render the result.

The CLI imports only api, display, config and errors; api (and with it numpy, pandas, numba,
yfinance) is imported inside the commands that need it, so `forecast --help` stays fast.
`list`, `models` and `rm` use forecast.catalog instead, the light door that reads only JSON
sidecars (no numpy at all); parsing checks export suffixes, exchange and currency codes
through forecast.exports, forecast.calendars and forecast.prices.symbols.

Exit codes are Click's: 0 success, 1 a failure at run time (one `error:` line on stderr),
2 a usage error (unknown option or command, wrong type, value out of range), 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM, handled like Ctrl-C: workers stopped, no file left partial).
"""

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
from forecast.cli import progress as bars
from forecast.cli.options import (  # the options every command shares, defined once
    CELL_DEFAULT,
    DEFAULTS,
    FEATURES_DEFAULT,
    FORECAST,
    LOSS_DEFAULT,
    OUTPUT,
    RISK,
    TRAINING,
    UNIVERSE,
    WALK,
    BatchSize,
    CellOpt,
    Ensemble,
    Export,
    Features,
    Hidden,
    Jobs,
    JsonOut,
    LearningRate,
    Levels,
    LossOpt,
    ModelName,
    Patience,
    Plot,
    Scheduler,
    Tickers,
    UniverseFile,
    VarLevels,
    Window,
    currency_code,
    day,
    examples,
    exchange_code,
    ranged,
    typed_only,
)
from forecast.config import TrainConfig
from forecast.errors import (
    ForecastError,
    Terminated,
    UsageError,
    interrupted_exit_code,
    raise_terminated,
)


def _help_type(param, ctx) -> str | None:
    """What the help shows after an option: its metavar, its choices, N for a number, nothing
    for a flag or an argument (whose name says it), instead of Typer's <bool>, <list[str]>."""
    if getattr(param, "is_flag", False) or param.param_type_name == "argument":
        return None
    if param.metavar:
        return param.metavar
    label = type(param).display_type(param, ctx).strip("<>")
    if "|" in label and "%" not in label:
        return label  # choices: gaussian|mse|direction|vol
    if "%Y" in label:
        return "YYYY-MM-DD"
    names = {"int range": "N", "int": "N", "float range": "X", "float": "X", "str": "TEXT"}
    return names.get(label, label.upper())


def tidy_help(command, ctx) -> None:
    """Give every parameter of `command` (-h too) the plain help type of _help_type."""
    for param in command.get_params(ctx):
        param.display_type_rich = lambda ctx, p=param: _help_type(p, ctx)


class OneLineErrors(TyperGroup):
    """Usage errors as one `error:` line on stderr and exit code 2, like runtime errors (1);
    help without type noise."""

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            tidy_help(command, ctx)
        return command

    def format_help(self, ctx, formatter):
        tidy_help(self, ctx)
        return super().format_help(ctx, formatter)

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
        except Exception as e:  # a bug, not bad input: one line, or with --debug the traceback
            if state.debug:
                raise
            display.error(
                f"unexpected {type(e).__name__}: {e}; this is a bug in forecast: "
                "run the command again with --debug and report the traceback"
            )
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


class State:
    data_dir: Path
    debug: bool = False  # --debug: tracebacks instead of one-line errors


state = State()


@contextmanager
def user_errors():
    """Turn the library's ForecastError into one line on stderr and exit code 1 (with
    --debug, after its traceback)."""
    try:
        yield
    except UsageError as e:  # the options, found wrong by the library: Click's exit code
        display.error(str(e))
        raise typer.Exit(2) from None
    except ForecastError as e:
        if state.debug:
            import traceback

            traceback.print_exc()
        display.error(str(e))
        raise typer.Exit(1) from None
    except OSError as e:  # the file system said no: permissions, a full disk, a missing folder
        if state.debug:
            import traceback

            traceback.print_exc()
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
        from forecast import __version__

        display.out.print(f"forecast {__version__}", highlight=False)
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
            help="Where prices and models live "
            f"(default: {display.escape(str(config.default_data_dir()))}).",
            show_default=False,
            metavar="DIR",
            envvar=config.DATA_DIR_ENV,
            show_envvar=True,
            callback=typed_only,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only results (stdout) and errors: no progress or notes."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="On an error, print its traceback too (for bug reports)."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    state.debug = debug
    display.set_quiet(quiet)
    try:
        state.data_dir = config.resolve_data_dir(data_dir)
    except ForecastError as e:
        raise typer.BadParameter(str(e)) from None


def print_json(value) -> None:
    """JSON on stdout, NaN and infinities as null: data only, messages stay on stderr."""
    import json

    from forecast.jsonfile import plain

    display.out.print_json(json.dumps(plain(value)))


# --- fetch / list: cached prices -----------------------------------------------------------------


@app.command(
    epilog=examples(
        "forecast fetch AAPL MSFT ^GSPC",
        "forecast fetch AAPL --offline",
        "forecast fetch ACME --csv acme.csv",
    )
)
def fetch(
    tickers: Annotated[
        list[str] | None,
        typer.Argument(
            help="Yahoo symbols, e.g. AAPL MSFT ^GSPC BRK-B (with --csv FILE: the file's ticker; "
            "default: the file names).",
            metavar="TICKER",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="First day, YYYY-MM-DD (default: all history).",
            callback=day,
            show_default=False,
            metavar="YYYY-MM-DD",
            rich_help_panel="Range",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help="Last day, YYYY-MM-DD, inclusive (default: today).",
            callback=day,
            show_default=False,
            metavar="YYYY-MM-DD",
            rich_help_panel="Range",
        ),
    ] = None,
    csv: Annotated[
        list[Path] | None,
        typer.Option(
            "--csv",
            help="Import CSV files instead of Yahoo (a Yahoo export, or Date and Close columns): "
            "repeat it for several files; a folder means its *.csv files, each ticker from its "
            "file name (acme.csv: ACME); a file with a ticker column holds many tickers.",
            show_default=False,
            metavar="PATH",
            rich_help_panel="Source",
        ),
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option(
            help="With --csv: the exchange the prices trade on, an exchange_calendars code "
            "(XNYS, XLON, XTKS, ...); forecasts count its sessions (default: the one the "
            "ticker's Yahoo suffix names, e.g. .L: XLON, else XNYS).",
            show_default=False,
            metavar="CODE",
            callback=exchange_code,
            rich_help_panel="Source",
        ),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(
            help="With --csv: the prices' currency, an ISO 4217 code (USD, EUR, GBp, ...), "
            "shown with every forecast.",
            show_default=False,
            metavar="CODE",
            callback=currency_code,
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
    json_out: JsonOut = False,
) -> None:
    """Download daily prices from Yahoo into the data directory (only new days after the first)."""
    start_day, end_day = start, end  # dates already (day)
    tickers = tickers or []
    if csv:
        if len(tickers) > 1 or (tickers and len(csv) > 1):
            raise typer.BadParameter(
                "give one TICKER with one --csv FILE, or none: then each file's name (or its "
                "ticker column) names its ticker"
            )
        if start_day or end_day or offline:
            raise typer.BadParameter("--start, --end and --offline do not apply to --csv imports")
    elif exchange or currency:
        raise typer.BadParameter("--exchange and --currency describe --csv imports; add --csv")
    elif not tickers:
        raise typer.BadParameter("give the TICKER symbols to fetch (or --csv FILES to import)")
    with user_errors():
        from forecast import api  # numpy, pandas, numba: not for --help

        if csv:
            _import_csvs(api, csv, tickers[0] if tickers else None, exchange, currency, json_out)
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
        if json_out:
            print_json([r.to_json() for r in results])
        elif results:
            display.fetch_table(results)
        if failed:
            names = ", ".join(failed)
            raise ForecastError(f"{len(failed)} of {len(symbols)} tickers failed: {names}")


def _import_csvs(api, paths, ticker, exchange, currency, json_out) -> None:
    """fetch --csv: import every file, one summary, then exit 1 naming the files that failed."""
    with display.status(f"importing {len(paths)} path{'s' * (len(paths) != 1)}"):
        results, failures = api.import_csvs(
            paths, state.data_dir, ticker=ticker, exchange=exchange, currency=currency
        )
    for r in results:
        if r.warning:
            display.warn(r.warning)
    for label, why in failures.items():
        if len(results) + len(failures) > 1:  # parse errors name their file already
            display.error(why if label.split(" ")[0] in why else f"{label}: {why}")
    if json_out:
        print_json([r.to_json() for r in results])
    elif results:
        display.fetch_table(results)
    if failures:
        if len(results) + len(failures) == 1:
            raise ForecastError(next(iter(failures.values())))
        names = ", ".join(list(failures)[:10]) + (", …" if len(failures) > 10 else "")
        n = len(results) + len(failures)
        raise ForecastError(f"{len(failures)} of {n} imports failed ({names}); see the lines above")


@app.command("list", epilog=examples("forecast list", "forecast list --json"))
def list_cached(json_out: JsonOut = False) -> None:
    """Show the cached tickers: date range, rows, source and whether they are stale."""
    with user_errors():
        from forecast import catalog  # sidecars only: no numpy, pandas or numba

        entries = catalog.cached(state.data_dir)
        if json_out:
            print_json(entries)
            return
        if not entries:
            display.info(f"no prices in {state.data_dir} yet; run `forecast fetch TICKER`")
            return
        display.cached_table(entries, state.data_dir)


# --- train / predict: the model ------------------------------------------------------------------


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
            with bars.UniverseProgress(len(plan.tickers), verb, runner.where) as progress:
                return work(plan.tickers, runner, progress)
    except KeyboardInterrupt as e:
        display.error(
            f"{_stopped(e)}; workers stopped; files saved before it are complete, none is partial"
        )
        raise typer.Exit(interrupted_exit_code(e)) from None


def _export_owns_stdout(export: Path | None, json_out: bool) -> bool:
    """Whether `--export -` (or /dev/stdout) makes the export CSV this command's stdout: then
    no table is printed into it, and --json, a second format on the same stream, is refused."""
    from forecast.files import STDOUT_NAMES

    if export is None or str(export) not in STDOUT_NAMES:
        return False
    if json_out:
        raise typer.BadParameter(
            f"--json and --export {export} would both write to stdout; "
            "give --export a file name, or leave out --json",
            param_hint="'--export'",
        )
    return True


def _show_rows(rows, plan, json_out: bool, table, quiet: bool = False) -> None:
    """Many tickers' rows as a JSON list (--json) or table() (neither when quiet: stdout is
    the export's), then exit 1 if any failed."""
    if json_out:
        print_json([r.to_json() for r in rows])
    elif not quiet:
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


@app.command(
    epilog=examples(
        "forecast train AAPL",
        "forecast train SPY QQQ GLD --global MARKETS",
        "forecast train AAPL --loss gaussian --hidden 32",
    )
)
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
    cell: CellOpt = CELL_DEFAULT,
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
    json_out: JsonOut = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace a model of the same name trained on other tickers (a global model).",
            rich_help_panel=UNIVERSE,
        ),
    ] = False,
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
            cell=cell,
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
            with bars.EpochProgress(cfg.epochs) as progress:
                report = api.train_global(
                    plan.global_name,
                    plan.tickers,
                    state.data_dir,
                    cfg,
                    on_epoch=progress,
                    on_notice=display.info,
                    force=force,
                )
                progress.stop_early()
            for t, why in report.failed.items():
                display.warn(f"{t} left out of {report.name}: {why}")
            if json_out:
                print_json(report.to_json())
            else:
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
            _show_rows(rows, plan, json_out, lambda: display.train_many_table(rows))
            return
        with bars.EpochProgress(cfg.epochs) as progress:
            report = api.train(
                plan.ticker,
                state.data_dir,
                cfg,
                on_epoch=progress,
                on_notice=display.info,
                force=force,
            )
            progress.stop_early()
        if json_out:
            print_json(report.to_json())
        else:
            display.train_summary(report)


@app.command(
    epilog=examples(
        "forecast predict AAPL --days 10",
        "forecast predict --universe watch.txt --export screen.csv",
        "forecast predict AAPL --json > aapl.json",
    )
)
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
    export: Export = None,
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
        if export is not None:
            api.check_export_path(export, state.data_dir)
        quiet = _export_owns_stdout(export, json_out)
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
                    symbols,
                    state.data_dir,
                    days,
                    paths,
                    seed,
                    runner,
                    on_row,
                    global_name=model,
                    keep_forecasts=export is not None,
                ),
            )
            if export is not None:
                display.info(f"wrote {api.export_rows(rows, export)} forecasts to {export}")
            _show_rows(rows, plan, json_out, lambda: display.screen_table(rows, days, sort), quiet)
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
        if model is None and pred.model_kind == "global":  # the newest: say so, and the other
            display.info(
                f"using {pred.model_label}, the newest model trained on {pred.ticker}; "
                f"`--model own` forecasts with {pred.ticker}'s own"
            )
        if plot is not None:
            display.info(f"wrote {api.plot_prediction(pred, plot, history_days=history)}")
        if export is not None:
            display.info(f"wrote {api.export_prediction(pred, export)} forecasts to {export}")
        for w in pred.warnings:
            display.warn(w)
        if json_out:
            print_json(pred.to_json())
            return
        if quiet:
            return
        display.prediction_table(pred)
        display.risk_table(pred)
        display.fan(pred)


# --- backtest: walk-forward evaluation against baselines -----------------------------------------


@app.command(
    epilog=examples(
        "forecast backtest AAPL --test-days 250",
        "forecast backtest AAPL MSFT --export backtests.parquet",
    )
)
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
    export: Export = None,
    window: Window = DEFAULTS["window"],
    hidden: Hidden = DEFAULTS["hidden"],
    loss: LossOpt = LOSS_DEFAULT,
    cell: CellOpt = CELL_DEFAULT,
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
            cell=cell,
            seed=seed,
            patience=patience,
            ensemble=ensemble,
        )
        from forecast import api  # numpy, pandas, numba: not for --help

        if plot is not None:
            api.check_plot_path(plot, state.data_dir)
        if export is not None:
            api.check_export_path(export, state.data_dir)
        quiet = _export_owns_stdout(export, json_out)
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
            one_ticker_only={"--plot": plot, "--model": model},
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
                    keep_forecasts=export is not None,
                    **options,
                ),
            )
            if export is not None:
                display.info(f"wrote {api.export_rows(rows, export)} forecasts to {export}")
            _show_rows(
                rows, plan, json_out, lambda: display.backtest_many_table(rows, horizon), quiet
            )
            return
        with bars.fold_progress() as on_fold:
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
            print_json(report.to_json())
            return
        if not quiet:
            display.backtest_table(report.ticker, report.result, report.model_label)


# --- models / rm: what the data directory holds ---------------------------------------------------


@app.command(epilog=examples("forecast models", "forecast models --json"))
def models(json_out: JsonOut = False) -> None:
    """List the trained models: trained through, options, validation score vs random walk, size."""
    with user_errors():
        from forecast import catalog  # sidecars only: no numpy, pandas or numba

        infos = catalog.models(state.data_dir)
        if json_out:
            print_json([m.to_json() for m in infos])
            return
        if not infos:
            display.info(f"no models in {state.data_dir} yet; run `forecast train TICKER`")
            return
        display.models_table(infos, state.data_dir)


@app.command(
    epilog=examples(
        "forecast rm AAPL --models", "forecast rm AAPL --yes", "forecast rm X -y --json"
    )
)
def rm(
    ticker: Annotated[str, typer.Argument(metavar="TICKER", help="Symbol whose files to delete.")],
    prices: Annotated[
        bool, typer.Option("--prices", help="Delete only its cached prices.")
    ] = False,
    models: Annotated[bool, typer.Option("--models", help="Delete only its model.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Don't ask for confirmation.")] = False,
    json_out: JsonOut = False,
) -> None:
    """Delete a ticker's cached prices and model (both unless --prices or --models)."""
    with user_errors():
        from forecast import catalog  # sidecars only: no numpy, pandas or numba

        both = not prices and not models
        paths = catalog.files_of(
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
                if json_out:
                    print_json({"ticker": ticker.upper(), "deleted": []})
                return
        catalog.remove(ticker, state.data_dir, paths)
        display.info(f"deleted {len(paths)} file{'s' * (len(paths) != 1)}")
        if json_out:
            print_json({"ticker": ticker.upper(), "deleted": [str(p) for p in paths]})
