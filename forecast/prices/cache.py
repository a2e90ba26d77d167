"""The on-disk price cache: one CSV per ticker with a JSON sidecar that vouches for it.

prices/AAPL.csv    Date + COLUMNS, as csvfile.csv_bytes writes it
prices/AAPL.json   source, fetched_at, first, last, rows, sha256 of the CSV, ...
prices/.latest     {"ticker", "since"}: the ticker fetched last, for commands without one
"""

from __future__ import annotations

import datetime as dt
import hashlib
from importlib import resources
from pathlib import Path

import pandas as pd

from forecast import jsonfile
from forecast.config import prices_dir
from forecast.errors import ForecastError
from forecast.files import atomic_write_bytes, atomic_write_json
from forecast.prices.csvfile import csv_bytes, parse_csv
from forecast.prices.schema import day, is_stale, validate_symbol

SAMPLES = {"AAPL": "AAPL.csv", "^GSPC": "GSPC.csv"}  # shipped in forecast/samples, read-only


def paths(ticker: str, data_dir: Path) -> tuple[Path, Path]:
    d = prices_dir(data_dir)
    return d / f"{ticker}.csv", d / f"{ticker}.json"


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
) -> Path:
    """CSV first, then its sidecar, each atomically: a crash never leaves half a file.

    A crash between the two leaves a CSV without a sidecar, or beside the old one whose sha256
    no longer matches: load refuses both, so the next fetch downloads the whole history.
    """
    csv_path, json_path = paths(ticker, data_dir)
    data = csv_bytes(frame)
    sidecar = {
        "ticker": ticker,
        "source": source,
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "first": day(frame.index[0]),
        "last": day(frame.index[-1]),
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


def not_cached(ticker: str) -> ForecastError:
    return ForecastError(f"no cached prices for {ticker}; run `forecast fetch {ticker}`")


def _read_json_object(json_path: Path) -> dict:
    """A sidecar or marker as a dict; OSError if unreadable, ValueError if no JSON object."""
    return jsonfile.read_object(json_path)


def load(ticker: str, data_dir: Path) -> tuple[pd.DataFrame, dict]:
    """(frame, sidecar) of a valid ticker's cache, the CSV checked against the sidecar's sha256."""
    csv_path, json_path = paths(ticker, data_dir)

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
        raise not_cached(ticker) from None
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
        return parse_csv(data, str(csv_path), min_rows=1), meta
    except ForecastError as e:
        raise corrupt(str(e)) from None


def load_prices(ticker: str, data_dir: Path) -> pd.DataFrame:
    """The cached history of `ticker` in the schema, or ForecastError saying how to get it.

    The CSV must match the sha256 its sidecar recorded when it was written.
    """
    return load(validate_symbol(ticker), data_dir)[0]


def read_provenance(ticker: str, data_dir: Path) -> dict:
    """The sidecar JSON of a cached ticker: source, fetched_at, first, last, rows, sha256, ..."""
    ticker = validate_symbol(ticker)
    _, json_path = paths(ticker, data_dir)
    try:
        return _read_json_object(json_path)
    except FileNotFoundError:
        raise not_cached(ticker) from None
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
            meta = _read_json_object(json_path)
            last = dt.date.fromisoformat(meta["last"])
        except (OSError, ValueError, KeyError, TypeError):
            meta, last = {"ticker": json_path.stem, "source": "corrupt"}, None
        entries.append(meta | {"stale": last is None or is_stale(last, today)})
    return entries


def _latest_path(data_dir: Path) -> Path:
    return prices_dir(data_dir) / ".latest"  # no .json suffix: list_cached globs *.json


def mark_latest(ticker: str, data_dir: Path) -> None:
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

    Read from the marker mark_latest writes; without a usable one (older data dirs, or a
    ticker no longer cached) the sidecar with the newest fetched_at.
    """
    try:
        ticker = validate_symbol(_read_json_object(_latest_path(data_dir))["ticker"])
    except (OSError, ValueError, KeyError, ForecastError):
        ticker = None
    if ticker is not None and all(p.is_file() for p in paths(ticker, data_dir)):
        return ticker
    dated = [e for e in list_cached(data_dir) if isinstance(e.get("fetched_at"), str)]
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
    data = (resources.files("forecast") / "samples" / name).read_bytes()  # never written
    return parse_csv(data, f"shipped sample {name}", min_rows=1)
