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

Rows map values v in [bottom, top] as row = round((top − v) / (top − bottom) · (rows − 1)),
computed on v / scale with scale = max(|bottom|, |top|) so no difference overflows. Only
finite values set the range and are drawn: a diverged model's NaN or infinite bands leave
their cells blank instead of stretching the axis or crashing.
"""

import numpy as np
import pandas as pd
from rich.text import Text

HISTORY_DAYS = 60  # about three months of context: enough to see the trend, leaves room for the fan

MIN_PLOT = 16  # plot columns always left after the labels: fewer cannot show a fan
MAX_LABEL = 16  # longer fixed-point labels (prices beyond ~1e12) read better as 1.235e+15

CLOSE, MEDIAN, BAND_80, BAND_95 = "•", "●", "▒", "░"
STYLE = {CLOSE: "white", MEDIAN: "bold yellow", BAND_80: "cyan", BAND_95: "blue", " ": ""}
LEGEND = ((CLOSE, "close"), (MEDIAN, "median"), (BAND_80, "80%"), (BAND_95, "95%"))


def _fmt_price(v: float, span: float) -> str:
    """Enough decimals to tell neighbouring labels apart, no more."""
    if span >= 1000:
        return f"{v:,.0f}"
    if span >= 1:
        return f"{v:,.2f}"
    return f"{v:,.4f}"


def _fmt_labels(values: list[float], span: float, room: int) -> list[str]:
    """Fixed-point labels if they fit in `room` characters, else 4 significant digits.

    `{:.4g}` of a finite float is at most 11 characters (-1.798e+308), and room >= 12 for any
    width fan_chart accepts, so the plot always keeps MIN_PLOT columns.
    """
    fixed = [_fmt_price(v, span) for v in values]
    if max(len(s) for s in fixed) <= min(room, MAX_LABEL):
        return fixed
    return [f"{v:.4g}" for v in values]


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
    forecast_dates, median, lower_80, upper_80, lower_95, upper_95: (Nf,) with Nf ≥ 1 forecast days.
    """
    if height < 6 or width < 30:
        raise ValueError(f"fan chart needs width >= 30 and height >= 6, got {width}x{height}")
    closes = np.asarray(history_closes, float)[-HISTORY_DAYS:]  # (Th,)
    hist_dates = list(history_dates)[-HISTORY_DAYS:]
    bands = [np.asarray(a, float) for a in (median, lower_80, upper_80, lower_95, upper_95)]
    Th, Nf = closes.size, bands[0].size
    if Th < 1 or Nf < 1:
        raise ValueError("fan chart needs at least one close and one forecast day")
    # Prefix every band with the origin close so the fan opens from the last observed price.
    series = [closes] + [np.concatenate([[closes[-1]], b]) for b in bands]  # (Th,), 5 × (Nf+1,)

    # y axis: the full range of what is finite; pad a flat series so it has a height.
    finite = np.concatenate([a[np.isfinite(a)] for a in series])
    if finite.size == 0:
        raise ValueError("fan chart has no finite close or forecast value to draw")
    bottom, top = float(finite.min()), float(finite.max())
    if top - bottom < 1e-9 * max(1.0, abs(top)):
        pad = max(abs(top) * 0.01, 0.01)
        big = np.finfo(float).max
        bottom, top = max(bottom - pad, -big), min(top + pad, big)
    scale = max(abs(bottom), abs(top))  # > 0: a flat series at 0 was padded to ±0.01
    top_s, bottom_s = top / scale, bottom / scale  # in [-1, 1]
    span_s = top_s - bottom_s  # in (0, 2]
    closes, med, lo80, hi80, lo95, hi95 = (a / scale for a in series)
    rows = height - 3

    def row_of(v: float) -> int | None:
        """The row of a scaled value, or None for a non-finite one (left blank)."""
        if not np.isfinite(v):
            return None
        return int(np.clip(round((top_s - v) / span_s * (rows - 1)), 0, rows - 1))

    gaps = max(1, min(4, (rows - 1) // 2))  # up to 5 labels, never on adjacent rows
    label_rows = [round(k * (rows - 1) / gaps) for k in range(gaps + 1)]
    values = [scale * (top_s - r * span_s / (rows - 1)) for r in label_rows]
    room = width - MIN_PLOT - 2  # label characters that leave MIN_PLOT columns: >= 12
    labels = dict(zip(label_rows, _fmt_labels(values, scale * span_s, room), strict=True))
    lw = max(len(s) for s in labels.values()) + 1
    P = width - lw - 1  # plot columns after the labels and the axis bar: >= MIN_PLOT > 1
    S = Th + Nf  # time slots: shown closes then forecast days
    origin = Th - 1  # slot of the last close

    grid = [[" "] * P for _ in range(rows)]

    def fill(c: int, hi: float, lo: float, mark: str) -> None:
        r_hi, r_lo = row_of(hi), row_of(lo)
        if r_hi is not None and r_lo is not None:
            for r in range(r_hi, r_lo + 1):
                grid[r][c] = mark

    origin_col = 0
    for c in range(P):
        t = c * (S - 1) / (P - 1)  # fractional time slot under column c
        if t <= origin:
            r = row_of(np.interp(t, np.arange(Th), closes))
            if r is not None:
                grid[r][c] = CLOSE
            origin_col = c
            continue
        u = t - origin  # days past the origin, 0 < u ≤ Nf
        x = np.arange(Nf + 1)
        fill(c, np.interp(u, x, hi95), np.interp(u, x, lo95), BAND_95)
        fill(c, np.interp(u, x, hi80), np.interp(u, x, lo80), BAND_80)
        r = row_of(np.interp(u, x, med))
        if r is not None:
            grid[r][c] = MEDIAN

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

    # Under the plot with wide gaps if that fits, else from column 0 with narrow ones (28 ≤ 30).
    items = sum(len(name) + 2 for _, name in LEGEND)
    indent, gap = next(
        (i, g) for i, g in ((lw + 1, 3), (0, 2), (0, 1)) if i + items + g * 3 <= width
    )
    text.append(" " * indent)
    for k, (ch, name) in enumerate(LEGEND):
        text.append(" " * gap * (k > 0) + ch, style=STYLE[ch])
        text.append(f" {name}", style="dim")
    return text
