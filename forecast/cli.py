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
