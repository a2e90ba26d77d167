"""Daily price history: fetch, cache, load and validate it.

schema.py   the one frame schema; Yahoo frames -> schema; fingerprint (symbols: forecast.symbols)
csvfile.py  CSV files: the cache's format and the exports users import
cache.py    the on-disk cache (CSV + JSON sidecar), the .latest marker, the shipped samples
yahoo.py    the Yahoo client: the only network code in forecast
policy.py   the fetch policy: incremental fetches, refetch on actions, offline fallback, imports
"""

import importlib

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


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'forecast.prices' has no attribute {name!r}")
    home = _HOME[name]
    module = home if home.startswith("forecast.") else f"forecast.prices.{home}"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


__all__ = [
    "ACTIONS",
    "COLUMNS",
    "MIN_ROWS",
    "PRICES",
    "SAMPLES",
    "STALE_DAYS",
    "FetchResult",
    "Yahoo",
    "fetch",
    "fingerprint",
    "import_csv",
    "latest_ticker",
    "list_cached",
    "load_prices",
    "normalize",
    "parse_date",
    "read_price_csv",
    "read_provenance",
    "validate_symbol",
]
