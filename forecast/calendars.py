"""Trading sessions on an exchange's real calendar, so forecast day h is the h-th session ahead.

Dates are tz-naive and normalised (midnight), matching a daily price index. Calendars come
from `exchange_calendars` (holidays, ad-hoc closures); it is imported inside the functions
because importing it costs about a second and most commands never need it.
"""

import functools
import math
import warnings

import pandas as pd

from forecast.errors import ForecastError

# Yahoo Finance ticker suffix → ISO 10383 MIC of the exchange whose calendar the series follows.
# Several venues share one calendar (Nasdaq and NYSE; NSE and BSE; Shanghai and Shenzhen;
# TSX Venture and TSX), so the closest calendar exchange_calendars ships is used for each.
YAHOO_SUFFIX_TO_MIC = {
    "L": "XLON",  # London
    "IL": "XLON",  # London international order book
    "DE": "XETR",  # Yahoo's .DE is Xetra, not the Frankfurt floor
    "F": "XFRA",  # Frankfurt
    "DU": "XDUS",  # Düsseldorf
    "HM": "XHAM",  # Hamburg
    "SG": "XSTU",  # Stuttgart
    "PA": "XPAR",  # Euronext Paris
    "AS": "XAMS",  # Euronext Amsterdam
    "BR": "XBRU",  # Euronext Brussels
    "LS": "XLIS",  # Euronext Lisbon
    "IR": "XDUB",  # Euronext Dublin
    "MI": "XMIL",  # Borsa Italiana
    "MC": "XMAD",  # Madrid
    "SW": "XSWX",  # SIX Swiss
    "VX": "XSWX",  # SIX Swiss (ex-virt-x listings)
    "ST": "XSTO",  # Stockholm
    "CO": "XCSE",  # Copenhagen
    "HE": "XHEL",  # Helsinki
    "OL": "XOSL",  # Oslo
    "IC": "XICE",  # Iceland
    "VI": "XWBO",  # Vienna
    "WA": "XWAR",  # Warsaw
    "PR": "XPRA",  # Prague
    "BD": "XBUD",  # Budapest
    "AT": "ASEX",  # Athens
    "IS": "XIST",  # Istanbul
    "TA": "XTAE",  # Tel Aviv
    "JO": "XJSE",  # Johannesburg
    "T": "XTKS",  # Tokyo
    "HK": "XHKG",  # Hong Kong
    "SS": "XSHG",  # Shanghai
    "SZ": "XSHG",  # Shenzhen keeps the Shanghai holidays
    "TW": "XTAI",  # Taiwan
    "KS": "XKRX",  # Korea (KOSPI)
    "KQ": "XKRX",  # Korea (KOSDAQ)
    "NS": "XBOM",  # NSE India keeps the BSE holidays
    "BO": "XBOM",  # BSE India
    "SI": "XSES",  # Singapore
    "KL": "XKLS",  # Kuala Lumpur
    "BK": "XBKK",  # Bangkok
    "JK": "XIDX",  # Jakarta
    "PS": "XPHS",  # Philippines
    "AX": "XASX",  # Australia
    "NZ": "XNZE",  # New Zealand
    "TO": "XTSE",  # Toronto
    "V": "XTSE",  # TSX Venture keeps the TSX holidays
    "SA": "BVMF",  # São Paulo
    "MX": "XMEX",  # Mexico
    "BA": "XBUE",  # Buenos Aires
    "SN": "XSGO",  # Santiago
    "SR": "XSAU",  # Saudi Exchange
}

# Indices (^...) trade on their home exchange; the rest are US indices.
YAHOO_INDEX_TO_MIC = {
    "^FTSE": "XLON",
    "^FTMC": "XLON",
    "^GDAXI": "XETR",
    "^FCHI": "XPAR",
    "^AEX": "XAMS",
    "^SSMI": "XSWX",
    "^STOXX50E": "XETR",
    "^N225": "XTKS",
    "^HSI": "XHKG",
    "^GSPTSE": "XTSE",
    "^AXJO": "XASX",
    "^KS11": "XKRX",
    "^BSESN": "XBOM",
    "^NSEI": "XBOM",
}

# Crypto pairs trade every day, so their daily series has weekends.
CRYPTO_QUOTES = ("-USD", "-EUR", "-GBP", "-JPY", "-USDT", "-BTC", "-ETH")


def exchange_for(ticker: str) -> str:
    """Calendar code for a Yahoo ticker: an ISO MIC such as "XNYS", or "24/7" / "24/5".

    No suffix → "XNYS" (US listings: NYSE and Nasdaq share holidays). "^" indices → their
    home exchange when listed in YAHOO_INDEX_TO_MIC, else "XNYS". "XXX-USD" style crypto
    pairs → "24/7"; "=X" currency pairs → "24/5". Futures ("=F") → "XNYS" (CME's holidays
    are close enough for daily bars). An unknown suffix also falls back to "XNYS": dates
    may then be off around local holidays, which is better than refusing to forecast.
    """
    t = ticker.strip().upper()
    if t.startswith("^"):
        return YAHOO_INDEX_TO_MIC.get(t, "XNYS")
    if t.endswith("=X"):
        return "24/5"
    if t.endswith(CRYPTO_QUOTES):
        return "24/7"
    if "." in t:
        suffix = t.rsplit(".", 1)[1]
        return YAHOO_SUFFIX_TO_MIC.get(suffix, "XNYS")
    return "XNYS"


def _as_session_date(d) -> pd.Timestamp:
    """Midnight of the local calendar date (a tz-aware stamp keeps its wall-clock date)."""
    ts = pd.Timestamp(d)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)  # not tz_convert: 00:00 Tokyo must stay the same date
    return ts.normalize()


def check_exchange(code: str) -> str:
    """The exchange_calendars code (an ISO MIC such as XNYS, or an alias such as NYSE, or
    24/7, 24/5) upper-cased, or ForecastError naming some valid ones."""
    import exchange_calendars as xcals

    name = str(code).strip().upper()
    if name not in xcals.get_calendar_names(include_aliases=True):
        raise ForecastError(
            f"unknown exchange {str(code)[:20]!r}; give an exchange_calendars code such as "
            "XNYS, XLON, XTKS, XETR or XHKG (or 24/7 for crypto)"
        )
    return name


@functools.lru_cache(maxsize=16)
def _calendar_class(exchange: str):
    """The calendar's class, through exchange_calendars' public API: its bound_min() and
    bound_max() say how far the exchange's holiday tables go (XBOM and XSES stop at the end of
    2026 in 4.13)."""
    import exchange_calendars as xcals

    name = check_exchange(exchange)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return type(xcals.get_calendar(name))


@functools.lru_cache(maxsize=16)
def _calendar(exchange: str, first_year: int, last_year: int):
    """The exchange_calendars calendar for whole years, clipped to the years it knows.

    Whole years make the cache key coarse, so a backtest asking for hundreds of origins
    builds each calendar once. Returns (calendar or None, first, last) where [first, last]
    is the range the calendar covers.
    """
    import exchange_calendars as xcals

    factory = _calendar_class(exchange)
    first = pd.Timestamp(year=first_year, month=1, day=1)
    last = pd.Timestamp(year=last_year, month=12, day=31)
    bound_min, bound_max = factory.bound_min(), factory.bound_max()  # None: no bound
    if bound_min is not None:
        first = max(first, bound_min)
    if bound_max is not None:
        last = min(last, bound_max)
    if first > last:
        return None, first, last
    with warnings.catch_warnings():
        # exchange_calendars 4.x trips pandas 3 deprecation warnings inside its constructor;
        # they are the library's to fix and would only confuse a user of the CLI.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return xcals.get_calendar(exchange, start=first, end=last), first, last


@functools.lru_cache(maxsize=16)
def _sessions(exchange: str, first_year: int, last_year: int) -> pd.DatetimeIndex:
    """All sessions in the given years; weekdays stand in outside the calendar's known range."""
    cal, first, last = _calendar(exchange, first_year, last_year)
    year_start = pd.Timestamp(year=first_year, month=1, day=1)
    year_end = pd.Timestamp(year=last_year, month=12, day=31)
    if cal is None:
        return pd.bdate_range(year_start, year_end)
    # Mon–Fri is the honest guess where the exchange has not published its holidays yet.
    before = pd.bdate_range(year_start, first - pd.Timedelta(days=1))
    after = pd.bdate_range(last + pd.Timedelta(days=1), year_end)
    known = pd.DatetimeIndex(cal.sessions).tz_localize(None)
    return before.append(known).append(after)


def next_trading_days(last_date, n: int, exchange: str = "XNYS") -> pd.DatetimeIndex:
    """The n sessions strictly after `last_date` on `exchange` (tz-naive, normalised), shape (n,).

    Beyond the last year an exchange's holiday table covers, weekdays are used.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    last = _as_session_date(last_date)
    # n sessions need about n·7/5 calendar days; + 30 days of slack for holiday clusters
    # (Lunar New Year, Golden Week). Loop in case a calendar is sparser than that.
    days_ahead = math.ceil(n * 7 / 5) + 30
    while True:
        end = last + pd.Timedelta(days=days_ahead)
        sessions = _sessions(exchange, last.year, end.year)
        ahead = sessions[sessions > last]
        if len(ahead) >= n:
            return pd.DatetimeIndex(ahead[:n], name=None, freq=None)
        days_ahead *= 2


def trading_days_between(a, b, exchange: str = "XNYS") -> int:
    """Number of sessions in (a, b]: how many closes a cache ending on `a` is missing at `b`."""
    a, b = _as_session_date(a), _as_session_date(b)
    if b <= a:
        return 0
    sessions = _sessions(exchange, a.year, b.year)
    return int(((sessions > a) & (sessions <= b)).sum())
