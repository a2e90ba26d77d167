"""A text fan chart: recent closes, then the median path inside its 80% and 95% bands.

Pure rendering: arrays in, a rich Text out; the caller decides where it is printed.

Layout (height lines in all):

    rows = height − 3 plot rows    price labels on the left, one column per plot cell
    1 axis line                    └──┴── with ┴ under the forecast origin
    1 date line                    first shown date, origin date, last forecast date
    1 legend line

Each plot column c stands for a fractional time slot t = c·(S − 1)/(P − 1) over S = shown
closes + forecast days and P plot columns; values are linearly interpolated at t, so the
chart fills the width whether there are more slots than columns or fewer. The bands start
from the origin close, so the fan opens from a point.
"""

import numpy as np
import pandas as pd
from rich.text import Text

HISTORY_DAYS = 60  # about three months of context: enough to see the trend, leaves room for the fan

CLOSE, MEDIAN, BAND_80, BAND_95 = "•", "●", "▒", "░"
STYLE = {CLOSE: "white", MEDIAN: "bold yellow", BAND_80: "cyan", BAND_95: "blue", " ": ""}


def _fmt_price(v: float, span: float) -> str:
    """Enough decimals to tell neighbouring labels apart, no more."""
    if span >= 1000:
        return f"{v:,.0f}"
    if span >= 1:
        return f"{v:,.2f}"
    return f"{v:,.4f}"


def _date(d) -> str:
    return pd.Timestamp(d).strftime("%Y-%m-%d")


def fan_chart(
    history_dates,
    history_closes,
    forecast_dates,
    median,
    lower_80,
    upper_80,
    lower_95,
    upper_95,
    width: int = 72,
    height: int = 18,
) -> Text:
    """Render the fan chart as a rich Text of exactly `height` lines no wider than `width`.

    history_dates/closes: (T,) with T ≥ 1 (the last HISTORY_DAYS are shown);
    forecast_dates, median, lower_80, upper_80, lower_95, upper_95: (H,) with H ≥ 1.
    """
    if height < 6 or width < 30:
        raise ValueError(f"fan chart needs width >= 30 and height >= 6, got {width}x{height}")
    closes = np.asarray(history_closes, float)[-HISTORY_DAYS:]  # (Th,)
    hist_dates = list(history_dates)[-HISTORY_DAYS:]
    bands = [np.asarray(a, float) for a in (median, lower_80, upper_80, lower_95, upper_95)]
    Th, H = closes.size, bands[0].size
    if Th < 1 or H < 1:
        raise ValueError("fan chart needs at least one close and one forecast day")
    # Prefix every band with the origin close so the fan opens from the last observed price.
    med, lo80, hi80, lo95, hi95 = (np.concatenate([[closes[-1]], b]) for b in bands)  # (H+1,)

    # y axis: the full range of what is drawn; pad a flat series so it has a height.
    bottom = float(min(closes.min(), lo95.min(), lo80.min(), med.min()))
    top = float(max(closes.max(), hi95.max(), hi80.max(), med.max()))
    if top - bottom < 1e-9 * max(1.0, abs(top)):
        pad = max(abs(top) * 0.01, 0.01)
        bottom, top = bottom - pad, top + pad
    span = top - bottom
    rows = height - 3

    def row_of(v: float) -> int:
        return int(np.clip(round((top - v) / span * (rows - 1)), 0, rows - 1))

    gaps = max(1, min(4, (rows - 1) // 2))  # up to 5 labels, never on adjacent rows
    label_rows = [round(k * (rows - 1) / gaps) for k in range(gaps + 1)]
    labels = {r: _fmt_price(top - r * span / (rows - 1), span) for r in label_rows}
    lw = max(len(s) for s in labels.values()) + 1
    P = width - lw - 1  # plot columns after the labels and the axis bar
    S = Th + H  # time slots: shown closes then forecast days
    origin = Th - 1  # slot of the last close

    grid = [[" "] * P for _ in range(rows)]
    origin_col = 0
    for c in range(P):
        t = c * (S - 1) / (P - 1)  # fractional time slot under column c
        if t <= origin:
            grid[row_of(np.interp(t, np.arange(Th), closes))][c] = CLOSE
            origin_col = c
            continue
        u = t - origin  # days past the origin, 0 < u ≤ H
        x = np.arange(H + 1)
        r95 = (row_of(np.interp(u, x, hi95)), row_of(np.interp(u, x, lo95)))
        r80 = (row_of(np.interp(u, x, hi80)), row_of(np.interp(u, x, lo80)))
        for r in range(r95[0], r95[1] + 1):
            grid[r][c] = BAND_95
        for r in range(r80[0], r80[1] + 1):
            grid[r][c] = BAND_80
        grid[row_of(np.interp(u, x, med))][c] = MEDIAN

    text = Text(no_wrap=True, overflow="crop")
    for r in range(rows):
        text.append(labels.get(r, "").rjust(lw - 1) + " ", style="dim")
        text.append("┤" if r in labels else "│", style="dim")
        for ch in grid[r]:
            text.append(ch, style=STYLE[ch])
        text.append("\n")

    axis = ["─"] * P
    axis[origin_col] = "┴"
    text.append(" " * lw + "└" + "".join(axis) + "\n", style="dim")

    dates = [" "] * (lw + 1 + P)
    first, origin_date, last = (
        _date(hist_dates[0]),
        _date(hist_dates[-1]),
        _date(forecast_dates[-1]),
    )

    def put(s: str, start: int) -> bool:
        start = max(0, min(start, len(dates) - len(s)))
        if any(ch != " " for ch in dates[max(0, start - 1) : start + len(s) + 1]):
            return False  # would touch a label already placed
        dates[start : start + len(s)] = s
        return True

    put(last, len(dates) - len(last))
    put(first, lw + 1)
    put(origin_date, lw + 1 + origin_col - len(origin_date) // 2)
    text.append("".join(dates).rstrip() + "\n", style="dim")

    text.append(" " * (lw + 1))
    for ch, name in ((CLOSE, "close"), (MEDIAN, "median"), (BAND_80, "80%"), (BAND_95, "95%")):
        text.append(ch, style=STYLE[ch])
        text.append(f" {name}   ", style="dim")
    return text
