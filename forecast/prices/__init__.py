"""Daily price history: fetch, cache, load and validate it.

schema.py   the one frame schema; symbols, dates; Yahoo frames -> schema; fingerprint
csvfile.py  CSV files: the cache's format and the exports users import
cache.py    the on-disk cache (CSV + JSON sidecar), the .latest marker, the shipped samples
yahoo.py    the Yahoo client: the only network code in forecast
policy.py   the fetch policy: incremental fetches, refetch on actions, offline fallback, imports
"""

from forecast.prices.cache import (
    SAMPLES,
    latest_ticker,
    list_cached,
    load_prices,
    read_provenance,
)
from forecast.prices.csvfile import MIN_ROWS, read_price_csv
from forecast.prices.policy import FetchResult, fetch, import_csv
from forecast.prices.schema import (
    ACTIONS,
    COLUMNS,
    PRICES,
    STALE_DAYS,
    fingerprint,
    normalize,
    parse_date,
    validate_symbol,
)
from forecast.prices.yahoo import Yahoo

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
