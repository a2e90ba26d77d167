"""The Yahoo Finance client: the only module of forecast that touches the network.

One `Yahoo` object per command: it imports yfinance on first use, makes its caches safe (below),
puts an overall deadline and bounded, backed-off retries around each download, and remembers
what yfinance itself remembers for the rest of the process — after a DNS failure it answers with
empty frames instead of errors, so offline can look like an unknown ticker.

yfinance keeps its Yahoo cookie as a *pickle* in an SQLite file and unpickles it on the next
run: whoever can write that file runs code as the user. So its cookie cache is switched off
(a cookie costs one extra request per command), and its other caches (time zones, ISINs: plain
strings) live in a private per-user folder, platformdirs' user cache dir + forecast/yfinance,
created 0700; one that is a symlink, not ours, or writable by group or others is not used (a
temporary private folder, removed at exit, takes its place). Nothing goes in the data directory,
which may be shared.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

BACKOFF = 1.0  # seconds before the first retry after a rate limit; doubles on each retry

_sleep = time.sleep  # replaced in tests so backoff never really sleeps
_cache_location: str | None = None  # yfinance's caches are process-wide: where we pointed them


def _is_private(path: Path) -> bool:
    """A real directory (no symlink) owned by this user that no one else can write to."""
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        return False
    if os.name != "posix":  # no owner/mode bits to check; the profile folder is per user
        return True
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def private_cache_dir() -> Path:
    """yfinance's cache folder: per user, 0700; a temporary private one if that is unsafe."""
    import platformdirs

    location = Path(platformdirs.user_cache_dir("forecast", appauthor=False)) / "yfinance"
    try:
        location.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        location.mkdir(mode=0o700, exist_ok=True)
        # the parent too: whoever can write there can swap our folder for theirs
        if _is_private(location.parent) and _is_private(location):
            return location
    except OSError:
        pass  # unwritable home, read-only file system: fall through
    temporary = Path(tempfile.mkdtemp(prefix="forecast-yfinance-"))  # 0700 by mkdtemp
    atexit.register(shutil.rmtree, temporary, ignore_errors=True)
    return temporary


def _switch_off_cookie_cache(yf) -> None:
    """Make yfinance keep its cookie in memory only: its on-disk form is a pickle."""
    caches = yf.cache
    try:
        with caches._cache_init_lock:
            caches._CookieCacheManager._Cookie_cache = caches._CookieCacheDummy()
    except AttributeError:  # a yfinance that reorganised its caches: the private folder remains
        pass


Status = Callable[[str], None]


class Unreachable(Exception):
    """Yahoo gave no usable answer: no network, no answer in time, or rate-limited throughout."""


def call_with_deadline(fn: Callable[[], pd.DataFrame], timeout: float) -> pd.DataFrame:
    """Run fn in a daemon thread; a call still running after `timeout` seconds is abandoned."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller's thread below
            box["error"] = e

    worker = threading.Thread(target=run, daemon=True, name="forecast-fetch")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise Unreachable(f"Yahoo did not answer within {timeout:.3g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


class Yahoo:
    """yfinance's Ticker.history behind a deadline and retries, with the failure state it implies.

    network_failed: a DNS-level failure was seen. yfinance then answers later calls in this
    process with empty frames, so an empty answer no longer means "unknown ticker".
    """

    def __init__(self):
        self.network_failed = False
        self._yf = None

    def _yfinance(self):
        """Import yfinance with its caches made safe (module docstring) and its chatter off."""
        global _cache_location
        if self._yf is not None:
            return self._yf
        import yfinance as yf

        _switch_off_cookie_cache(yf)
        if _cache_location is None:
            location = private_cache_dir()
            yf.set_tz_cache_location(str(location))  # before first use, else it writes to ~/.cache
            _cache_location = str(location)
        log = logging.getLogger("yfinance")
        if not log.handlers:
            log.addHandler(logging.NullHandler())  # "possibly delisted" etc.: we say it ourselves
        warnings.filterwarnings("ignore", module=r"yfinance(\..*)?$")
        self._yf = yf
        return yf

    @property
    def version(self) -> str:
        return self._yfinance().__version__

    @staticmethod
    def _history(yf, ticker: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        """The network boundary: one Ticker.history call (end exclusive, as yfinance wants it)."""
        kwargs = {"interval": "1d", "auto_adjust": False, "actions": True, "timeout": 10}
        if start is None:
            kwargs["period"] = "max"
        else:
            kwargs["start"] = start.isoformat()
        if end is not None:
            kwargs["end"] = end.isoformat()
        return yf.Ticker(ticker).history(**kwargs)

    def history(
        self,
        ticker: str,
        start: dt.date | None,
        end: dt.date | None,
        *,
        deadline: float,
        retries: int,
        status: Status,
    ) -> pd.DataFrame:
        """Ticker.history with an overall deadline and `retries` backed-off retries on rate limits.

        Returns the raw frame (possibly empty); raises Unreachable.
        """
        yf = self._yfinance()
        give_up = time.monotonic() + deadline
        for attempt in range(retries + 1):
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                raise Unreachable("Yahoo did not answer before the deadline")
            try:
                return call_with_deadline(lambda: self._history(yf, ticker, start, end), remaining)
            except yf.exceptions.YFRateLimitError:
                if attempt == retries:
                    raise Unreachable(
                        f"Yahoo is rate-limiting us after {retries} retries"
                    ) from None
                wait = BACKOFF * 2**attempt
                status(f"Yahoo rate limit; retrying {ticker} in {wait:g} s")
                _sleep(max(0.0, min(wait, give_up - time.monotonic())))
            except (yf.exceptions.YFPricesMissingError, yf.exceptions.YFTzMissingError):
                return pd.DataFrame()  # raised instead of logged when hide_exceptions is off
            except OSError as e:  # curl_cffi's DNSError and friends
                self.network_failed = True
                raise Unreachable("Yahoo unreachable") from e
            except Unreachable:
                raise
            except Exception as e:  # a half-answer yfinance cannot parse is no answer either
                raise Unreachable(f"Yahoo gave no usable answer ({type(e).__name__})") from None
        raise AssertionError("unreachable")  # pragma: no cover
