"""Daily price history: fetch, cache, load and validate it.

schema.py   the one frame schema; Yahoo frames -> schema; fingerprint (symbols: forecast.symbols)
csvfile.py  CSV files: the cache's format and the exports users import
cache.py    the on-disk cache (CSV + JSON sidecar), the .latest marker, the shipped samples
yahoo.py    the Yahoo client: the only network code in forecast
policy.py   the fetch policy: incremental fetches, refetch on actions, offline fallback, imports
"""

from forecast import lazy_face

# Where each name lives. They are imported on first use (PEP 562), so `forecast list`, `models`
# and `rm` reach the cache's sidecars and symbols.py without numpy, pandas or yfinance.
_HOME = {
    "SAMPLES": "cache",
    "latest_ticker": "cache",
    "list_cached": "cache",
    "load_prices": "cache",
    "read_provenance": "cache",
    "MIN_ROWS": "csvfile",
    "read_price_csv": "csvfile",
    "FetchResult": "policy",
    "fetch": "policy",
    "import_csv": "policy",
    "ACTIONS": "schema",
    "COLUMNS": "schema",
    "PRICES": "schema",
    "exchange_of": "schema",
    "fingerprint": "schema",
    "normalize": "schema",
    "STALE_DAYS": "forecast.symbols",  # the one symbol and date grammar, standard library only
    "parse_date": "forecast.symbols",
    "validate_symbol": "forecast.symbols",
    "Yahoo": "yahoo",
}


__getattr__, __dir__ = lazy_face(__name__, _HOME)
__all__ = sorted(_HOME)
