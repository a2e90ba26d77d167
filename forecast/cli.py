"""The `forecast` command line: parse options, call one library function, render the result.

Heavy modules (numpy, pandas, numba, yfinance) are imported inside the commands that need
them, so `forecast --help` stays fast.
"""

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from forecast import display
from forecast.config import resolve_data_dir
from forecast.errors import ForecastError

app = typer.Typer(
    help="Honest stock forecasts from a hand-written, Numba-compiled RNN.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class State:
    data_dir: Path = Path("data")


state = State()


@contextmanager
def user_errors():
    """Turn the library's ForecastError into one line on stderr and exit code 1."""
    try:
        yield
    except ForecastError as e:
        display.error(str(e))
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
            display.fetch_table([result])
            return
        results, failed = [], []
        symbols = list(dict.fromkeys(t.strip().upper() for t in tickers))
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


# --- backtest: walk-forward evaluation against baselines (forecast/backtest.py) ---------------
