"""A fan chart as a PNG: recent closes, the median path and its 80% / 95% bands, via matplotlib.

matplotlib is optional (`pip install 'forecast[plot]'`) and imported only when a PNG is asked for.
"""

import io
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ForecastError
from forecast.files import atomic_write_bytes

HISTORY_DAYS = 120  # a PNG has room for more context than the terminal chart


def write_fan_png(
    path,
    history_dates,
    history_closes,
    forecast_dates,
    median,
    lower_80,
    upper_80,
    lower_95,
    upper_95,
    title: str,
) -> Path:
    """Draw the fan chart and write it to `path` atomically; returns the path.

    history_dates/closes: (T,); forecast_dates, median and the four band edges: (H,).
    """
    try:
        # Figure + the Agg canvas directly, not pyplot: no global backend switch (which would
        # hijack an interactive session's backend) and no figure registry to leak memory.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ForecastError("`--plot` needs matplotlib: pip install 'forecast[plot]'") from e

    hist_x = pd.DatetimeIndex(history_dates)[-HISTORY_DAYS:]
    hist_y = np.asarray(history_closes, float)[-HISTORY_DAYS:]
    # Start every forecast series at the origin close so the fan opens from the last price.
    fx = pd.DatetimeIndex([hist_x[-1]]).append(pd.DatetimeIndex(forecast_dates))
    med, lo80, hi80, lo95, hi95 = (
        np.concatenate([[hist_y[-1]], np.asarray(a, float)])
        for a in (median, lower_80, upper_80, lower_95, upper_95)
    )

    fig = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.fill_between(fx, lo95, hi95, color="tab:blue", alpha=0.18, linewidth=0, label="95% band")
    ax.fill_between(fx, lo80, hi80, color="tab:blue", alpha=0.35, linewidth=0, label="80% band")
    ax.plot(hist_x, hist_y, color="black", linewidth=1.2, label="close")
    ax.plot(fx, med, color="tab:orange", linewidth=1.6, label="median forecast")
    ax.axvline(hist_x[-1], color="grey", linewidth=0.8, linestyle=":")
    ax.set_title(title)
    ax.set_ylabel("price")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = [2, 3, 1, 0]  # close, median, 80%, 95%: the order a reader looks for them
    # "best" keeps the legend off the data (upper left sits on a falling series).
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="best", framealpha=0.9)
    fig.autofmt_xdate()

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
