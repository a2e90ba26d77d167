"""Fetch, cache, load and validate daily price history: the only module that touches the network."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.config import prices_dir, yfinance_cache_dir
from forecast.errors import ForecastError
from forecast.files import atomic_write_bytes, atomic_write_json

# The one schema every frame leaves this module in: index "Date" (tz-naive midnight), these columns.
COLUMNS = ["Open", "High", "Low", "Close", "Adj Close", "Volume", "Dividends", "Stock Splits"]
PRICES = ["Open", "High", "Low", "Close", "Adj Close"]  # float64, must be finite and > 0
ACTIONS = ["Dividends", "Stock Splits"]  # float64, 0.0 on days without an event

MIN_ROWS = 30  # an imported CSV shorter than this cannot feed a model (windows + validation)
STALE_DAYS = 4  # a long weekend plus a holiday; older than this and `forecast list` says stale
BACKOFF = 1.0  # seconds before the first retry after a rate limit; doubles on each retry
SAMPLES = {"AAPL": "AAPL.csv", "^GSPC": "GSPC.csv"}  # shipped in forecast/samples, read-only

_SYMBOL = re.compile(r"[A-Z0-9^][A-Z0-9.\-^=]*")  # Yahoo symbols: BRK-B, ^GSPC, EURUSD=X, 7203.T
_MAX_SYMBOL = 15
_MISSING = {"", "null", "nan", "NaN", "NA", "N/A", "None", "none", "-"}  # blanks in CSV exports
_OLDEST, _NEWEST = pd.Timestamp("1800-01-01"), pd.Timestamp("2200-01-01")  # inside datetime64[ns]

_sleep = time.sleep  # replaced in tests so backoff never really sleeps
_yf_cache_location: str | None = None  # where yfinance's SQLite caches were pointed last
_network_failed = False  # after a DNS failure yfinance answers with empty frames, not errors

Status = Callable[[str], None]


@dataclass(frozen=True, eq=False)  # eq=False: comparing DataFrames elementwise is not equality
class FetchResult:
    ticker: str
    frame: pd.DataFrame  # the whole cached history in the schema above, not just the new rows
    source: str  # "yahoo" | "csv" | "sample" | "cache"
    path: Path  # the cache CSV
    warning: str | None = None  # set when falling back to the cache or the shipped sample
    new_rows: int = 0  # trading days not in the cache before this call


class _Unreachable(Exception):
    """Yahoo gave no usable answer: no network, no answer in time, or rate-limited throughout."""


# --- symbols and dates ---------------------------------------------------------------------------


def validate_symbol(symbol: str) -> str:
    """Return the upper-cased symbol, or raise ForecastError before it can become a path."""
    s = str(symbol).strip().upper()
    if not s:
        raise ForecastError("empty ticker symbol; give one like AAPL or ^GSPC")
    if any(c.isspace() for c in s):
        raise ForecastError(f"ticker {s!r} contains spaces; give one symbol per argument")
    if len(s) > _MAX_SYMBOL:
        raise ForecastError(f"ticker {s[:20]!r} is longer than {_MAX_SYMBOL} characters")
    if not s.isascii() or not _SYMBOL.fullmatch(s):
        raise ForecastError(
            f"invalid ticker {s!r}: use letters, digits and . - ^ = only, "
            "starting with a letter, a digit or ^ (e.g. AAPL, BRK-B, ^GSPC)"
        )
    return s


def parse_date(value: str | dt.date | None, name: str = "date") -> dt.date | None:
    """'YYYY-MM-DD' (or a date) -> date; None stays None; anything else is a ForecastError."""
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ForecastError(f"{name} {value!r} is not a date; use YYYY-MM-DD") from None


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _is_stale(last: dt.date, today: dt.date | None = None) -> bool:
    return last < (today or dt.date.today()) - dt.timedelta(days=STALE_DAYS)


# --- the schema ----------------------------------------------------------------------------------


def _no_data(ticker: str) -> ForecastError:
    return ForecastError(
        f"no price data for {ticker}: unknown or delisted ticker? "
        "check the symbol on finance.yahoo.com"
    )


def _to_schema(df: pd.DataFrame) -> pd.DataFrame:
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
            raise _no_data(ticker)
        ticker = symbols[0]  # a single-ticker download under another spelling
    flat = frame.xs(ticker, axis=1, level=level)
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = flat.columns.get_level_values(0)
    return flat


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """Numeric Yahoo columns -> values the cache loader (_parse_numbers) accepts.

    A row whose Close or Adj Close is not a positive number is dropped: there is no price to
    fill it from. A bad Open/High/Low becomes NaN, which _to_schema fills from Close; a bad
    Volume, Dividends or Stock Splits becomes NaN, which _to_schema fills with 0.
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


def normalize(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """Any yfinance 1.7 price frame (history() or download()) -> the one schema of this module.

    Dates become tz-naive midnights of the exchange-local trading day. Prices follow the rules
    of the CSV loader, so whatever is cached here loads again: rows whose Close or Adj Close is
    missing, infinite or not positive are dropped (Yahoo sends such rows now and then), such an
    Open/High/Low becomes Close, and a missing or negative Volume, Dividends or Stock Splits
    becomes 0.

    A frame without an Adj Close column (download()'s auto_adjust=True shape) already has
    adjusted Open/High/Low/Close, so Adj Close = Close is exact there, not an approximation;
    note that Close is then the adjusted close, not the traded one.
    """
    if frame is None or len(frame) == 0 or frame.shape[1] == 0:
        raise _no_data(ticker)
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
        raise _no_data(ticker)
    return _to_schema(df)


# --- CSV files ------------------------------------------------------------------------------------

_ALIASES = {
    "date": "Date",
    "datetime": "Date",
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "adj close": "Adj Close",
    "adj_close": "Adj Close",
    "adjclose": "Adj Close",
    "adjusted close": "Adj Close",
    "volume": "Volume",
    "dividends": "Dividends",
    "stock splits": "Stock Splits",
}
_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def _parse_dates(text: pd.Series, label: str) -> pd.DatetimeIndex:
    blank = text.isin(_MISSING)
    if blank.any():
        raise ForecastError(f"{label}: row {int(blank.argmax()) + 2} has no date; remove it")
    parsed = None
    for fmt in ("ISO8601", None):  # ISO first; else one format inferred from the first row
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "could not infer format" chatter
                d = pd.to_datetime(text, format=fmt, errors="coerce")
            if d.dt.tz is not None:
                d = d.dt.tz_localize(None)  # keep the local wall-clock date
        except (ValueError, TypeError, OverflowError):  # mixed time zones, absurd years
            continue
        if parsed is None or d.notna().sum() > parsed.notna().sum():
            parsed = d
        if d.notna().all():
            break
    bad = text if parsed is None else text[~((parsed >= _OLDEST) & (parsed < _NEWEST))]
    if len(bad):  # NaT compares False, so it lands here too
        example = bad.iloc[0][:30]
        raise ForecastError(f"{label}: cannot parse date {example!r}; use YYYY-MM-DD dates")
    dates = pd.DatetimeIndex(parsed).normalize().as_unit("ns")
    dup = dates.duplicated()
    if dup.any():
        raise ForecastError(
            f"{label}: date {_day(dates[dup][0])} appears more than once; keep one row per day"
        )
    return dates


def _parse_numbers(
    text: pd.Series, col: str, dates: pd.DatetimeIndex, label: str, *, fill: float | None
) -> pd.Series:
    """Strings -> float64; blanks become `fill` (or are an error when fill is None)."""
    blank = text.isin(_MISSING)
    if fill is None and blank.any():
        at = _day(dates[int(blank.argmax())])
        raise ForecastError(f"{label}: {col} is missing on {at}; fill in or remove that row")
    values = pd.to_numeric(text.where(~blank, None), errors="coerce").astype("float64")
    junk = values.isna() & ~blank
    if junk.any():
        i = int(junk.argmax())
        raise ForecastError(
            f"{label}: {col} on {_day(dates[i])} is not a number ({text.iloc[i][:20]!r}); "
            "fix that cell"
        )
    values = values.fillna(fill if fill is not None else np.nan)
    bad = ~np.isfinite(values) | (values <= 0 if col in PRICES else values < 0)
    if col == "Volume":
        bad |= values >= 1e18  # would overflow int64
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        need = "positive" if col in PRICES else "zero or positive"
        raise ForecastError(
            f"{label}: {col} on {_day(dates[i])} is {values.iloc[i]:g}; {col} must be {need}"
        )
    return values


def _parse_csv(data: bytes, label: str, min_rows: int) -> pd.DataFrame:
    """CSV bytes -> the schema, or ForecastError saying what is wrong. Nothing else escapes."""
    try:
        with warnings.catch_warnings():
            # a row longer than the header would be silently cut: make that an error instead
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(
                io.BytesIO(data),
                dtype=str,
                keep_default_na=False,  # blanks stay "" so we can say which cell is missing
                index_col=False,
                encoding="utf-8-sig",
            )
    except pd.errors.ParserWarning:
        raise ForecastError(
            f"{label}: some rows have more fields than the header; check the separator and quoting"
        ) from None
    except Exception as e:  # pandas' parser raises a zoo of types (Unicode, Parser, EmptyData...)
        reason = str(e).splitlines()[0][:80] if str(e) else type(e).__name__
        raise ForecastError(
            f"{label} is not a readable CSV file ({reason}); export prices as CSV with a header "
            f"like {_HEADER}"
        ) from None
    found: dict[str, str] = {}
    for c in raw.columns:
        name = _ALIASES.get(str(c).strip().lower())
        if name and name not in found:
            found[name] = c
    for need in ("Date", "Close"):
        if need not in found:
            raise ForecastError(
                f"{label} has no {need} column; the first line must be a header like {_HEADER}"
            )
    text = {name: raw[c].astype(str).str.strip() for name, c in found.items()}
    dates = _parse_dates(text["Date"], label)
    cols = {}
    for name in COLUMNS:
        if name in text:
            fill = 0.0 if name in ("Volume", *ACTIONS) else None
            cols[name] = _parse_numbers(text[name], name, dates, label, fill=fill).to_numpy()
    if len(dates) < min_rows:
        raise ForecastError(
            f"{label} has only {len(dates)} rows; need at least {min_rows} trading days"
        )
    return _to_schema(pd.DataFrame(cols, index=dates))


def read_price_csv(path: str | Path, ticker: str) -> pd.DataFrame:
    """A user's CSV (Yahoo export, or at least Date and Close) -> the schema, sorted by date.

    Missing Open/High/Low/Adj Close become Close, missing Volume becomes 0. Raises only
    ForecastError, with one line saying what is wrong and what to do.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ForecastError(f"cannot read {path} ({e.strerror or e}); check the path") from None
    return _parse_csv(data, f"{path.name} ({ticker})", MIN_ROWS)


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the dates (int64 ns) and Adj Close (float64 little-endian): what a model saw."""
    dates = pd.DatetimeIndex(frame.index).as_unit("ns").asi8.astype("<i8")
    adj = frame["Adj Close"].to_numpy(dtype="<f8")
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(dates).tobytes())
    h.update(np.ascontiguousarray(adj).tobytes())
    return h.hexdigest()


# --- the cache -----------------------------------------------------------------------------------


def _paths(ticker: str, data_dir: Path) -> tuple[Path, Path]:
    d = prices_dir(data_dir)
    return d / f"{ticker}.csv", d / f"{ticker}.json"


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    # default float repr round-trips exactly, so fingerprint(load_prices(...)) is stable
    return frame.to_csv(date_format="%Y-%m-%d", index_label="Date", lineterminator="\n").encode()


def _write_cache(
    ticker: str,
    data_dir: Path,
    frame: pd.DataFrame,
    source: str,
    *,
    start: str | None = None,
    end: str | None = None,
    yfinance_version: str | None = None,
    imported_from: str | None = None,
) -> Path:
    """CSV first, then its sidecar, each atomically: a crash never leaves half a file.

    A crash between the two leaves a CSV without a sidecar, or beside the old one whose sha256
    no longer matches: load_prices refuses both, so the next fetch downloads the whole history.
    """
    csv_path, json_path = _paths(ticker, data_dir)
    data = _csv_bytes(frame)
    sidecar = {
        "ticker": ticker,
        "source": source,
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "first": _day(frame.index[0]),
        "last": _day(frame.index[-1]),
        "rows": len(frame),
        "sha256": hashlib.sha256(data).hexdigest(),
        "yfinance_version": yfinance_version,
        "start": start,
        "end": end,
    }
    if imported_from is not None:
        sidecar["imported_from"] = imported_from
    atomic_write_bytes(csv_path, data)
    atomic_write_json(json_path, sidecar)
    return csv_path


def _not_cached(ticker: str) -> ForecastError:
    return ForecastError(f"no cached prices for {ticker}; run `forecast fetch {ticker}`")


def _read_json_object(json_path: Path) -> dict:
    """A sidecar or marker as a dict; OSError if unreadable, ValueError if no JSON object."""
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{json_path} holds no JSON object")
    return meta


def _load(ticker: str, data_dir: Path) -> tuple[pd.DataFrame, dict]:
    """(frame, sidecar) of a valid ticker's cache, the CSV checked against the sidecar's sha256."""
    csv_path, json_path = _paths(ticker, data_dir)

    def unreadable(path: Path, e: OSError) -> ForecastError:
        return ForecastError(f"cannot read {path} ({e.strerror or e}); check permissions")

    def corrupt(reason: str) -> ForecastError:
        return ForecastError(
            f"cached prices for {ticker} are corrupt ({reason}); "
            f"re-fetch with `forecast fetch {ticker}`"
        )

    try:
        data = csv_path.read_bytes()
    except FileNotFoundError:
        raise _not_cached(ticker) from None
    except OSError as e:
        raise unreadable(csv_path, e) from None
    try:
        meta = _read_json_object(json_path)
    except FileNotFoundError:
        raise corrupt(
            f"{json_path.name} is missing, so {csv_path.name} cannot be verified"
        ) from None
    except OSError as e:
        raise unreadable(json_path, e) from None
    except ValueError:
        raise corrupt(f"{json_path.name} is not a readable JSON object") from None
    # Without this check a CSV cut at a line boundary still parses, silently losing days.
    if not isinstance(meta.get("sha256"), str):
        raise corrupt(f"{json_path.name} has no sha256 to verify {csv_path.name} against")
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise corrupt(
            f"{csv_path.name} does not match the sha256 in {json_path.name}; "
            "was it edited, or a write interrupted?"
        )
    try:
        return _parse_csv(data, str(csv_path), min_rows=1), meta
    except ForecastError as e:
        raise corrupt(str(e)) from None


def load_prices(ticker: str, data_dir: Path) -> pd.DataFrame:
    """The cached history of `ticker` in the schema, or ForecastError saying how to get it.

    The CSV must match the sha256 its sidecar recorded when it was written.
    """
    return _load(validate_symbol(ticker), data_dir)[0]


def read_provenance(ticker: str, data_dir: Path) -> dict:
    """The sidecar JSON of a cached ticker: source, fetched_at, first, last, rows, sha256, ..."""
    ticker = validate_symbol(ticker)
    _, json_path = _paths(ticker, data_dir)
    try:
        return _read_json_object(json_path)
    except FileNotFoundError:
        raise _not_cached(ticker) from None
    except (OSError, ValueError):
        raise ForecastError(
            f"{json_path} is corrupt; re-fetch with `forecast fetch {ticker}`"
        ) from None


def list_cached(data_dir: Path, *, today: dt.date | None = None) -> list[dict]:
    """Every cached ticker's sidecar plus `stale` (last date more than STALE_DAYS before today).

    A sidecar that cannot be read is listed with only its ticker, so nothing is hidden.
    """
    entries = []
    for json_path in sorted(prices_dir(data_dir).glob("*.json")):
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
            last = dt.date.fromisoformat(meta["last"])
        except (OSError, ValueError, KeyError, TypeError):
            meta, last = {"ticker": json_path.stem, "source": "corrupt"}, None
        entries.append(meta | {"stale": last is None or _is_stale(last, today)})
    return entries


def _latest_path(data_dir: Path) -> Path:
    return prices_dir(data_dir) / ".latest"  # no .json suffix: list_cached globs *.json


def _mark_latest(ticker: str, data_dir: Path) -> None:
    """Remember `ticker` as the one fetched last, for commands run without a ticker.

    A sidecar's fetched_at cannot say this: it changes only when data is downloaded, not on an
    offline fetch or an up-to-date one. The marker is {"ticker", "since"}; it is left alone when
    it already names `ticker`, so re-reading a cache changes nothing on disk.
    """
    path = _latest_path(data_dir)
    try:
        if _read_json_object(path).get("ticker") == ticker:
            return
    except (OSError, ValueError):
        pass
    try:
        since = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        atomic_write_json(path, {"ticker": ticker, "since": since})
    except OSError:
        pass  # only a default for later commands: not worth failing a fetch that worked


def latest_ticker(data_dir: Path) -> str:
    """The ticker fetched or imported last, for commands run without one.

    Read from the marker _mark_latest writes; without a usable one (older data dirs, or a
    ticker no longer cached) the sidecar with the newest fetched_at.
    """
    try:
        ticker = validate_symbol(_read_json_object(_latest_path(data_dir))["ticker"])
    except (OSError, ValueError, KeyError, ForecastError):
        ticker = None
    if ticker is not None and all(p.is_file() for p in _paths(ticker, data_dir)):
        return ticker
    dated = [e for e in list_cached(data_dir) if isinstance(e.get("fetched_at"), str)]
    if not dated:
        raise ForecastError("nothing fetched yet; run `forecast fetch TICKER`")
    return max(dated, key=lambda e: e["fetched_at"])["ticker"]


def _cached(ticker: str, data_dir: Path) -> tuple[pd.DataFrame, dict] | None:
    """(frame, sidecar) if a readable cache exists; None if absent or corrupt (fetch repairs it)."""
    try:
        return _load(ticker, data_dir)
    except ForecastError:
        return None


def _sample(ticker: str) -> pd.DataFrame | None:
    name = SAMPLES.get(ticker)
    if name is None:
        return None
    data = (resources.files("forecast") / "samples" / name).read_bytes()  # never written
    return _parse_csv(data, f"shipped sample {name}", min_rows=1)


# --- Yahoo ---------------------------------------------------------------------------------------


def _import_yfinance(data_dir: Path):
    """Import yfinance, keep its SQLite caches under the data dir and its chatter off stderr."""
    global _yf_cache_location
    import yfinance as yf

    location = yfinance_cache_dir(data_dir)
    location.mkdir(parents=True, exist_ok=True)
    if _yf_cache_location != str(location):
        yf.set_tz_cache_location(str(location))  # before first use, else it writes to ~/.cache
        _yf_cache_location = str(location)
    log = logging.getLogger("yfinance")
    if not log.handlers:
        log.addHandler(logging.NullHandler())  # "possibly delisted" etc.: we say it ourselves
    warnings.filterwarnings("ignore", module=r"yfinance(\..*)?$")
    return yf


def _history(yf, ticker: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """The network boundary: one Ticker.history call (end exclusive, as yfinance wants it)."""
    kwargs = {"interval": "1d", "auto_adjust": False, "actions": True, "timeout": 10}
    if start is None:
        kwargs["period"] = "max"
    else:
        kwargs["start"] = start.isoformat()
    if end is not None:
        kwargs["end"] = end.isoformat()
    return yf.Ticker(ticker).history(**kwargs)


def _call_with_deadline(fn: Callable[[], pd.DataFrame], timeout: float) -> pd.DataFrame:
    """Run fn in a daemon thread; a call still running after `timeout` seconds is abandoned."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller's thread below
            box["error"] = e

    worker = threading.Thread(target=run, daemon=True, name="forecast-fetch")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise _Unreachable(f"Yahoo did not answer within {timeout:.3g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _download(
    ticker: str,
    data_dir: Path,
    start: dt.date | None,
    end: dt.date | None,
    *,
    deadline: float,
    retries: int,
    status: Status,
) -> pd.DataFrame:
    """Ticker.history with an overall deadline and `retries` backed-off retries on rate limits.

    Returns the raw frame (possibly empty); raises _Unreachable.
    """
    global _network_failed
    yf = _import_yfinance(data_dir)
    give_up = time.monotonic() + deadline
    for attempt in range(retries + 1):
        remaining = give_up - time.monotonic()
        if remaining <= 0:
            raise _Unreachable("Yahoo did not answer before the deadline")
        try:
            return _call_with_deadline(lambda: _history(yf, ticker, start, end), remaining)
        except yf.exceptions.YFRateLimitError:
            if attempt == retries:
                raise _Unreachable(f"Yahoo is rate-limiting us after {retries} retries") from None
            wait = BACKOFF * 2**attempt
            status(f"Yahoo rate limit; retrying {ticker} in {wait:g} s")
            _sleep(max(0.0, min(wait, give_up - time.monotonic())))
        except (yf.exceptions.YFPricesMissingError, yf.exceptions.YFTzMissingError):
            return pd.DataFrame()  # raised instead of logged when hide_exceptions is off
        except OSError as e:  # curl_cffi's DNSError and friends
            _network_failed = True
            raise _Unreachable("Yahoo unreachable") from e
        except _Unreachable:
            raise
        except Exception as e:  # a half-answer yfinance cannot parse is no answer either
            raise _Unreachable(f"Yahoo gave no usable answer ({type(e).__name__})") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _fallback(ticker: str, data_dir: Path, cached, reason: str, offline: bool) -> FetchResult:
    """No fresh data: the cache as it is, else the shipped sample, else a ForecastError."""
    csv_path, _ = _paths(ticker, data_dir)
    if cached is not None:
        frame = cached[0]
        warning = f"{reason}; using cached {ticker} through {_day(frame.index[-1])}"
        return FetchResult(ticker, frame, "cache", csv_path, warning, 0)
    sample = _sample(ticker)
    if sample is not None:
        _write_cache(ticker, data_dir, sample, "sample")
        warning = f"{reason}; using the shipped sample of {ticker} through {_day(sample.index[-1])}"
        return FetchResult(ticker, sample, "sample", csv_path, warning, len(sample))
    head = "offline" if offline else "cannot reach Yahoo"
    raise ForecastError(
        f"{head} and no cached copy of {ticker}; "
        f"import a file with `forecast fetch {ticker} --csv FILE`"
    )


def _fetched_on(meta: dict) -> dt.date:
    """The UTC date a sidecar was written; unknown counts as long ago."""
    try:
        return dt.datetime.fromisoformat(meta["fetched_at"]).date()
    except (KeyError, TypeError, ValueError):
        return dt.date.min


def _new_actions(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """Does `new` bring a dividend or split the cache has not seen (adjusted prices change)?"""
    seen = old[ACTIONS].reindex(new.index).fillna(0.0)
    return bool(((new[ACTIONS] != 0) & (new[ACTIONS] != seen)).to_numpy().any())


def fetch(
    ticker: str,
    data_dir: Path,
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    offline: bool = False,
    deadline: float = 30.0,
    retries: int = 3,
    on_status: Status | None = None,
) -> FetchResult:
    """Bring the cached daily history of `ticker` up to date from Yahoo and return all of it.

    `end` is inclusive. Without start/end an existing Yahoo cache is extended with the days after
    its last date (the whole history is refetched if a dividend or split arrived, since adjusted
    prices change retroactively). If Yahoo cannot be reached, or `offline`, the cache or the
    shipped sample is returned with a warning. On any error nothing on disk changes; on success
    `ticker` becomes the latest_ticker, whether or not anything was downloaded.
    """
    result = _fetch(
        validate_symbol(ticker),
        data_dir,
        start=start,
        end=end,
        offline=offline,
        deadline=deadline,
        retries=retries,
        status=on_status or (lambda message: None),
    )
    _mark_latest(result.ticker, data_dir)
    return result


def _fetch(
    ticker: str,
    data_dir: Path,
    *,
    start: str | dt.date | None,
    end: str | dt.date | None,
    offline: bool,
    deadline: float,
    retries: int,
    status: Status,
) -> FetchResult:
    """fetch() for a valid symbol, without marking it as the latest."""
    start_day, end_day = parse_date(start, "--start"), parse_date(end, "--end")
    if start_day and end_day and end_day < start_day:
        raise ForecastError(f"--end {end_day} is before --start {start_day}; swap them")
    cached = _cached(ticker, data_dir)
    if offline:  # never imports yfinance
        return _fallback(ticker, data_dir, cached, "offline", offline=True)

    csv_path, _ = _paths(ticker, data_dir)
    until = end_day + dt.timedelta(days=1) if end_day else None  # yfinance's end is exclusive
    # Only extend our own Yahoo history: a CSV or sample may be on another adjustment basis.
    incremental = (
        cached is not None
        and start_day is None
        and end_day is None
        and cached[1].get("source") == "yahoo"
    )
    if incremental:
        old, meta = cached
        last = old.index[-1].date()
        # A bar fetched on its own day may be a partial, intraday one: ask for that day again.
        # (+1 day covers exchanges ahead of UTC, whose trading day starts on the UTC day before.)
        partial = _fetched_on(meta) <= last + dt.timedelta(days=1)
        since = last if partial else last + dt.timedelta(days=1)
        if since > dt.date.today():
            return FetchResult(ticker, old, "cache", csv_path, None, 0)
        status(f"fetching {ticker} from Yahoo after {_day(old.index[-1])}")
    else:
        since = start_day
        status(f"fetching {ticker} from Yahoo")

    give_up = time.monotonic() + deadline  # one deadline per ticker, refetches included

    def get(first: dt.date | None, last: dt.date | None) -> pd.DataFrame | None:
        left = give_up - time.monotonic()
        raw = _download(
            ticker, data_dir, first, last, deadline=left, retries=retries, status=status
        )
        return None if raw is None or len(raw) == 0 else normalize(raw, ticker)

    try:
        new = get(since, until)
        if new is None:
            if incremental and not _network_failed and not _is_stale(old.index[-1].date()):
                return FetchResult(ticker, old, "cache", csv_path, None, 0)  # already up to date
            # after DNS failures yfinance returns empty frames: with a copy at hand, assume offline
            if cached is None and ticker not in SAMPLES and not _network_failed:
                raise _no_data(ticker)
            reason = "Yahoo unreachable" if _network_failed else "Yahoo returned no data"
            return _fallback(ticker, data_dir, cached, reason, offline=False)
        if incremental:
            if _new_actions(old, new):
                status(f"dividend or split in {ticker}; refetching its whole history")
                frame = get(old.index[0].date(), None)
                if frame is None:
                    raise _Unreachable("Yahoo returned no data")
            else:
                frame = pd.concat([old[~old.index.isin(new.index)], new]).sort_index()
            record = {"start": meta.get("start"), "end": None}
        else:
            frame = new
            record = {"start": start_day and start_day.isoformat(), "end": end_day and str(end_day)}
    except _Unreachable as e:
        return _fallback(ticker, data_dir, cached, str(e), offline=False)

    new_rows = len(frame) if cached is None else len(frame.index.difference(cached[0].index))
    import yfinance

    _write_cache(ticker, data_dir, frame, "yahoo", yfinance_version=yfinance.__version__, **record)
    return FetchResult(ticker, frame, "yahoo", csv_path, None, new_rows)


def import_csv(ticker: str, csv_path: str | Path, data_dir: Path) -> FetchResult:
    """Store a user's CSV as the cached history of `ticker` (source "csv"); never touches Yahoo."""
    ticker = validate_symbol(ticker)
    frame = read_price_csv(csv_path, ticker)
    cached = _cached(ticker, data_dir)
    new_rows = len(frame) if cached is None else len(frame.index.difference(cached[0].index))
    path = _write_cache(ticker, data_dir, frame, "csv", imported_from=str(Path(csv_path).resolve()))
    _mark_latest(ticker, data_dir)
    return FetchResult(ticker, frame, "csv", path, None, new_rows)
