"""The terminal and PNG fan charts render sensible output for ordinary and edge cases."""

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from forecast.fanchart import fan_chart
from forecast.plot import write_fan_png


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


def test_png_is_written(tmp_path):
    c = case(H=20)
    path = write_fan_png(tmp_path / "sub" / "fan.png", **c, title="TEST: 20-day forecast")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(path.parent.glob("*.tmp"))  # atomic write left no temporary behind


def test_png_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    import sys

    from forecast.errors import ForecastError

    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import of a None entry raises ImportError
    with pytest.raises(ForecastError, match=r"pip install 'forecast\[plot\]'"):
        write_fan_png(tmp_path / "fan.png", **case(H=3), title="x")
    assert not (tmp_path / "fan.png").exists()
