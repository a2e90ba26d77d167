"""The `forecast` command line: parse options, call one library function, render the result.

Heavy modules (numpy, pandas, numba, yfinance) are imported inside the commands that need
them, so `forecast --help` stays fast.
"""

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from forecast import display
from forecast.config import DEFAULT_DATA_DIR, resolve_data_dir
from forecast.errors import ForecastError

app = typer.Typer(
    help="Honest stock forecasts from a hand-written, Numba-compiled RNN.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class State:
    data_dir: Path = DEFAULT_DATA_DIR


state = State()


@contextmanager
def user_errors():
    """Turn the library's ForecastError into one line on stderr and exit code 1."""
    try:
        yield
    except ForecastError as e:
        display.error(str(e))
        raise typer.Exit(1) from None
    except OSError as e:  # the file system said no: permissions, a full disk, a missing folder
        target = e.filename2 or e.filename  # a failed rename names the temporary file first
        where = f" {target}" if target else ""
        display.error(f"cannot use{where}: {e.strerror or e}; check the path and its permissions")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        display.error("interrupted; files on disk are unchanged")
        raise typer.Exit(130) from None


@app.callback()
def main(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where prices and models live [env: FORECAST_DATA_DIR; default: ./data].",
            show_default=False,
        ),
    ] = None,
) -> None:
    state.data_dir = resolve_data_dir(data_dir)


# --- fetch / list: the price data layer (forecast/prices.py) ---------------------------------


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
        typer.Option(help="First day, YYYY-MM-DD [default: all history].", show_default=False),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(help="Last day (inclusive), YYYY-MM-DD [default: today].", show_default=False),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Import this CSV (Yahoo export, or Date and Close columns) instead of Yahoo.",
            show_default=False,
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Don't contact Yahoo: use the cache or the shipped sample."),
    ] = False,
) -> None:
    """Download daily prices from Yahoo into the data directory (only new days after the first)."""
    with user_errors():
        from forecast import prices

        start_day = prices.parse_date(start, "--start")
        end_day = prices.parse_date(end, "--end")
        if csv is not None:
            if len(tickers) != 1:
                raise ForecastError("--csv imports one ticker; give exactly one symbol with it")
            if start_day or end_day or offline:
                raise ForecastError("--start, --end and --offline do not apply to --csv imports")
            result = prices.import_csv(tickers[0], csv, state.data_dir)
            if result.warning:
                display.warn(result.warning)
            display.fetch_table([result])
            return
        results, failed = [], []
        client = prices.Yahoo()  # remembers a network failure for the next ticker
        # all symbols checked before any is fetched: a typo costs one line, not a half-done run
        symbols = list(dict.fromkeys(prices.validate_symbol(t) for t in tickers))
        for ticker in symbols:
            try:
                with display.status(f"fetching {ticker}") as on_status:
                    result = prices.fetch(
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
        from forecast import prices

        entries = prices.list_cached(state.data_dir)
        if not entries:
            display.info(f"no prices in {state.data_dir} yet; run `forecast fetch TICKER`")
            return
        display.cached_table(entries)


# --- train / predict: the model (forecast/api.py) ---------------------------------------------

# The model options train and backtest share: one definition, one help text.
Window = Annotated[int, typer.Option(help="T: trading days the RNN reads per forecast.")]
Hidden = Annotated[int, typer.Option(help="H: hidden units.")]
BatchSize = Annotated[int, typer.Option(help="Windows per Adam step.")]
LearningRate = Annotated[float, typer.Option(help="Adam learning rate.")]
Loss = Annotated[
    str, typer.Option(help="Head: gaussian (mu, sigma), mse (point) or direction (P(up)).")
]
Patience = Annotated[
    int, typer.Option(help="Epochs without validation improvement before stopping.")
]
Features = Annotated[
    str, typer.Option(help="Inputs per day, comma-separated from: return, range, volume.")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


def train_config(features: str, **options):
    """TrainConfig from CLI options (features given as "return,range"), validated."""
    from forecast.config import TrainConfig

    names = tuple(f.strip() for f in features.split(",") if f.strip())
    return TrainConfig(features=names, **options).validate()


@app.command()
def train(
    ticker: Annotated[
        str | None,
        typer.Argument(
            help="Symbol to train on [default: the most recently fetched].", show_default=False
        ),
    ] = None,
    window: Window = 60,
    hidden: Hidden = 32,
    epochs: Annotated[
        int, typer.Option(help="Maximum epochs (early stopping may end sooner).")
    ] = 30,
    batch_size: BatchSize = 64,
    lr: LearningRate = 2e-3,
    loss: Loss = "gaussian",
    seed: Annotated[
        int, typer.Option(help="Seed for weights and shuffling: same seed, same model.")
    ] = 0,
    patience: Patience = 5,
    features: Features = "return",
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
        )
        from forecast import api
        from forecast.kernels import is_cached

        def compile_notice():
            if not is_cached():
                display.info("compiling the Numba kernels (first run only, about 15 s)…")

        with display.EpochProgress(cfg.epochs) as progress:
            report = api.train(
                ticker, state.data_dir, cfg, on_epoch=progress, on_start=compile_notice
            )
            progress.stop_early()
        display.train_summary(report)


@app.command()
def predict(
    ticker: Annotated[
        str | None,
        typer.Argument(
            help="Symbol to forecast [default: the most recently fetched].", show_default=False
        ),
    ] = None,
    days: Annotated[int, typer.Option(help="Trading days ahead, 1 to 60.")] = 5,
    paths: Annotated[int, typer.Option(help="Sampled paths (more: smoother quantiles).")] = 2000,
    seed: Annotated[
        int | None,
        typer.Option(help="Sampling seed [default: the model's seed].", show_default=False),
    ] = None,
    json_out: JsonOut = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Also write the fan chart to this PNG (needs matplotlib).", show_default=False
        ),
    ] = None,
) -> None:
    """Forecast the next trading days: median, calibrated 80%/95% bands, P(up), fan chart."""
    with user_errors():
        if plot is not None and plot.suffix.lower() != ".png":
            raise ForecastError(
                f"--plot writes PNG images; give a file name ending in .png, not {plot.name}"
            )
        if plot is not None and not plot.parent.is_dir():
            raise ForecastError(f"--plot: the folder {plot.parent} does not exist; create it first")
        from forecast import api

        pred = api.predict(ticker, state.data_dir, days, n_paths=paths, seed=seed)
        if plot is not None:
            from forecast.plot import write_fan_png

            write_fan_png(plot, **pred.fan_series(), title=f"{pred.ticker}: {days}-day forecast")
            display.info(f"wrote {plot}")
        for w in pred.warnings:
            display.warn(w)
        if json_out:
            import json

            display.out.print_json(json.dumps(pred.to_json()))
            return
        display.prediction_table(pred)
        display.fan(pred)


# --- backtest: walk-forward evaluation against baselines (forecast/backtest.py) ---------------


@app.command()
def backtest(
    ticker: Annotated[
        str | None,
        typer.Argument(
            help="Symbol to backtest [default: the most recently fetched].", show_default=False
        ),
    ] = None,
    horizon: Annotated[
        int, typer.Option(help="Trading days forecast from each origin, 1 to 60.")
    ] = 5,
    refit_every: Annotated[
        int, typer.Option(help="Refit the scaler and model every this many trading days.")
    ] = 21,
    test_days: Annotated[
        int, typer.Option(help="Walk forward over this many last trading days of the history.")
    ] = 250,
    paths: Annotated[int, typer.Option(help="Sampled paths per origin.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed for weights, shuffling and sampling.")] = 0,
    json_out: JsonOut = False,
    window: Window = 60,
    hidden: Hidden = 32,
    epochs: Annotated[
        int,
        typer.Option(help="Maximum epochs per refit (lower than train's 30: one fit per refit)."),
    ] = 15,
    batch_size: BatchSize = 64,
    lr: LearningRate = 2e-3,
    loss: Loss = "gaussian",
    patience: Patience = 5,
    features: Features = "return",
) -> None:
    """Walk-forward test of the RNN against random-walk baselines on the same days."""
    with user_errors():
        from forecast import prices
        from forecast.backtest import run_backtest

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
        )
        symbol = (
            prices.validate_symbol(ticker)
            if ticker is not None
            else prices.latest_ticker(state.data_dir)
        )
        frame = prices.load_prices(symbol, state.data_dir)
        options = dict(horizon=horizon, refit_every=refit_every, test_days=test_days)
        import warnings

        with display.fold_progress() as on_fold, warnings.catch_warnings():
            # constant prices make some scores 0/0: they show as nan or –, NumPy need not shout
            warnings.simplefilter("ignore", RuntimeWarning)
            result = run_backtest(frame, cfg, **options, n_paths=paths, seed=seed, on_fold=on_fold)
        if json_out:
            import json

            display.out.print_json(json.dumps({"ticker": symbol, **result.to_json()}))
            return
        display.backtest_table(symbol, result)
