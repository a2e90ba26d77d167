"""The terminal and PNG fan charts render sensible output for ordinary and edge cases."""

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from forecast.cli.fanchart import fan_chart
from forecast.plot import write_backtest, write_fan


def render(renderable) -> str:
    console = Console(file=io.StringIO(), width=100)
    console.print(renderable)
    return console.file.getvalue()


def case(H=20, T=300, flat=False):
    dates = pd.bdate_range("2024-01-01", periods=T)
    if flat:
        closes = np.full(T, 50.0)
    else:
        closes = np.linspace(90.0, 110.0, T)
    fdates = pd.bdate_range(dates[-1] + pd.Timedelta(days=1), periods=H)
    last = closes[-1]
    w = 0.0 if flat else 1.0
    h = np.sqrt(np.arange(1, H + 1))
    return dict(
        history_dates=dates,
        history_closes=closes,
        forecast_dates=fdates,
        median=np.full(H, last),
        lower_80=last - w * 2 * h,
        upper_80=last + w * 2 * h,
        lower_95=last - w * 3 * h,
        upper_95=last + w * 3 * h,
    )


def test_height_labels_and_dates():
    c = case(H=4)  # 95% band reaches 110 ± 3·2 = 104..116; shown closes go down to ~106
    out = render(fan_chart(**c, width=72, height=18))
    lines = out.splitlines()
    assert len(lines) == 18
    assert max(len(line) for line in lines) <= 72
    assert lines[0].lstrip().startswith("116.00")  # top label = top of the 95% band
    assert "104.00" in lines[14]  # bottom label on the last plot row (18 − 3 plot rows)
    assert str(c["history_dates"][-60].date()) in out  # first shown date (last 60 closes)
    assert str(c["forecast_dates"][-1].date()) in out  # last forecast date
    for mark in "•●▒░":
        assert mark in out


@pytest.mark.parametrize("H, flat", [(1, False), (1, True), (20, True), (60, False)])
def test_edge_cases_render(H, flat):
    out = render(fan_chart(**case(H=H, flat=flat), width=72, height=12))
    assert len(out.splitlines()) == 12
    assert "●" in out or H == 1  # a one-day median may share its column with the origin


def test_short_history():
    c = case(H=5, T=1)
    assert len(render(fan_chart(**c)).splitlines()) == 18


def extreme(closes, bands, H=5):
    """A case with the given closes and every band set to `bands` (scalar or (H,))."""
    c = case(H=H, T=len(closes))
    c["history_closes"] = np.asarray(closes, float)
    for k in ("median", "lower_80", "upper_80", "lower_95", "upper_95"):
        c[k] = np.broadcast_to(np.asarray(bands, float), (H,)).copy()
    return c


def band_case(H, median, lo, hi):
    """Ordinary closes around 100 with the given median and (80% = 95%) bands."""
    c = case(H=H)
    c.update(median=median, lower_80=lo, upper_80=hi, lower_95=lo, upper_95=hi)
    return c


@pytest.mark.parametrize("width", [30, 31, 40, 72])
@pytest.mark.parametrize(
    "c",
    [
        extreme(np.linspace(1e-320, 200.0, 50), 200.0),  # subnormal to ordinary
        extreme(np.linspace(1e299, 1e300, 50), 1e300),  # labels of 300 digits
        extreme([1e20, 5e20], 5e20),  # 27-character labels: one plot column left at width 30
        extreme([1e20, 1e20 + 1e5], 1e20),  # span < 1 would print 4 decimals of 1e20
        extreme([-1e308, 1e308], 1e308),  # top - bottom overflows
        extreme([1e-320, 3e-320], 3e-320),  # flat after rounding to subnormals
        extreme([0.0], 0.0, H=1),  # one close, one day, all zero
    ],
    ids=["1e-320..200", "1e300", "P=1", "1e20+tiny", "±1e308", "subnormal", "zero"],
)
def test_extreme_ranges_fit_the_width(c, width):
    text = fan_chart(**c, width=width, height=8)
    lines = text.plain.splitlines()
    assert len(lines) == 8
    assert max(len(line) for line in lines) <= width, text.plain
    assert sum(line.count("┴") for line in lines) == 1  # the axis marks the origin
    assert "•" in text.plain


def test_extreme_labels_are_compact_and_ordered():
    c = extreme(np.linspace(1e299, 1e300, 50), 1e300)
    lines = fan_chart(**c, width=40, height=8).plain.splitlines()
    labels = [line.split("┤")[0].strip() for line in lines[:5] if "┤" in line]
    assert labels[0] == "1e+300" and labels[-1] == "1e+299"
    values = [float(s) for s in labels]
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize("H", [1, 20])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_bands_leave_blank_cells(H, bad):
    """A diverged model's bands: the closes are still drawn, non-finite cells stay blank."""
    c = band_case(H, median=np.full(H, bad), lo=np.full(H, bad), hi=np.full(H, bad))
    text = fan_chart(**c, width=72, height=12)
    lines = text.plain.splitlines()
    assert len(lines) == 12 and max(map(len, lines)) <= 72
    plot = "".join(lines[:9])
    assert "•" in plot
    assert not set("●▒░") & set(plot)
    assert lines[0].lstrip().startswith("110.00")  # the range is that of the closes alone


def test_partly_finite_bands_draw_the_finite_part():
    H = 20
    median = np.full(H, 110.0)
    lo, hi = median - 5, median + 5
    median[10:] = np.nan
    hi[5] = np.inf
    plot = "".join(fan_chart(**band_case(H, median, lo, hi), width=72).plain.splitlines()[:15])
    assert "●" in plot and "▒" in plot
    assert lo.min() == 105 and "115.00" in plot  # the infinite upper band does not set the top


def test_nothing_finite_is_a_clear_error():
    c = extreme([np.nan, np.inf], np.nan)
    with pytest.raises(ValueError, match="no finite"):
        fan_chart(**c)


def test_png_is_written(tmp_path):
    c = case(H=20)
    path = write_fan(tmp_path / "sub" / "fan.png", **c, title="TEST: 20-day forecast")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(path.parent.glob("*.tmp"))  # atomic write left no temporary behind


def test_png_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    import sys

    from forecast.errors import ForecastError

    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import of a None entry raises ImportError
    with pytest.raises(ForecastError, match=r"pip install 'forecast\[plot\]'"):
        write_fan(tmp_path / "fan.png", **case(H=3), title="x")
    assert not (tmp_path / "fan.png").exists()


MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF-"}


@pytest.mark.parametrize("suffix", sorted(MAGIC))
def test_the_format_follows_the_extension(tmp_path, suffix):
    path = write_fan(tmp_path / f"fan{suffix.upper()}", **case(H=5), title="T", currency="USD")
    assert path.read_bytes().startswith(MAGIC[suffix])
    if suffix == ".svg":  # the title and the currency are in the picture
        text = path.read_text()
        assert ">T<" in text or "T</" in text or "price (USD)" in text


def test_an_unknown_extension_is_refused(tmp_path):
    from forecast.errors import ForecastError

    with pytest.raises(ForecastError, match=r"\.png, \.svg or \.pdf"):
        write_fan(tmp_path / "fan.jpg", **case(H=3), title="x")
    assert not list(tmp_path.iterdir())


def test_history_days_sets_how_much_past_is_drawn(tmp_path):
    import re

    import matplotlib

    c = case(H=5, T=300)
    with matplotlib.rc_context({"path.simplify": False}):  # one vertex per close
        long = write_fan(tmp_path / "a.svg", **c, title="x", history_days=250).read_text()
        short = write_fan(tmp_path / "b.svg", **c, title="x", history_days=20).read_text()

    # the close line's path has one vertex per drawn close: more history, a longer path
    def longest_path(svg):
        return max(len(re.findall(r"L ", d)) for d in re.findall(r' d="([^"]+)"', svg))

    assert longest_path(long) >= 249 > longest_path(short)


def test_backtest_chart_in_every_format(tmp_path):
    n = 40
    targets = pd.bdate_range("2024-01-04", periods=n)
    rng = np.random.default_rng(0)
    realised = 100 + rng.normal(0, 1, n).cumsum()
    med = realised + rng.normal(0, 1, n)
    bands = {0.8: (med - 2, med + 2), 0.95: (med - 3, med + 3)}
    cov = {
        m: {0.8: np.array([0.7, 0.8, 0.85]), 0.95: np.array([0.9, 0.95, 0.96])}
        for m in ("rnn", "naive")
    }
    for suffix in MAGIC:
        path = write_backtest(
            tmp_path / f"bt{suffix}", targets, realised, med, bands, cov, title="X", currency=None
        )
        assert path.read_bytes().startswith(MAGIC[suffix])
