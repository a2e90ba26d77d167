"""Ticker symbols, dates and currency codes: the one grammar every name typed, read from a file
or used as a path obeys. Standard library only: `forecast list`, `models` and `rm` check names
read from the disk without importing numpy or pandas.

Symbols are Yahoo's (BRK-B, ^GSPC, EURUSD=X, 7203.T), upper-cased, at most 15 characters. A
name that passes can never become a path (no "/", no ".." at the start), so every file name
the tool builds from a symbol stays inside its folder.
"""

import datetime as dt
import re

from forecast.errors import ForecastError

STALE_DAYS = 4  # a long weekend plus a holiday; older than this and `forecast list` says stale

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


def parse_date(value: str | dt.date | None, name: str = "date") -> dt.date | None:
    """'YYYY-MM-DD' (or a date) -> date; None stays None; anything else is a ForecastError."""
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ForecastError(f"{name} {str(value)[:30]!r} is not a date; use YYYY-MM-DD") from None


def is_stale(last: dt.date, today: dt.date | None = None) -> bool:
    return last < (today or dt.date.today()) - dt.timedelta(days=STALE_DAYS)


# ISO 4217 currency codes in use, and the minor units Yahoo quotes some exchanges in (GBp:
# pence on the LSE, ZAc: cents in Johannesburg, ILA: agorot in Tel Aviv).
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()
)
MINOR_UNITS = {"GBP": "GBp", "GBX": "GBp", "ZAC": "ZAc", "ILA": "ILA"}  # typed upper -> shown


def check_currency(code: str) -> str:
    """An ISO 4217 code (EUR, JPY, ...; GBp, ZAc, ILA for quotes in minor units), or
    ForecastError. Upper-cased, except the minor units, which keep their conventional case."""
    text = str(code).strip()
    if text in ("GBp", "ZAc"):
        return text
    upper = text.upper()
    if upper in ("GBX", "ZAC", "ILA"):
        return MINOR_UNITS[upper]
    if upper not in ISO_4217:
        raise ForecastError(
            f"unknown currency {text[:20]!r}; give an ISO 4217 code such as USD, EUR, GBP or JPY "
            "(GBp for prices in pence)"
        )
    return upper
