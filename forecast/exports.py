"""Tidy tables out of forecast: long format, one row per ticker, date and horizon.

    predict    ticker, date, h, <every column of Prediction.table>, model, model_kind,
               trained_through
    backtest   model, ticker, origin, h, target_date, ... (BacktestResult.forecasts)

Columns are taken from the tables as they are, so a column added to a forecast table appears
in every export without a change here. The format follows the file's suffix: .csv (UTF-8,
ISO dates, empty cells for missing values), .parquet (needs pyarrow: the `parquet` extra;
dates as timestamps) or .json (a list of row objects, ISO dates, null for missing values).
Every file is written to a temporary file and renamed into place.

Light to import (pandas is imported where a table is built): the CLI checks the suffix while
parsing the command line.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from forecast.errors import ForecastError
from forecast.files import STDOUT_NAMES, write_output

if TYPE_CHECKING:
    import pandas as pd

SUFFIXES = (".csv", ".parquet", ".json")


def _special(path: Path) -> bool:
    """stdout ("-", /dev/stdout) or an existing FIFO or device: written in place, as CSV
    unless the name has a format's suffix (files.write_output)."""
    import os
    import stat

    if str(path) in STDOUT_NAMES:
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not path.is_dir()
    except OSError:
        return False


def check_suffix(path: str | Path) -> Path:
    """The path, or ForecastError when its suffix names no format we write (stdout, a FIFO
    and a device take CSV)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES and not _special(path):
        raise ForecastError(
            f"{path.name}: give a file name ending in .csv, .parquet or .json "
            "(the suffix chooses the format)"
        )
    return path


def prediction_table(pred) -> pd.DataFrame:
    """One prediction (pipeline.Prediction) in long format: ticker, date, h, its table's
    columns, then the model that made it (model, model_kind, trained_through)."""
    import pandas as pd

    t = pred.table
    out = pd.DataFrame({"ticker": pred.ticker, "date": t.index, "h": range(1, len(t) + 1)})
    for column in t.columns:
        out[column] = t[column].to_numpy()
    out["model"] = pred.model_name
    out["model_kind"] = pred.model_kind
    out["trained_through"] = pred.model_through
    return out


def concat(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Several tickers' long tables as one (columns in first-seen order; missing ones empty)."""
    import pandas as pd

    tables = [t for t in tables if t is not None and len(t)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def write(table: pd.DataFrame, path: str | Path) -> int:
    """Write `table` to `path` in the format its suffix names, atomically; returns its rows."""
    path = check_suffix(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        data = _parquet(table, path)
    elif suffix == ".json":
        data = _json(table)
    else:
        data = _dated(table).to_csv(index=False, lineterminator="\n").encode("utf-8")
    try:
        write_output(path, data)  # a regular file atomically; a FIFO or stdout in place
    except OSError as e:
        raise ForecastError(
            f"cannot write {path} ({e.strerror or e}); choose a writable file path"
        ) from None
    return len(table)


def _dated(table: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns as YYYY-MM-DD strings (daily data: a time of day would only mislead)."""
    import pandas as pd

    out = table.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out


def _json(table: pd.DataFrame) -> bytes:
    import json

    from forecast.jsonfile import plain

    records = _dated(table).to_dict(orient="records")
    return (json.dumps(plain(records), indent=1) + "\n").encode("utf-8")


def _parquet(table: pd.DataFrame, path: Path) -> bytes:
    try:
        import pyarrow  # noqa: F401  pandas' Parquet engine; an optional extra
    except ImportError:
        raise ForecastError(
            f"writing {path.name} needs pyarrow: pip install pyarrow "
            "(or install forecast with its [parquet] extra), or export to .csv"
        ) from None
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return buffer.getvalue()
