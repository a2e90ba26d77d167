"""The on-disk price cache: per ticker, a content-addressed CSV and the JSON that commits it.

    prices/AAPL.3f2a9c01b7de.csv  Date + COLUMNS as csvfile.csv_bytes writes them; named by the
                                  first 12 hex digits of its sha256
    prices/AAPL.json              the commit point: ticker, source, fetched_at, first, last,
                                  rows, sha256 of the CSV, yfinance version, start/end, ...
    prices/.latest                {"ticker", "since"}: the ticker fetched last
    .locks/prices.AAPL.lock       held while AAPL's files are written (see files.locked)

A write, under the ticker's lock, puts the new CSV beside the current one (a new name), replaces
the JSON atomically (from then on it is the cache), then deletes the ticker's CSVs that JSON does
not name. A kill at any moment leaves the JSON naming a complete CSV whose hash it holds: the old
cache or the new one, never neither. A read takes the CSV's name from the ticker and the hash, never
from a name stored in a file. Caches written before this layout (prices/AAPL.csv) still load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from forecast import jsonfile
from forecast.config import prices_dir
from forecast.errors import ForecastError
from forecast.files import (
    RefusedFile,
    atomic_write_bytes,
    atomic_write_json,
    lock_path,
    locked,
    read_regular,
    remove_stale_temps,
)
from forecast.jsonfile import DATE, SHA256, TIMESTAMP, Any, Dict, Int, Json, Null, Str
from forecast.symbols import is_stale, validate_symbol
from forecast.text import printable

if TYPE_CHECKING:  # csvfile and schema (pandas) are imported where a CSV is read or written:
    import pandas as pd  # listing the cache reads only the JSON sidecars

SAMPLES = {"AAPL": "AAPL.csv", "^GSPC": "GSPC.csv"}  # shipped in forecast/samples, read-only
SOURCES = ("yahoo", "csv", "sample")
MAX_CACHE_BYTES = 64 << 20  # what csvfile accepts for an import, so every import can be cached

_TICKER = Str(15, r"[A-Z0-9^][A-Z0-9.\-^=]*")
SIDECAR = Dict(
    {
        "ticker": _TICKER,
        "source": Str(10, "|".join(SOURCES)),
        "fetched_at": TIMESTAMP,
        "first": DATE,
        "last": DATE,
        "rows": Int(1, 10_000_000),
        "sha256": SHA256,
        "yfinance_version": Any(Null(), Str(40)),
        "start": Any(Null(), DATE),
        "end": Any(Null(), DATE),
        "imported_from": Str(4096),
        "exchange": Str(20, r"[A-Z0-9/]+"),  # exchange_calendars code given on import
        "currency": Str(3, r"[A-Za-z]{3}"),  # ISO 4217 (or GBp, ZAc) given on import
    },
    optional=("yfinance_version", "start", "end", "imported_from", "exchange", "currency"),
    extra=Json(),  # a newer forecast may add fields; they are kept, never interpreted
)
LATEST = Dict({"ticker": _TICKER, "since": TIMESTAMP}, extra=Json())
_MAX_SIDECAR_BYTES = 64 << 10


def json_path(ticker: str, data_dir: Path) -> Path:
    return prices_dir(data_dir) / f"{ticker}.json"


def csv_name(ticker: str, sha256: str) -> str:
    """The cache CSV's name for bytes hashing to `sha256` (64 lowercase hex digits)."""
    return f"{ticker}.{sha256[:12]}.csv"


def _legacy_csv(ticker: str, data_dir: Path) -> Path:
    return prices_dir(data_dir) / f"{ticker}.csv"  # the layout before content addressing


def _lock(ticker: str, data_dir: Path):
    return locked(lock_path(data_dir, "prices", ticker), f"the cached prices of {ticker}")


def _csv_pattern(ticker: str) -> re.Pattern:
    return re.compile(re.escape(ticker) + r"(\.[0-9a-f]{12})?\.csv")


def files(ticker: str, data_dir: Path) -> list[Path]:
    """Every file of the ticker's cache: its sidecar (the commit point) first, then its CSVs."""
    d = prices_dir(data_dir)
    ours = _csv_pattern(ticker)
    csvs = sorted(p for p in d.iterdir() if ours.fullmatch(p.name)) if d.is_dir() else []
    return [p for p in [json_path(ticker, data_dir), *csvs] if p.is_file()]


def _remove_unnamed_csvs(ticker: str, data_dir: Path, keep: str) -> None:
    """Delete the ticker's CSVs other than `keep`: older caches and orphans of a killed write."""
    ours = _csv_pattern(ticker)
    for p in prices_dir(data_dir).iterdir():
        if p.name != keep and ours.fullmatch(p.name):
            try:
                p.unlink(missing_ok=True)
            except OSError:
                pass  # the new cache is committed already; a leftover goes at the next write


def write(
    ticker: str,
    data_dir: Path,
    frame: pd.DataFrame,
    source: str,
    *,
    start: str | None = None,
    end: str | None = None,
    yfinance_version: str | None = None,
    imported_from: str | None = None,
    exchange: str | None = None,
    currency: str | None = None,
) -> Path:
    """Commit `frame` as the cache of `ticker`; return the CSV's path. See the module docstring.
    exchange, currency: the market the prices come from, kept in the sidecar (load() puts them
    in frame.attrs, where every forecast's dates and labels read them)."""
    from forecast.prices.csvfile import csv_bytes
    from forecast.prices.schema import day

    data = csv_bytes(frame)
    sha256 = hashlib.sha256(data).hexdigest()
    sidecar = {
        "ticker": ticker,
        "source": source,
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "first": day(frame.index[0]),
        "last": day(frame.index[-1]),
        "rows": len(frame),
        "sha256": sha256,
        "yfinance_version": yfinance_version,
        "start": start,
        "end": end,
    }
    if imported_from is not None:
        sidecar["imported_from"] = imported_from[:4096]
    for key, value in (("exchange", exchange), ("currency", currency)):
        if value is not None:
            sidecar[key] = value
    jsonfile.check(sidecar, SIDECAR, f"the sidecar of {ticker}")  # never write what load refuses
    directory = prices_dir(data_dir)
    csv_path = directory / csv_name(ticker, sha256)
    with _lock(ticker, data_dir):
        remove_stale_temps(directory)
        atomic_write_bytes(csv_path, data)  # a new name: the committed CSV stays as it is
        atomic_write_json(json_path(ticker, data_dir), sidecar)  # the commit point
        _remove_unnamed_csvs(ticker, data_dir, keep=csv_path.name)
    return csv_path


def not_cached(ticker: str) -> ForecastError:
    return ForecastError(f"no cached prices for {ticker}; run `forecast fetch {ticker}`")


def _corrupt(ticker: str, reason: str) -> ForecastError:
    return ForecastError(
        f"cached prices for {ticker} are corrupt ({printable(reason)}); "
        f"re-fetch with `forecast fetch {ticker}`"
    )


def _unreadable(path: Path, e: OSError) -> ForecastError:
    return ForecastError(f"cannot read {path} ({e.strerror or e}); check permissions")


def _read_sidecar(ticker: str, data_dir: Path) -> dict:
    """The validated sidecar of `ticker`; FileNotFoundError if there is none."""
    path = json_path(ticker, data_dir)
    try:
        meta = jsonfile.read_object(path, SIDECAR, max_bytes=_MAX_SIDECAR_BYTES)
    except FileNotFoundError:
        raise
    except jsonfile.InvalidJSON as e:
        raise _corrupt(ticker, str(e).replace(str(path), path.name)) from None
    except OSError as e:
        raise _unreadable(path, e) from None
    if meta["ticker"] != ticker:  # a sidecar copied or planted under another name
        raise _corrupt(ticker, f"{path.name} is the sidecar of {meta['ticker']}")
    return meta


def csv_path(ticker: str, data_dir: Path, meta: dict) -> Path:
    """The CSV a valid sidecar `meta` commits (the pre-content-addressing name if only it exists)."""
    path = prices_dir(data_dir) / csv_name(ticker, meta["sha256"])
    legacy = _legacy_csv(ticker, data_dir)
    return legacy if not path.exists() and legacy.exists() else path


def load(ticker: str, data_dir: Path) -> tuple[pd.DataFrame, dict]:
    """(frame, sidecar) of a valid ticker's cache, the CSV checked against the sidecar's sha256."""
    from forecast.prices.csvfile import parse_csv

    for _attempt in range(5):  # a concurrent write may replace the CSV between our two reads
        try:
            meta = _read_sidecar(ticker, data_dir)
        except FileNotFoundError:
            legacy = _legacy_csv(ticker, data_dir)
            if legacy.exists():
                raise _corrupt(
                    ticker, f"{ticker}.json is missing, so {legacy.name} cannot be verified"
                ) from None
            raise not_cached(ticker) from None
        path = csv_path(ticker, data_dir, meta)
        try:
            data = read_regular(path, MAX_CACHE_BYTES)
            break
        except FileNotFoundError:
            try:
                if _read_sidecar(ticker, data_dir)["sha256"] != meta["sha256"]:
                    continue  # committed anew meanwhile: read the new one
            except FileNotFoundError:
                pass
            raise _corrupt(ticker, f"{path.name}, named by {ticker}.json, is missing") from None
        except RefusedFile as e:
            raise _corrupt(ticker, str(e)) from None
        except OSError as e:
            raise _unreadable(path, e) from None
    else:
        raise ForecastError(f"the cached prices of {ticker} keep changing; try again")
    # Without this check a CSV cut at a line boundary still parses, silently losing days.
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise _corrupt(
            ticker,
            f"{path.name} does not match the sha256 in {ticker}.json; "
            "was it edited, or a write interrupted?",
        )
    try:
        frame = parse_csv(data, str(path), min_rows=1, user=False)
    except ForecastError as e:
        raise _corrupt(ticker, str(e)) from None
    for key in ("exchange", "currency"):  # the market, for forecast dates and labels
        if meta.get(key):
            frame.attrs[key] = printable(meta[key])
    return frame, meta


def load_prices(ticker: str, data_dir: Path) -> pd.DataFrame:
    """The cached history of `ticker` in the schema, or ForecastError saying how to get it.

    The CSV must match the sha256 its sidecar recorded when it was written.
    """
    return load(validate_symbol(ticker), data_dir)[0]


def read_provenance(ticker: str, data_dir: Path) -> dict:
    """The sidecar JSON of a cached ticker: source, fetched_at, first, last, rows, sha256, ...

    Validated against SIDECAR; strings are safe to print.
    """
    ticker = validate_symbol(ticker)
    try:
        meta = _read_sidecar(ticker, data_dir)
    except FileNotFoundError:
        raise not_cached(ticker) from None
    return {k: printable(v) if isinstance(v, str) else v for k, v in meta.items()}


def list_cached(data_dir: Path, *, today: dt.date | None = None) -> list[dict]:
    """Every cached ticker's sidecar plus `stale` (last date more than STALE_DAYS before today).

    A sidecar that cannot be read is listed as source "corrupt" under its file name, so nothing
    is hidden; its contents are not shown. Every string is safe to print.
    """
    entries = []
    for path in sorted(prices_dir(data_dir).glob("*.json")):
        try:
            ticker = validate_symbol(path.stem)
            if ticker != path.stem:
                raise ForecastError("not a name this program writes")
            meta = read_provenance(ticker, data_dir)
            last = dt.date.fromisoformat(meta["last"])
        except (ForecastError, ValueError):
            meta, last = {"ticker": printable(path.stem)[:40], "source": "corrupt"}, None
        entries.append(meta | {"stale": last is None or is_stale(last, today)})
    return entries


def _latest_path(data_dir: Path) -> Path:
    return prices_dir(data_dir) / ".latest"  # no .json suffix: list_cached globs *.json


def _read_latest(data_dir: Path) -> str | None:
    try:
        marker = jsonfile.read_object(_latest_path(data_dir), LATEST, max_bytes=4096)
        return validate_symbol(marker["ticker"])
    except (OSError, ValueError, ForecastError):
        return None


def mark_latest(ticker: str, data_dir: Path) -> None:
    """Remember `ticker` as the one fetched last, for commands run without a ticker.

    A sidecar's fetched_at cannot say this: it changes only when data is downloaded, not on an
    offline fetch or an up-to-date one. The marker is {"ticker", "since"}; it is left alone when
    it already names `ticker`, so re-reading a cache changes nothing on disk.
    """
    if _read_latest(data_dir) == ticker:
        return
    try:
        since = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        atomic_write_json(_latest_path(data_dir), {"ticker": ticker, "since": since})
    except OSError:
        pass  # only a default for later commands: not worth failing a fetch that worked


def latest_ticker(data_dir: Path) -> str:
    """The ticker fetched or imported last, for commands run without one.

    Read from the marker mark_latest writes; without a usable one (older data dirs, or a
    ticker no longer cached) the sidecar with the newest fetched_at. Either way the name is
    validated like a symbol typed by the user, and must be the name of a cached ticker's file.
    """
    ticker = _read_latest(data_dir)
    if ticker is not None and json_path(ticker, data_dir).is_file():
        return ticker
    dated = [e for e in list_cached(data_dir) if e["source"] != "corrupt"]
    if not dated:
        raise ForecastError("nothing fetched yet; run `forecast fetch TICKER`")
    return max(dated, key=lambda e: e["fetched_at"])["ticker"]


def cached(ticker: str, data_dir: Path) -> tuple[pd.DataFrame, dict] | None:
    """(frame, sidecar) if a readable cache exists; None if absent or corrupt (fetch repairs it)."""
    try:
        return load(ticker, data_dir)
    except ForecastError:
        return None


def sample(ticker: str) -> pd.DataFrame | None:
    name = SAMPLES.get(ticker)
    if name is None:
        return None
    from forecast.prices.csvfile import parse_csv

    data = (resources.files("forecast") / "samples" / name).read_bytes()  # never written
    return parse_csv(data, f"shipped sample {name}", min_rows=1, user=False)
