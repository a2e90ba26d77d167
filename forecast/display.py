"""Everything a terminal sees: rich tables and progress on the right stream, errors as one line.

Data goes to stdout; spinners, progress, warnings and errors go to stderr, so
`forecast predict --json > out.json` stays clean.
"""

from rich.console import Console

out = Console()  # stdout: tables, JSON, charts
err = Console(stderr=True)  # stderr: progress, warnings, errors


def error(message: str) -> None:
    """One line on stderr, no traceback (markup off: messages may contain [brackets])."""
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True, style="yellow")


def info(message: str) -> None:
    err.print(message, markup=False, highlight=False, soft_wrap=True, style="dim")
