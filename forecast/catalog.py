"""What the data directory holds, read light: the door `forecast list`, `models` and `rm` use.

Only JSON sidecars and file names are read, so nothing here imports numpy, pandas, numba,
scipy or yfinance: these commands answer in a few tenths of a second. forecast.api offers the
same functions to library callers.
"""

from pathlib import Path

from forecast import store
from forecast.config import resolve_data_dir
from forecast.prices import cache
from forecast.symbols import validate_symbol


def cached(data_dir: str | Path | None = None) -> list[dict]:
    """Every cached ticker's price sidecar: ticker, first, last, rows, source, fetched_at, stale.
    data_dir: a str or Path; None for the user's data directory (as the CLI finds it)."""
    return cache.list_cached(resolve_data_dir(data_dir))


def models(data_dir: str | Path | None = None) -> list[store.ModelInfo]:
    """Every trained model: ticker, trained through, options, validation loss vs random walk, size."""
    return store.models(resolve_data_dir(data_dir))


def files_of(
    ticker: str,
    data_dir: str | Path | None = None,
    *,
    price_files: bool = True,
    model_files: bool = True,
) -> list[Path]:
    """The files `remove` would delete for one ticker (its cached prices and/or its model)."""
    symbol = validate_symbol(ticker)
    return store.ticker_files(
        symbol, resolve_data_dir(data_dir), prices=price_files, models=model_files
    )


def remove(ticker: str, data_dir: str | Path | None, paths: list[Path]) -> None:
    """Delete one ticker's files listed by files_of, under the locks its saves take."""
    store.remove(validate_symbol(ticker), resolve_data_dir(data_dir), paths)
