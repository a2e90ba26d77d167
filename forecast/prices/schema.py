"""The one price schema: symbols, dates, columns, and Yahoo frames brought into it.

Every frame that leaves forecast.prices has index "Date" (tz-naive midnight, unique, sorted) and
exactly COLUMNS: the five prices float64, finite and > 0; Volume int64 >= 0; the actions float64
>= 0 (0.0 on days without an event).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from forecast.calendars import exchange_for
from forecast.errors import ForecastError
from forecast.symbols import (  # noqa: F401  part of the schema's names too
    STALE_DAYS,
    is_stale,
    parse_date,
    validate_symbol,
)

COLUMNS = ["Open", "High", "Low", "Close", "Adj Close", "Volume", "Dividends", "Stock Splits"]
PRICES = ["Open", "High", "Low", "Close", "Adj Close"]  # float64, must be finite and > 0
ACTIONS = ["Dividends", "Stock Splits"]  # float64, 0.0 on days without an event

# --- symbols and dates ---------------------------------------------------------------------------


def exchange_of(ticker: str, frame: pd.DataFrame, recorded: str | None = None) -> str:
    """The calendar of a ticker's prices: the exchange given when they were imported
    (frame.attrs, from the cache's sidecar), else `recorded` (what a model file wrote down),
    else the one its Yahoo suffix names."""
    return str(frame.attrs.get("exchange") or recorded or "") or exchange_for(ticker)


def day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


# --- the schema ----------------------------------------------------------------------------------


def no_data(ticker: str) -> ForecastError:
    return ForecastError(
        f"no price data for {ticker}: unknown or delisted ticker? "
        "check the symbol on finance.yahoo.com"
    )


def to_schema(df: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns on a tz-naive daily DatetimeIndex -> exactly COLUMNS, sorted, unique."""
    close = df["Close"].astype("float64")
    out = pd.DataFrame(index=df.index)
    for c in ("Open", "High", "Low"):
        out[c] = df[c].astype("float64").fillna(close) if c in df else close
    out["Close"] = close
    adj = df["Adj Close"].astype("float64").fillna(close) if "Adj Close" in df else close
    out["Adj Close"] = adj
    if "Volume" in df:
        out["Volume"] = np.round(df["Volume"].astype("float64").fillna(0.0)).astype("int64")
    else:
        out["Volume"] = 0
    for c in ACTIONS:
        out[c] = df[c].astype("float64").fillna(0.0) if c in df else 0.0
    out = out.astype({c: "float64" for c in COLUMNS if c != "Volume"} | {"Volume": "int64"})
    out.index = pd.DatetimeIndex(out.index).as_unit("ns")
    out.index.name = "Date"
    out = out.sort_index()
    return out[~out.index.duplicated(keep="last")]


def _select_ticker(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """download()'s (Price, Ticker) columns -> one ticker's flat Price columns."""
    cols = frame.columns
    names = list(cols.names)
    if "Ticker" in names:
        level = names.index("Ticker")
    else:  # unnamed levels: the ticker level is the one that holds the symbol
        level = next((i for i in range(cols.nlevels) if ticker in cols.get_level_values(i)), 1)
    symbols = list(dict.fromkeys(cols.get_level_values(level)))
    if ticker not in symbols:
        if len(symbols) != 1:
            raise no_data(ticker)
        ticker = symbols[0]  # a single-ticker download under another spelling
    flat = frame.xs(ticker, axis=1, level=level)
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = flat.columns.get_level_values(0)
    return flat


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """Numeric Yahoo columns -> values the cache loader (csvfile.parse_csv) accepts.

    A row whose Close or Adj Close is not a positive number is dropped: there is no price to
    fill it from. A bad Open/High/Low becomes NaN, which to_schema fills from Close; a bad
    Volume, Dividends or Stock Splits becomes NaN, which to_schema fills with 0.
    """

    def positive(c: str) -> pd.Series:
        return np.isfinite(df[c]) & (df[c] > 0)

    keep = positive("Close")
    if "Adj Close" in df:
        keep &= positive("Adj Close")
    df = df[keep].copy()
    for c in ("Open", "High", "Low"):
        if c in df:
            df[c] = df[c].where(positive(c))
    for c in ("Volume", *ACTIONS):
        if c in df:
            ok = np.isfinite(df[c]) & (df[c] >= 0)
            if c == "Volume":
                ok &= df[c] < 1e18  # the loader refuses what would overflow int64
            df[c] = df[c].where(ok)
    return df


def crossed(frame: pd.DataFrame) -> pd.Series:
    """The days of a schema frame whose High is below its Low: their range log(High/Low)
    would be negative, which no volatility input can read."""
    return frame["High"] < frame["Low"]


def uncross(frame: pd.DataFrame) -> pd.DataFrame:
    """frame with each crossed day's High and Low set to its Close, as for a missing one."""
    bad = crossed(frame)
    if bad.any():
        frame = frame.copy()
        frame.loc[bad, ["High", "Low"]] = frame.loc[bad, ["Close", "Close"]].to_numpy()
    return frame


def normalize(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """Any yfinance 1.7 price frame (history() or download()) -> the one schema of this package.

    Dates become tz-naive midnights of the exchange-local trading day. Prices follow the rules
    of the CSV loader, so whatever is cached here loads again: rows whose Close or Adj Close is
    missing, infinite or not positive are dropped (Yahoo sends such rows now and then), such an
    Open/High/Low becomes Close, so do the High and Low of a day whose High is below its Low
    (uncross), and a missing or negative Volume, Dividends or Stock Splits becomes 0.

    A frame without an Adj Close column (download()'s auto_adjust=True shape) already has
    adjusted Open/High/Low/Close, so Adj Close = Close is exact there, not an approximation;
    note that Close is then the adjusted close, not the traded one.
    """
    if frame is None or len(frame) == 0 or frame.shape[1] == 0:
        raise no_data(ticker)
    df = _select_ticker(frame, ticker) if isinstance(frame.columns, pd.MultiIndex) else frame
    df = df.rename(columns=lambda c: str(c).strip())
    if "Close" not in df.columns:
        raise ForecastError(f"price data for {ticker} has no Close column; fetch it again")
    index = pd.DatetimeIndex(df.index)
    if index.tz is not None:
        # history() stamps midnight exchange time; dropping the tz keeps that local date
        index = index.tz_localize(None)
    df = df.set_axis(index.normalize(), axis=0)
    df = _clean(df.apply(pd.to_numeric, errors="coerce").astype("float64"))
    if len(df) == 0:
        raise no_data(ticker)
    return uncross(to_schema(df))


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the dates (int64 ns) and Adj Close (float64 little-endian): what a model saw."""
    dates = pd.DatetimeIndex(frame.index).as_unit("ns").asi8.astype("<i8")
    adj = frame["Adj Close"].to_numpy(dtype="<f8")
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(dates).tobytes())
    h.update(np.ascontiguousarray(adj).tobytes())
    return h.hexdigest()
