"""Everything a terminal sees: rich tables and progress on the right stream, errors as one line.

Data goes to stdout; spinners, progress, warnings and errors go to stderr, so
`forecast predict --json > out.json` stays clean.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console()  # stdout: tables, JSON, charts
err = Console(stderr=True)  # stderr: progress, warnings, errors


def error(message: str) -> None:
    """One line on stderr, no traceback (markup off: messages may contain [brackets])."""
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True, style="yellow")


def info(message: str) -> None:
    err.print(message, markup=False, highlight=False, soft_wrap=True, style="dim")


# --- fetch / list -----------------------------------------------------------------------------


@contextmanager
def status(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr while a slow call runs; yields a callback that changes its text."""
    with err.status(message, spinner="dots") as spinner:
        yield lambda text: spinner.update(text)


def fetch_table(results) -> None:
    """One row per fetched ticker (forecast.prices.FetchResult): size, date range, last close."""
    table = Table(title="prices", title_justify="left")
    for name, justify in [
        ("ticker", "left"),
        ("rows", "right"),
        ("first", "left"),
        ("last", "left"),
        ("last close", "right"),
        ("new", "right"),
        ("source", "left"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)
    for r in results:
        frame = r.frame
        table.add_row(
            r.ticker,
            f"{len(frame):,}",
            f"{frame.index[0]:%Y-%m-%d}",
            f"{frame.index[-1]:%Y-%m-%d}",
            f"{frame['Close'].iloc[-1]:,.2f}",
            f"{r.new_rows:,}",
            r.source,
        )
    out.print(table)


def cached_table(entries: list[dict]) -> None:
    """`forecast list`: one row per cached ticker from its sidecar, stale ones in yellow."""
    table = Table(title="cached prices", title_justify="left")
    for name, justify in [
        ("ticker", "left"),
        ("first", "left"),
        ("last", "left"),
        ("rows", "right"),
        ("source", "left"),
        ("fetched", "left"),
        ("status", "left"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)
    for e in entries:
        rows = e.get("rows")
        text = {k: escape(str(e.get(k) or "?")) for k in ("ticker", "first", "last", "source")}
        table.add_row(
            text["ticker"],
            text["first"],
            text["last"],
            f"{rows:,}" if isinstance(rows, int) else "?",
            text["source"],
            escape(str(e.get("fetched_at") or "?")[:10]),
            "[yellow]stale[/yellow]" if e.get("stale") else "fresh",
        )
    out.print(table)
