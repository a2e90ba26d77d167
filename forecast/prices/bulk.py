"""Many CSV files in at once: several files, a folder of them, or one long file with a ticker
column; each ticker imported on its own thread, a failure kept per file.

    sources(paths, ticker)   -> the tickers to import and where each one's rows are
    import_all(sources, ...) -> (results, failures): the others import when one file fails

A file's ticker is its name (acme.csv -> ACME, BRK-B.csv -> BRK-B), unless the file has a
ticker (or symbol) column: then it is a long file, ticker,date,close,..., one ticker per
group of rows. Each ticker's rows go through the same parser and checks as a one-file import.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from forecast.errors import ForecastError
from forecast.prices import policy
from forecast.prices.csvfile import MIN_ROWS, parse_csv, read_csv_bytes
from forecast.symbols import validate_symbol

TICKER_COLUMNS = ("ticker", "symbol")  # a header with one of these makes a long file


@dataclass(frozen=True)
class Source:
    """One ticker's prices to import: a whole file, or a long file's rows of that ticker."""

    ticker: str
    label: str  # what messages and the summary call it: the file name (and ticker)
    path: Path
    data: bytes | None = None  # a long file's rows for this ticker, as a CSV without the column


def _separator(header: str) -> str:
    """A header's separator: semicolon where it has more of them than commas (a European
    export), else comma."""
    return ";" if header.count(";") > header.count(",") else ","


def _header(data: bytes) -> str:
    """A CSV file's first line."""
    return data.split(b"\n", 1)[0].decode("utf-8-sig", "replace")


def _ticker_column(data: bytes) -> str | None:
    """The header's ticker column, if the file has one."""
    first = _header(data)
    for name in first.split(_separator(first)):
        if name.strip().strip('"').lower() in TICKER_COLUMNS:
            return name.strip().strip('"')
    return None


def _split_long(path: Path, data: bytes, column: str) -> tuple[list[Source], dict[str, str]]:
    """A long file's rows, one Source per ticker in the order they first appear, and its rows
    whose ticker is not one ({label: why}): the other tickers still import. Rows are grouped
    by the symbol they name (aapl and AAPL are one ticker), not by how a cell spells it."""
    import pandas as pd

    sep = _separator(_header(data))
    try:
        raw = pd.read_csv(io.BytesIO(data), sep=sep, dtype=str, keep_default_na=False)
    except Exception as e:  # pandas' parser raises many types
        raise ForecastError(f"{path.name} is not a readable CSV file ({e})") from None
    # the header as _ticker_column reads it ("date, ticker" names the column "ticker")
    raw.columns = [str(c).strip().strip('"') for c in raw.columns]
    names, failures = {}, {}  # cell value -> its symbol, or None where it is not one
    firsts = raw[column].drop_duplicates()  # each value once, at its first row
    for row, value in zip(firsts.index, firsts, strict=True):
        try:
            names[value] = validate_symbol(value)
        except ForecastError as e:  # row: the data row, 1-based (the header is not one)
            failures[f"{path.name} (row {row + 1}, {value.strip()[:20]!r})"] = str(e)
            names[value] = None
    symbols = raw[column].map(names)
    out = []
    for ticker, rows in raw[symbols.notna()].groupby(symbols[symbols.notna()], sort=False):
        body = rows.drop(columns=[column]).to_csv(index=False, sep=sep).encode("utf-8")
        out.append(Source(ticker, f"{path.name} ({ticker})", path, body))
    return out, failures


def sources(paths: list[Path], ticker: str | None = None) -> tuple[list[Source], dict[str, str]]:
    """The tickers in `paths` (files and folders of *.csv) and where each one's rows are, with
    the files that cannot be used ({label: why}). `ticker`: the one ticker of a single file
    (the form `fetch TICKER --csv FILE`)."""
    files, failures = [], {}
    if ticker is not None and (len(paths) != 1 or Path(paths[0]).is_dir()):
        raise ForecastError(
            f"{ticker} names the ticker of one CSV file; for a folder or several files leave "
            "it out: each file's name (or its ticker column) names its ticker"
        )
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() == ".csv" and q.is_file())
            if not found:
                failures[str(p)] = "a folder without .csv files"
            files += found
        else:
            files.append(p)
    seen, unique = set(), []  # a file named twice (itself and its folder) is one source
    for f in files:
        if (real := f.resolve()) not in seen:
            seen.add(real)
            unique.append(f)
    files = unique
    out = []
    for f in files:
        try:
            if ticker is not None:
                out.append(Source(validate_symbol(ticker), f"{f.name} ({ticker})", f))
                continue
            data = read_csv_bytes(f)
            column = _ticker_column(data)
            if column is not None:
                found, bad = _split_long(f, data, column)
                out += found
                failures.update(bad)
            else:
                name = validate_symbol(f.stem)
                out.append(Source(name, f"{f.name} ({name})", f))
        except ForecastError as e:
            failures[f.name] = str(e)
    return _one_source_each(out, failures)


def _one_source_each(
    out: list[Source], failures: dict[str, str]
) -> tuple[list[Source], dict[str, str]]:
    """Refuse every ticker that more than one source names (ZZ.csv and zz.csv, or a file and
    a long file's rows): their imports would overwrite each other, and which one is kept
    would depend on the threads. The user picks one; the other tickers still import."""
    by_ticker: dict[str, list[Source]] = {}
    for s in out:
        by_ticker.setdefault(s.ticker, []).append(s)
    for ticker, group in by_ticker.items():
        if len(group) > 1:
            labels = ", ".join(s.label for s in group)
            failures[ticker] = (
                f"{ticker} comes from {len(group)} sources ({labels}); import one of them"
            )
    return [s for s in out if len(by_ticker[s.ticker]) == 1], failures


def _import_one(source: Source, data_dir: Path, exchange, currency) -> policy.FetchResult:
    if source.data is None:
        return policy.import_csv(
            source.ticker, source.path, data_dir, exchange, currency, latest=False
        )
    notes: list[str] = []
    frame = parse_csv(source.data, source.label, MIN_ROWS, notes)
    where = f"{source.path.resolve()} ({source.ticker})"
    return policy.import_frame(
        source.ticker, frame, data_dir, where, notes, exchange, currency, latest=False
    )


def import_all(
    items: list[Source],
    data_dir: Path,
    exchange: str | None = None,
    currency: str | None = None,
    workers: int | None = None,
) -> tuple[list[policy.FetchResult], dict[str, str]]:
    """Import every source on a pool of threads (pandas' parser and the file writes release
    the GIL); returns the results in the sources' order and the failures ({label: why})."""
    workers = workers or min(8, os.cpu_count() or 1)
    results, failures = [], {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as pool:
        futures = [(s, pool.submit(_import_one, s, data_dir, exchange, currency)) for s in items]
        for source, future in futures:
            try:
                results.append(future.result())
            except ForecastError as e:
                failures[source.label] = str(e)
            except OSError as e:
                failures[source.label] = f"cannot save it ({e.strerror or e})"
    if results:  # each import left the marker alone: the last source is the one commands default to
        from forecast.prices import cache

        cache.mark_latest(results[-1].ticker, data_dir)
    return results, failures
