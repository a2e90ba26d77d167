"""The fetch policy: extend the cache from Yahoo, refetch on new actions, fall back when offline."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecast.errors import ForecastError
from forecast.prices import cache
from forecast.prices.csvfile import read_price_csv
from forecast.prices.schema import (
    ACTIONS,
    day,
    exchange_of,
    is_stale,
    no_data,
    normalize,
    parse_date,
    validate_symbol,
)
from forecast.prices.yahoo import Status, Unreachable, Yahoo


@dataclass(frozen=True, eq=False)  # eq=False: comparing DataFrames elementwise is not equality
class FetchResult:
    ticker: str
    frame: pd.DataFrame  # the whole cached history in the schema, not just the new rows
    source: str  # "yahoo" | "csv" | "sample" | "cache"
    path: Path | None  # the cache CSV; None when it could not be written (read-only data dir)
    warning: str | None = None  # set when falling back to the cache or the shipped sample
    new_rows: int = 0  # trading days not in the cache before this call

    def to_json(self) -> dict:
        """What `fetch --json` prints for this ticker (README, "JSON output")."""
        f = self.frame
        return {
            "ticker": self.ticker,
            "source": self.source,
            "rows": len(f),
            "first": f"{f.index[0]:%Y-%m-%d}",
            "last": f"{f.index[-1]:%Y-%m-%d}",
            "last_close": float(f["Close"].iloc[-1]),
            "new_rows": self.new_rows,
            "path": str(self.path) if self.path is not None else None,
            "warning": self.warning,
            "exchange": self.exchange,
            "currency": f.attrs.get("currency"),
        }

    @property
    def exchange(self) -> str:
        """The calendar its forecasts use: the one given on import, else the Yahoo suffix's."""
        return exchange_of(self.ticker, self.frame)


def _fallback(ticker: str, data_dir: Path, cached, reason: str, offline: bool) -> FetchResult:
    """No fresh data: the cache as it is, else the shipped sample, else a ForecastError."""
    if cached is not None:
        frame, meta = cached
        warning = f"{reason}; using cached {ticker} through {day(frame.index[-1])}"
        return FetchResult(ticker, frame, "cache", cache.csv_path(ticker, data_dir, meta), warning)
    sample = cache.sample(ticker)
    if sample is not None:
        warning = f"{reason}; using the shipped sample of {ticker} through {day(sample.index[-1])}"
        try:
            path = cache.write(ticker, data_dir, sample, "sample")
        except OSError as e:  # a read-only data dir: the sample is still good for this command
            path = None
            warning += f" (not cached: {e.strerror or e})"
        return FetchResult(ticker, sample, "sample", path, warning, len(sample))
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
    client: Yahoo | None = None,
) -> FetchResult:
    """Bring the cached daily history of `ticker` up to date from Yahoo and return all of it.

    `end` is inclusive. Without start/end an existing Yahoo cache is extended with the days after
    its last date (the whole history is refetched if a dividend or split arrived, since adjusted
    prices change retroactively). If Yahoo cannot be reached, or `offline`, the cache or the
    shipped sample is returned with a warning. On any error nothing on disk changes; on success
    `ticker` becomes the latest_ticker, whether or not anything was downloaded.

    client: share one Yahoo between the tickers of one command, so that a network failure seen
    on one is remembered for the next (a fresh one per call otherwise).
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
        client=client,
    )
    cache.mark_latest(result.ticker, data_dir)
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
    client: Yahoo | None,
) -> FetchResult:
    """fetch() for a valid symbol, without marking it as the latest."""
    start_day, end_day = parse_date(start, "--start"), parse_date(end, "--end")
    if start_day and end_day and end_day < start_day:
        raise ForecastError(f"--end {end_day} is before --start {start_day}; swap them")
    cached = cache.cached(ticker, data_dir)
    if offline:  # never imports yfinance
        return _fallback(ticker, data_dir, cached, "offline", offline=True)
    yahoo = client if client is not None else Yahoo()

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
        here = cache.csv_path(ticker, data_dir, meta)
        if since > dt.date.today():
            return FetchResult(ticker, old, "cache", here, None, 0)
        status(f"fetching {ticker} from Yahoo after {day(old.index[-1])}")
    else:
        since = start_day
        status(f"fetching {ticker} from Yahoo")

    give_up = time.monotonic() + deadline  # one deadline per ticker, refetches included

    def get(first: dt.date | None, last: dt.date | None) -> pd.DataFrame | None:
        left = give_up - time.monotonic()
        raw = yahoo.history(ticker, first, last, deadline=left, retries=retries, status=status)
        return None if raw is None or len(raw) == 0 else normalize(raw, ticker)

    try:
        new = get(since, until)
        if new is None:
            failed = yahoo.network_failed
            if incremental and not failed and not is_stale(old.index[-1].date()):
                return FetchResult(ticker, old, "cache", here, None, 0)  # already up to date
            # after DNS failures yfinance returns empty frames: with a copy at hand, assume offline
            if cached is None and ticker not in cache.SAMPLES and not failed:
                raise no_data(ticker)
            reason = "Yahoo unreachable" if failed else "Yahoo returned no data"
            return _fallback(ticker, data_dir, cached, reason, offline=False)
        if incremental:
            if _new_actions(old, new):
                status(f"dividend or split in {ticker}; refetching its whole history")
                frame = get(old.index[0].date(), None)
                if frame is None:
                    raise Unreachable("Yahoo returned no data")
            else:
                frame = pd.concat([old[~old.index.isin(new.index)], new]).sort_index()
            record = {"start": meta.get("start"), "end": None}
        else:
            frame = new
            record = {"start": start_day and start_day.isoformat(), "end": end_day and str(end_day)}
    except Unreachable as e:
        return _fallback(ticker, data_dir, cached, str(e), offline=False)

    new_rows = len(frame) if cached is None else len(frame.index.difference(cached[0].index))
    path = cache.write(ticker, data_dir, frame, "yahoo", yfinance_version=yahoo.version, **record)
    return FetchResult(ticker, frame, "yahoo", path, None, new_rows)


def import_csv(
    ticker: str,
    csv_path: str | Path,
    data_dir: Path,
    exchange: str | None = None,
    currency: str | None = None,
    latest: bool = True,
) -> FetchResult:
    """Store a user's CSV as the cached history of `ticker` (source "csv"); never touches Yahoo.
    exchange, currency: the market of the prices (checked by the caller), kept with them;
    latest: mark it the ticker later commands default to (a bulk import marks its last one)."""
    ticker = validate_symbol(ticker)
    notes: list[str] = []
    frame = read_price_csv(csv_path, ticker, notes)
    where = str(Path(csv_path).resolve())
    return import_frame(ticker, frame, data_dir, where, notes, exchange, currency, latest)


def import_frame(
    ticker: str,
    frame: pd.DataFrame,
    data_dir: Path,
    imported_from: str,
    notes: list[str] | None = None,
    exchange: str | None = None,
    currency: str | None = None,
    latest: bool = True,
) -> FetchResult:
    """Store a parsed CSV's frame (the schema) as the cached history of `ticker` (import_csv
    says what exchange, currency and latest mean)."""
    cached = cache.cached(ticker, data_dir)
    new_rows = len(frame) if cached is None else len(frame.index.difference(cached[0].index))
    path = cache.write(
        ticker,
        data_dir,
        frame,
        "csv",
        imported_from=imported_from,
        exchange=exchange,
        currency=currency,
    )
    if latest:
        cache.mark_latest(ticker, data_dir)
    for key, value in (("exchange", exchange), ("currency", currency)):
        if value:
            frame.attrs[key] = value
    return FetchResult(ticker, frame, "csv", path, "; ".join(notes or []) or None, new_rows)
