"""Where `forecast` keeps its files: the data directory and its layout."""

import os
from pathlib import Path

DEFAULT_DATA_DIR = Path("data")  # relative to the working directory, like git's .git


def resolve_data_dir(option: Path | None = None) -> Path:
    """--data-dir wins, then $FORECAST_DATA_DIR, then ./data."""
    if option is not None:
        return Path(option)
    env = os.environ.get("FORECAST_DATA_DIR")
    return Path(env) if env else DEFAULT_DATA_DIR


def prices_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "prices"


def models_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "models"


def yfinance_cache_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "yfinance"
