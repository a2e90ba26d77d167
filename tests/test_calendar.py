"""Trading days come from the exchange's real calendar: weekends and holidays are skipped."""

import pandas as pd
import pytest

from forecast.calendars import exchange_for, next_trading_days, trading_days_between
from forecast.errors import ForecastError


def dates(*s):
    return pd.DatetimeIndex(pd.to_datetime(list(s)))


def test_next_trading_days_skips_christmas_weekend_and_new_year():
    got = next_trading_days("2023-12-22", 5)
    want = dates("2023-12-26", "2023-12-27", "2023-12-28", "2023-12-29", "2024-01-02")
    assert list(got) == list(want)


@pytest.mark.parametrize(
    "last, holiday",
    [
        ("2024-01-12", "2024-01-15"),  # MLK day
        ("2024-03-28", "2024-03-29"),  # Good Friday
        ("2024-07-03", "2024-07-04"),  # Independence Day
    ],
)
def test_nyse_holidays_are_skipped(last, holiday):
    got = next_trading_days(last, 3)
    assert pd.Timestamp(holiday) not in got
    assert all(d.weekday() < 5 for d in got)
    assert got[0] > pd.Timestamp(holiday)


def test_result_is_tz_naive_normalised_and_strictly_after():
    got = next_trading_days(pd.Timestamp("2024-01-02 16:00", tz="America/New_York"), 2)
    assert got.tz is None
    assert list(got) == list(dates("2024-01-03", "2024-01-04"))


def test_far_past_and_sixty_sessions_ahead():
    got = next_trading_days("2013-06-28", 60)
    assert len(got) == 60 and got.is_monotonic_increasing and got.is_unique
    assert pd.Timestamp("2013-07-04") not in got  # Independence Day 2013
    assert pd.Timestamp("2013-09-02") not in got  # Labor Day 2013
    assert got[0] == pd.Timestamp("2013-07-01")


def test_beyond_the_published_holidays_weekdays_stand_in():
    # exchange_calendars 4.13 knows BSE holidays only to the end of 2026
    got = next_trading_days("2026-12-15", 30, "XBOM")
    assert len(got) == 30 and got.is_monotonic_increasing
    assert all(d.weekday() < 5 for d in got)


def test_zero_days_is_empty():
    assert len(next_trading_days("2018-05-01", 0)) == 0


def test_other_exchanges_use_their_own_holidays():
    # 2024-05-06 was the Early May bank holiday in London but a normal NYSE session.
    assert pd.Timestamp("2024-05-06") not in next_trading_days("2024-05-03", 2, "XLON")
    assert pd.Timestamp("2024-05-06") in next_trading_days("2024-05-03", 2, "XNYS")


def test_unknown_exchange_says_what_to_use():
    with pytest.raises(ForecastError, match="XNYS"):
        next_trading_days("2024-01-02", 1, "NOPE")


def test_trading_days_between_counts_sessions_in_half_open_interval():
    assert trading_days_between("2023-12-22", "2024-01-02") == 5
    assert trading_days_between("2023-12-22", "2023-12-25") == 0  # Christmas: closed
    assert trading_days_between("2024-01-02", "2024-01-02") == 0
    assert trading_days_between("2024-01-05", "2024-01-02") == 0


@pytest.mark.parametrize(
    "ticker, mic",
    [
        ("AAPL", "XNYS"),
        ("brk-b", "XNYS"),  # share class, not a crypto pair
        ("^GSPC", "XNYS"),
        ("^FTSE", "XLON"),
        ("VOD.L", "XLON"),
        ("SAP.DE", "XETR"),
        ("MC.PA", "XPAR"),
        ("ASML.AS", "XAMS"),
        ("7203.T", "XTKS"),
        ("0700.HK", "XHKG"),
        ("RY.TO", "XTSE"),
        ("NESN.SW", "XSWX"),
        ("BHP.AX", "XASX"),
        ("BTC-USD", "24/7"),
        ("EURUSD=X", "24/5"),
        ("FOO.ZZ", "XNYS"),  # unknown suffix falls back to NYSE
    ],
)
def test_exchange_for_yahoo_suffixes(ticker, mic):
    assert exchange_for(ticker) == mic
