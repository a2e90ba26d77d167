"""Ticker symbols: the one grammar every name typed, read from a file or used as a path obeys.

Yahoo's symbols (BRK-B, ^GSPC, EURUSD=X, 7203.T), upper-cased, at most 15 characters. A name
that passes can never become a path (no "/", no ".." at the start), so every file name the
tool builds from a symbol stays inside its folder.
"""

import re

from forecast.errors import ForecastError

_SYMBOL = re.compile(r"[A-Z0-9^][A-Z0-9.\-^=]*")  # Yahoo symbols: BRK-B, ^GSPC, EURUSD=X, 7203.T
_MAX_SYMBOL = 15


def validate_symbol(symbol: str) -> str:
    """Return the upper-cased symbol, or raise ForecastError before it can become a path.

    Also applied to every ticker read from a file (a sidecar, the .latest marker), so no name on
    disk can become a path either.
    """
    s = str(symbol).strip().upper()
    if not s:
        raise ForecastError("empty ticker symbol; give one like AAPL or ^GSPC")
    if any(c.isspace() for c in s):
        raise ForecastError(f"ticker {s[:20]!r} contains spaces; give one symbol per argument")
    if len(s) > _MAX_SYMBOL:
        raise ForecastError(f"ticker {s[:20]!r} is longer than {_MAX_SYMBOL} characters")
    if not s.isascii() or not _SYMBOL.fullmatch(s):
        raise ForecastError(
            f"invalid ticker {s!r}: use letters, digits and . - ^ = only, "
            "starting with a letter, a digit or ^ (e.g. AAPL, BRK-B, ^GSPC)"
        )
    return s


def is_symbol(name: str) -> bool:
    """Whether `name` is already a valid symbol as written (upper case included)."""
    try:
        return validate_symbol(name) == name
    except ForecastError:
        return False
