"""Charts as image files via matplotlib: the forecast fan, and a backtest's forecasts against
what happened. The format follows the file's extension: .png, .svg or .pdf.

matplotlib is optional (`pip install 'forecast[plot]'`) and imported only when a chart is asked for.
"""

import io
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ForecastError
from forecast.files import check_output, write_output

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def check_path(path, data_dir: Path | None = None) -> Path:
    """Refuse, before any work, a file name whose format is unknown, whose folder is missing,
    that is no file to write (files.check_output) or that is inside the data directory."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ForecastError(f"--plot {path.name}: give a file name ending in .png, .svg or .pdf")
    return check_output(path, "--plot", data_dir)


def _figure(height: float = 5.0, rows: int = 1):
    try:
        # Figure + the Agg canvas directly, not pyplot: no global backend switch (which would
        # hijack an interactive session's backend) and no figure registry to leak memory.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ForecastError("`--plot` needs matplotlib: pip install 'forecast[plot]'") from e
    fig = Figure(figsize=(10, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, 1, squeeze=False)[:, 0]


def _save(fig, path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ForecastError(f"--plot {path.name}: give a file name ending in .png, .svg or .pdf")
    buf = io.BytesIO()
    # metadata without dates: the same chart gives the same bytes (svg and pdf stamp them)
    meta = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    fmt = FORMATS[path.suffix.lower()]
    fig.savefig(buf, format=fmt, metadata=meta[fmt])
    write_output(path, buf.getvalue())  # a FIFO or device is written, never replaced
    return path


def trading_axis(ax, dates, n_ticks: int = 8) -> None:
    """Label positions 0..n−1 (one per session) with their dates: a trading-day axis, so
    weekends and holidays leave no gaps (and no straight ramps across them)."""
    dates = pd.DatetimeIndex(dates)
    if len(dates) == 0:
        return
    ticks = np.unique(np.linspace(0, len(dates) - 1, min(n_ticks, len(dates))).round().astype(int))
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{dates[i]:%Y-%m-%d}" for i in ticks], rotation=30, ha="right")
    ax.set_xlim(-0.5, len(dates) - 0.5)


def write_fan(
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
    history_days: int | None = None,
    currency: str | None = None,
    vol: dict | None = None,
) -> Path:
    """Draw the fan chart and write it to `path` atomically; returns the path.

    history_dates/closes: (N,) of which the last history_days (default: all) are drawn; forecast_dates,
    median and the four band edges: (days,). x is a trading-day axis (trading_axis).
    vol: a second panel, the volatility chart an arch user reads: "abs_returns" (N,) the daily
    |log return| on the history dates (NaN on the first), "fitted" (N,) the model's one-day
    sigma forecast for each of those days (NaN where none), "sigma" (days,) the forecast
    day sigma, and "z" {level: z_{(1+L)/2}}: |r| falls below z·sigma with probability L.
    """
    fig, axes = _figure(height=8.0 if vol else 5.0, rows=2 if vol else 1)
    ax = axes[0]
    keep = slice(-history_days if history_days else None, None)
    hist_dates = pd.DatetimeIndex(history_dates)[keep]
    hist_y = np.asarray(history_closes, float)[keep]
    nh, nf = len(hist_dates), len(forecast_dates)
    all_dates = hist_dates.append(pd.DatetimeIndex(forecast_dates))
    hist_x = np.arange(nh)
    # Start every forecast series at the origin close so the fan opens from the last price.
    fx = np.arange(nh - 1, nh + nf)
    med, lo80, hi80, lo95, hi95 = (
        np.concatenate([[hist_y[-1]], np.asarray(a, float)])
        for a in (median, lower_80, upper_80, lower_95, upper_95)
    )
    ax.fill_between(fx, lo95, hi95, color="tab:blue", alpha=0.18, linewidth=0, label="95% band")
    ax.fill_between(fx, lo80, hi80, color="tab:blue", alpha=0.35, linewidth=0, label="80% band")
    ax.plot(hist_x, hist_y, color="black", linewidth=1.2, label="close")  # sessions 0..nh−1
    ax.plot(fx, med, color="tab:orange", linewidth=1.6, label="median forecast")
    ax.axvline(hist_x[-1], color="grey", linewidth=0.8, linestyle=":")
    ax.set_title(title)
    ax.set_ylabel(f"price ({currency})" if currency else "price")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = [2, 3, 1, 0]  # close, median, 80%, 95%: the order a reader looks for them
    # "best" keeps the legend off the data (upper left sits on a falling series).
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="best", framealpha=0.9)
    trading_axis(ax, all_dates)
    if vol:
        _vol_panel(axes[1], vol, keep, nh, nf, all_dates)
    return _save(fig, path)


def _vol_panel(ax, vol: dict, keep: slice, nh: int, nf: int, all_dates) -> None:
    """Past |r| and fitted sigma, then the forecast sigma path with its |r| bands, in %."""
    hist_x, fx = np.arange(nh), np.arange(nh, nh + nf)
    ax.bar(
        hist_x, 100 * np.asarray(vol["abs_returns"], float)[keep], width=0.8, color="0.75",
        label="|daily log return|",
    )  # fmt: skip
    fitted = vol.get("fitted")
    if fitted is not None:
        ax.plot(hist_x, 100 * np.asarray(fitted, float)[keep], color="tab:blue", lw=1.2,
                label="model's sigma (forecast the day before)")  # fmt: skip
    sigma = 100 * np.asarray(vol["sigma"], float)
    for k, (level, z) in enumerate(sorted(vol["z"].items(), reverse=True)):
        ax.fill_between(fx, 0, z * sigma, color="tab:orange", alpha=0.15 + 0.15 * k, lw=0,
                        label=f"|r| {level:.0%} band")  # fmt: skip
    ax.plot(fx, sigma, color="tab:orange", lw=1.6, marker="o", ms=3, label="forecast sigma")
    ax.axvline(nh - 0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.set_ylabel("daily volatility (%)")
    ax.set_title("conditional volatility: past |r| and the model's sigma, then the forecast",
                 fontsize="medium")  # fmt: skip
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", framealpha=0.9, fontsize="small")
    trading_axis(ax, all_dates)


def write_backtest(
    path,
    target_dates,
    realised,
    median,
    bands: dict[float, tuple[np.ndarray, np.ndarray]],
    coverage: dict[str, dict[float, np.ndarray]],
    title: str,
    currency: str | None = None,
    exceedances: dict | None = None,
) -> Path:
    """Two panels: the RNN's h-day forecasts against what happened, and coverage by horizon;
    a third with `exceedances`: {"dates" (n,) the days forecast one day ahead, "returns" (n,)
    the long position's return on them, "var" {level: (n,)} the RNN's 1-day VaR}, each
    return below −VaR marked. Dates run on trading-day axes (trading_axis).

    target_dates, realised, median and each band edge: (m,), one per origin whose target day
    h sessions later is in the data (h = the backtest's longest horizon): the day forecast,
    the close on it, and the RNN's median and bands for it. coverage: model -> {level: (h,)}
    share of cases inside that model's band at horizons 1..h.
    """
    fig, panels = _figure(height=11.0 if exceedances else 8.0, rows=3 if exceedances else 2)
    top, bottom = panels[0], panels[-1]
    dates = pd.DatetimeIndex(target_dates)
    x = np.arange(len(dates))
    h = len(next(iter(next(iter(coverage.values())).values())))
    if len(x):
        for k, level in enumerate(sorted(bands, reverse=True)):  # widest first, underneath
            lo, hi = bands[level]
            alpha = 0.18 if k == 0 else 0.35
            top.fill_between(
                x, lo, hi, color="tab:blue", alpha=alpha, lw=0, label=f"{level:.0%} band"
            )
        top.plot(x, median, color="tab:orange", linewidth=1.2, label="median forecast")
        top.plot(x, realised, color="black", linewidth=1.0, label="what happened")
        top.legend(loc="best", framealpha=0.9)
    top.set_title(title)
    trading_axis(top, dates)
    top.set_xlabel("the day forecast")
    top.set_ylabel(f"close {h} days after the origin" + (f" ({currency})" if currency else ""))
    top.grid(True, alpha=0.3)

    hs = np.arange(1, h + 1)
    # one colour per model, both its levels: solid the wider band, dashed the narrower
    fixed = {"rnn": "tab:orange", "naive": "tab:grey", "drift": "tab:green"}
    spare = iter(["tab:blue", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive"])
    colours = {m: fixed.get(m) or next(spare, None) for m in coverage}
    for model, levels in coverage.items():
        for level, cov in levels.items():
            line = "-" if level == max(levels) else "--"
            bottom.plot(
                hs, cov, line, marker="o", color=colours[model], label=f"{model} {level:.0%}"
            )
    for level in {lv for levels in coverage.values() for lv in levels}:
        bottom.axhline(level, color="black", linewidth=0.8, linestyle=":")
    finite = [
        float(np.nanmin(c)) for lv in coverage.values() for c in lv.values() if np.isfinite(c).any()
    ]
    lowest = min(finite, default=0.0)
    bottom.set_ylim(max(0.0, min(0.6, lowest - 0.05)), 1.01)
    bottom.set_title("coverage by horizon (dotted: nominal)", fontsize="medium")
    bottom.set_xlabel("horizon (trading days)")
    bottom.set_ylabel("share inside the band")
    bottom.set_xticks(hs)
    bottom.grid(True, alpha=0.3)
    bottom.legend(loc="lower left", ncols=3, framealpha=0.9)
    if exceedances:
        _exceedance_panel(panels[1], exceedances)
    return _save(fig, path)


def _exceedance_panel(ax, ex: dict) -> None:
    """The 1-day returns, the −VaR lines under them, and the days a loss went past VaR."""
    dates = pd.DatetimeIndex(ex["dates"])
    x = np.arange(len(dates))
    ret = 100 * np.asarray(ex["returns"], float)
    ax.bar(x, ret, width=0.8, color="0.7", label="1-day return")
    colours = iter(["tab:blue", "tab:red", "tab:purple", "tab:green"])
    for level, var in sorted(ex["var"].items()):
        var = 100 * np.asarray(var, float)
        colour = next(colours, "black")
        hit = ret < -var
        ax.plot(x, -var, color=colour, lw=1.0, label=f"−VaR {level * 100:.10g}%")
        ax.scatter(x[hit], ret[hit], color=colour, marker="x", s=30, zorder=3,
                   label=f"exceeded {level * 100:.10g}%: {int(hit.sum())} of {len(x)}")  # fmt: skip
    ax.set_title("VaR exceedances (long position, 1 day ahead)", fontsize="medium")
    ax.set_ylabel("return (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", ncols=2, framealpha=0.9, fontsize="small")
    trading_axis(ax, dates)
