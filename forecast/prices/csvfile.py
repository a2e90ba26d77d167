"""Price CSV files: the cache's own format and the exports users import, parsed strictly.

Accepted besides a plain `Date,Open,High,Low,Close,Adj Close,Volume` file:
- yfinance's own `download(...).to_csv()`: three header rows (Price, Ticker, Date), one ticker;
- Yahoo's web export, whose days without prices are rows of `null`: dropped, with a note;
- `;` as the separator (then `123,45` and `1.234,56` are decimal commas);
- only `Date,Close` or only `Date,Adj Close`;
- Nasdaq.com's export: `Close/Last`, prices like `$182.52`, MM/DD/YYYY dates, newest first.
Anything else that is odd (a missing price in a row that has others, a duplicate date, a
non-positive price, ...) is refused with one line naming the cell.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ForecastError
from forecast.files import RefusedFile, read_regular
from forecast.prices.schema import ACTIONS, COLUMNS, PRICES, crossed, day, to_schema, uncross

MIN_ROWS = 30  # an imported CSV shorter than this cannot feed a model (windows + validation)
MAX_CSV_BYTES = 64 << 20  # 200 years of daily rows take ~5 MB; more is not a daily price file

_MISSING = {"", "null", "nan", "NaN", "NA", "N/A", "None", "none", "-"}  # blanks in CSV exports
_OLDEST, _NEWEST = pd.Timestamp("1800-01-01"), pd.Timestamp("2200-01-01")  # inside datetime64[ns]

_ALIASES = {
    "date": "Date",
    "datetime": "Date",
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "close/last": "Close",  # Nasdaq.com
    "adj close": "Adj Close",
    "adj_close": "Adj Close",
    "adjclose": "Adj Close",
    "adjusted close": "Adj Close",
    "volume": "Volume",
    "dividends": "Dividends",
    "stock splits": "Stock Splits",
}
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


FUTURE_SLACK_DAYS = 2  # an exchange's session date runs up to a day ahead of this machine's


def _parse_dates(text: pd.Series, label: str, future_ok: bool = False) -> pd.DatetimeIndex:
    """The Date column as midnights; ForecastError for blanks, unparseable or duplicate dates,
    and (unless future_ok) a date after today."""
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
    # a row dated after today is a typo (2099 for 2009): as the last day it would make every
    # forecast start from it, the gap one daily return
    late = dates > pd.Timestamp.now().normalize() + pd.Timedelta(days=FUTURE_SLACK_DAYS)
    if not future_ok and late.any():
        raise ForecastError(
            f"{label}: date {day(dates[late][0])} is in the future; fix or remove that row"
        )
    dup = dates.duplicated()
    if dup.any():
        raise ForecastError(
            f"{label}: date {day(dates[dup][0])} appears more than once; keep one row per day"
        )
    return dates


def _parse_numbers(
    text: pd.Series, col: str, dates: pd.DatetimeIndex, label: str, *, fill: float | None
) -> pd.Series:
    """Strings -> float64; blanks become `fill` (or are an error when fill is None)."""
    blank = text.isin(_MISSING)
    if fill is None and blank.any():
        at = day(dates[int(blank.argmax())])
        raise ForecastError(f"{label}: {col} is missing on {at}; fill in or remove that row")
    values = pd.to_numeric(text.where(~blank, None), errors="coerce").astype("float64")
    junk = values.isna() & ~blank
    if junk.any():
        i = int(junk.argmax())
        raise ForecastError(
            f"{label}: {col} on {day(dates[i])} is not a number ({text.iloc[i][:20]!r}); "
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
            f"{label}: {col} on {day(dates[i])} is {values.iloc[i]:g}; {col} must be {need}"
        )
    return values


def _layout(data: bytes, label: str) -> tuple[str, list[int]]:
    """(separator, line numbers to skip): "," or ";", and yfinance's extra header rows."""
    head = data[:8192].decode("utf-8-sig", errors="replace").splitlines()
    first = head[0] if head else ""
    sep = ";" if ";" in first and "," not in first else ","
    rows = [[c.strip().strip('"').lower() for c in line.split(sep)] for line in head[:3]]
    if (
        len(rows) == 3
        and {rows[0][0], rows[1][0]} == {"price", "ticker"}
        and rows[2][0] in ("date", "datetime")
        and not any(rows[2][1:])
    ):  # download().to_csv(): a Price row (the header), a Ticker row, a Date row
        ticker_row = rows[0] if rows[0][0] == "ticker" else rows[1]
        symbols = sorted({c.upper() for c in ticker_row[1:] if c})
        if len(symbols) > 1:
            raise ForecastError(
                f"{label} holds {len(symbols)} tickers ({', '.join(symbols)[:60]}); "
                "download one ticker per file"
            )
        price_line = 0 if rows[0][0] == "price" else 1
        return sep, [i for i in range(3) if i != price_line]
    return sep, []


def _number_text(text: pd.Series, col: str, sep: str) -> pd.Series:
    """Cell text as to_numeric reads it: "$1,234.50" -> "1234.50"; with sep ";", "1,5" -> "1.5"."""
    if col in PRICES:
        dollar = text.str.startswith("$")
        if dollar.any():
            bare = text.str[1:].str.strip()
            thousands = bare.str.fullmatch(r"\d{1,3}(,\d{3})+(\.\d*)?")
            text = text.where(~dollar, bare.where(~thousands, bare.str.replace(",", "")))
    if sep == ";":
        comma = text.str.fullmatch(r"-?\d+,\d*")
        grouped = text.str.fullmatch(r"-?\d{1,3}(\.\d{3})+,\d*")
        text = text.where(~grouped, text.str.replace(".", ""))
        text = text.where(~(comma | grouped), text.str.replace(",", "."))
    return text


def parse_csv(
    data: bytes, label: str, min_rows: int, notes: list[str] | None = None, *, user: bool = True
) -> pd.DataFrame:
    """CSV bytes -> the schema, or ForecastError saying what is wrong. Nothing else escapes.

    notes: if given, receives one line per thing quietly fixed (rows of nulls dropped).
    user: a file someone gives us, where a date after today and a High below its Low are
    refused; False for files this program wrote (the cache, the shipped samples), which
    older versions may have written with either: such a day's High and Low become its Close,
    and its date stands, rather than a cache being called corrupt and replaced.
    """
    sep, skip = _layout(data, label)
    try:
        with warnings.catch_warnings():
            # a row longer than the header would be silently cut: make that an error instead
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(
                io.BytesIO(data),
                sep=sep,
                skiprows=skip,
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
            f"like {HEADER}"
        ) from None
    if skip:  # yfinance's header: the Price row names the date column "Price"
        raw = raw.rename(columns={raw.columns[0]: "Date"})
    found: dict[str, str] = {}
    for c in raw.columns:
        name = _ALIASES.get(str(c).strip().lower())
        if name and name not in found:
            found[name] = c
    if "Close" not in found and "Adj Close" in found:
        found["Close"] = found["Adj Close"]  # an adjusted-only file: it is the close we use
    for need in ("Date", "Close"):
        if need not in found:
            raise ForecastError(
                f"{label} has no {need} column; the first line must be a header like {HEADER}"
            )
    text = {name: raw[c].astype(str).str.strip() for name, c in found.items()}
    values = [t for name, t in text.items() if name != "Date"]
    empty = pd.concat([t.str.lower() == "null" for t in values], axis=1).all(axis=1)
    if empty.any():  # Yahoo's export writes days without trading as rows of "null"
        text = {name: t[~empty].reset_index(drop=True) for name, t in text.items()}
        if notes is not None:
            n = int(empty.sum())
            notes.append(f"dropped {n} row{'s' * (n != 1)} without prices (null) from {label}")
    dates = _parse_dates(text["Date"], label, future_ok=not user)
    cols = {}
    for name in COLUMNS:
        if name in text:
            fill = 0.0 if name in ("Volume", *ACTIONS) else None
            number = _number_text(text[name], name, sep)
            cols[name] = _parse_numbers(number, name, dates, label, fill=fill).to_numpy()
    if len(dates) < min_rows:
        raise ForecastError(
            f"{label} has only {len(dates)} rows; need at least {min_rows} trading days"
        )
    frame = to_schema(pd.DataFrame(cols, index=dates))
    bad = crossed(frame)
    if not bad.any():
        return frame
    if not user:
        return uncross(frame)
    at = frame.index[int(bad.to_numpy().argmax())]
    high, low = frame.at[at, "High"], frame.at[at, "Low"]
    # a column the file lacks was filled from Close by to_schema: name what the user wrote
    high_name, low_name = (c if c in cols else "Close" for c in ("High", "Low"))
    raise ForecastError(
        f"{label}: {high_name} {high:.10g} is below {low_name} {low:.10g} on {day(at)}; "
        "fix that row (or drop the High and Low columns)"
    )


def read_price_csv(path: str | Path, ticker: str, notes: list[str] | None = None) -> pd.DataFrame:
    """A user's CSV (Yahoo export, or at least Date and Close) -> the schema, sorted by date.

    Missing Open/High/Low/Adj Close become Close, missing Volume becomes 0; `notes` receives
    what was quietly fixed. Raises only ForecastError, with one line saying what is wrong and
    what to do. Only a regular file of at most MAX_CSV_BYTES is read (not /dev/zero, a FIFO).
    """
    path = Path(path)
    return parse_csv(read_csv_bytes(path), f"{path.name} ({ticker})", MIN_ROWS, notes)


def read_csv_bytes(path: Path) -> bytes:
    """A CSV file's bytes: a regular file of at most MAX_CSV_BYTES, or ForecastError."""
    try:
        return read_regular(path, MAX_CSV_BYTES)
    except RefusedFile as e:
        raise ForecastError(f"{e}; give a CSV file of prices") from None
    except OSError as e:
        raise ForecastError(f"cannot read {path} ({e.strerror or e}); check the path") from None


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The cache's CSV bytes; the default float repr round-trips, so fingerprints are stable."""
    return frame.to_csv(date_format="%Y-%m-%d", index_label="Date", lineterminator="\n").encode()
