"""Everything a terminal sees: rich tables and progress on the right stream, errors as one line.

Data goes to stdout; spinners, progress, warnings and errors go to stderr, so
`forecast predict --json > out.json` stays clean.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from forecast.config import DEFAULT_FEATURES
from forecast.text import printable

out = Console()  # stdout: tables, JSON, charts
err = Console(stderr=True)  # stderr: progress, warnings, notes (silent under -q)
errors = Console(stderr=True)  # stderr: errors, which -q keeps


def set_quiet(quiet: bool) -> None:
    """-q: results on stdout and errors on stderr, nothing else (no progress, notes, warnings)."""
    err.quiet = quiet


def error(message: str) -> None:
    """One line on stderr, no traceback (markup off: messages may contain [brackets]).

    Messages may quote file names and cells from files: printable() shows their control
    characters as escapes instead of letting them drive the terminal.
    """
    errors.print(f"error: {printable(message)}", markup=False, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    text = f"warning: {printable(message)}"
    err.print(text, markup=False, highlight=False, soft_wrap=True, style="yellow")


def info(message: str) -> None:
    err.print(printable(message), markup=False, highlight=False, soft_wrap=True, style="dim")


# --- tables that fit the terminal ---------------------------------------------------------------


def show(table: Table, drop: tuple[str, ...] = (), keep: int = 2) -> None:
    """Print `table` to stdout without cutting a number: when it is wider than the terminal,
    drop whole columns (those named in `drop` first, then from the right, never the first
    `keep`), say which on stderr, and if it is still too wide fold cells onto a second line
    rather than end them in '…'."""

    def width() -> int:  # as printed with room to spare: rich's measure counts words, not cells
        import io

        saved = table.title, table.caption
        table.title = table.caption = None
        wide = Console(file=io.StringIO(), width=10_000, color_system=None)
        wide.print(table)
        table.title, table.caption = saved
        return max((cell_len(line) for line in wide.file.getvalue().splitlines()), default=0)

    w = width()  # measured again only after the table changed: a measure renders it all
    if w > out.width:
        table.pad_edge, table.collapse_padding = False, True
        w = width()
    hidden = []
    order = {id(c): c for name in drop for c in table.columns[keep:] if c.header == name}
    order |= {id(c): c for c in reversed(table.columns[keep:]) if id(c) not in order}
    for column in order.values():  # by identity: two columns may look alike ("cov")
        if w <= out.width:
            break
        table.columns[:] = [c for c in table.columns if c is not column]
        for i, c in enumerate(table.columns):
            c._index = i  # rich pads by position (first, last): renumber after a removal
        hidden.append(str(column.header))
        w = width()
    if w > out.width:
        for column in table.columns:
            column.no_wrap, column.overflow = False, "fold"
    out.print(table)
    if hidden:
        err.print(
            f"{out.width} columns: {', '.join(hidden)} left out; a wider terminal or --json shows all",
            style="dim",
            highlight=False,
            markup=False,
        )


# --- fetch / list -----------------------------------------------------------------------------


@contextmanager
def status(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr while a slow call runs; yields a callback that changes its text."""
    with err.status(message, spinner="dots") as spinner:
        yield lambda text: spinner.update(text)


def fetch_table(results) -> None:
    """One row per fetched ticker (forecast.prices.FetchResult): size, date range, last close."""
    table = Table(title="prices", title_justify="left")
    for name, justify in [
        ("ticker", "left"),
        ("rows", "right"),
        ("first", "left"),
        ("last", "left"),
        ("last close", "right"),
        ("new", "right"),
        ("source", "left"),
        ("market", "left"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)
    for r in results:
        frame = r.frame
        table.add_row(
            r.ticker,
            f"{len(frame):,}",
            f"{frame.index[0]:%Y-%m-%d}",
            f"{frame.index[-1]:%Y-%m-%d}",
            f"{frame['Close'].iloc[-1]:,.2f}",
            f"{r.new_rows:,}",
            r.source,
            escape(" ".join(x for x in (r.exchange, frame.attrs.get("currency")) if x)),
        )
    show(table, drop=("market", "new", "last close", "first"))


def cached_table(entries: list[dict], data_dir) -> None:
    """`forecast list`: one row per cached ticker from its sidecar, stale ones in yellow."""
    table = Table(title=f"cached prices in {escape(str(data_dir))}", title_justify="left")
    for name, justify in [
        ("ticker", "left"),
        ("first", "left"),
        ("last", "left"),
        ("rows", "right"),
        ("source", "left"),
        ("fetched", "left"),
        ("status", "left"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)
    for e in entries:
        rows = e.get("rows")
        text = {k: escape(str(e.get(k) or "?")) for k in ("ticker", "first", "last", "source")}
        table.add_row(
            text["ticker"],
            text["first"],
            text["last"],
            f"{rows:,}" if isinstance(rows, int) else "?",
            text["source"],
            escape(str(e.get("fetched_at") or "?")[:10]),
            "[yellow]stale[/yellow]" if e.get("stale") else "fresh",
        )
    show(table, drop=("fetched", "first", "source"))


# --- train / predict ----------------------------------------------------------------------------


def _options(s) -> str:
    cfg = s.config
    cell = "" if cfg.cell == "elman" else f"cell {cfg.cell}, "  # the seed's cell goes unsaid
    return (
        f"{cell}window {cfg.window}, hidden {cfg.hidden}, lr {cfg.lr:g}, "
        f"batch {cfg.batch_size}, seed {cfg.seed}"
    )


def _versus_random_walk(t: Table, s) -> None:
    t.add_row("loss / step", f"train {s.train_loss:.4f}   validation {s.val_loss:.4f}")
    verdict = "better than" if s.skill < 0 else "no better than"
    t.add_row(
        "random walk",
        f"validation {s.baseline_val_loss:.4f}  → model is {verdict} it ({s.skill:+.4f})",
    )


def train_summary(report) -> None:
    """The summary table after training (report.summary, a forecast.model.summary.Summary),
    with the random walk's loss beside the model's."""
    s = report.summary
    t = Table(
        title=f"{s.name}: trained {s.config.loss} RNN", show_header=False, title_justify="left"
    )
    t.add_column("", style="bold")
    t.add_column("")
    (tf, tl), (vf, vl) = s.train_dates, s.val_dates
    t.add_row("prices", f"{s.rows} days")
    t.add_row("train", f"{tf:%Y-%m-%d} .. {tl:%Y-%m-%d}  ({s.n_train} windows)")
    t.add_row("validation", f"{vf:%Y-%m-%d} .. {vl:%Y-%m-%d}  ({s.n_val} windows)")
    t.add_row("options", _options(s))
    if len(s.epochs) > 1:  # an ensemble: each member stopped on its own
        best_epochs = ", ".join(str(b) for b, _ in s.epochs)
        t.add_row("epochs", f"best {best_epochs} of {len(s.epochs)} members (weights restored)")
    else:
        best, run = s.epochs[0]
        t.add_row("epochs", f"{run} run, best {best} (weights restored)")
    _versus_random_walk(t, s)
    covers = " and ".join(f"{c:.1%} ({L:.0%})" for L, c in s.coverage.items())
    t.add_row("calibration", f"day-1 bands cover {covers} of held-out validation days")
    if s.variance is not None:  # the vol head: the RNN's variance, or EGARCH's (the fallback)
        t.add_row("variance", blend_text(*s.variance))
    t.add_row("saved", str(s.path))  # the JSON, which names its weights file
    out.print(t)


def blend_text(choice: str, ratio: float) -> str:
    """Which variance a vol model chose on its validation days (VolForecaster.variance_choice)
    and EGARCH's validation CRPS over the RNN's (egarch_ratio_)."""
    vs = f"EGARCH's validation CRPS ×{ratio:.3f} of the RNN's at 1-5 days"
    if choice == "rnn":
        return f"the RNN's ({vs})"
    if choice == "egarch":
        return f"EGARCH's, recalibrated: the fallback ({vs})"
    return f"the average of the RNN's and EGARCH's: no High/Low inputs ({vs})"


def models_table(infos, data_dir) -> None:
    """`forecast models`: one row per trained model (forecast.store.ModelInfo), in 80 columns."""
    columns = [
        ("ticker", "left"),
        ("through", "left"),
        ("options", "left"),
        ("val loss", "right"),
        ("rw loss", "right"),
        ("vs rw", "right"),
        ("size", "right"),
        ("version", "left"),
    ]
    table = _rows_table(f"models in {escape(str(data_dir))}", columns, compact=True)
    table.caption = (
        "T window, H hidden units (gru: the gated cell), ×N a global model serving N "
        "tickers; val loss per "
        "step vs a random walk's on the same days (vs rw < 0: the model did better)"
    )
    table.caption_justify = "left"
    for m in infos:
        cfg = m.config
        options = f"{cfg.get('loss', '?')} T={cfg.get('window', '?')} H={cfg.get('hidden', '?')}"
        if cfg.get("cell", "elman") != "elman":  # the seed's cell goes unsaid, as in train
            options += f" {cfg['cell']}"
        feats = tuple(cfg.get("features") or [])
        default = DEFAULT_FEATURES["vol" if cfg.get("loss") == "vol" else "other"]
        # only what differs from the head's default: +added, -left out (a close-only model:
        # -range-parkinson; a model saved before `season` was a default: -season)
        added = "".join(f"+{f}" for f in feats if f not in default)
        left_out = "".join(f"-{f}" for f in default if feats and f not in feats)
        if added or left_out:
            options += f" {added}{left_out}"
        if m.kind == "global":  # one model over many tickers: say so, and over how many
            options += f" ×{len(m.tickers)}"
        gap = m.skill
        if m.problem is not None:  # never listed as if usable: predict would refuse or skip it
            table.add_row(
                escape(m.ticker), "?", "[red]corrupt[/]", "–", "–", "–", f"{m.size / 1024:,.1f} KiB"
            )
            continue
        table.add_row(
            escape(m.ticker),
            escape(str(m.trained_through or "?")),
            escape(options),
            _cell(m.val_loss, ".4f"),
            _cell(m.baseline_val_loss, ".4f"),
            "?" if gap is None else ("[green]" if gap < 0 else "[yellow]") + f"{gap:+.4f}[/]",
            f"{m.size / 1024:,.1f} KiB",
            escape(m.forecast_version or "?"),
        )
    show(table, drop=("version", "size", "rw loss", "val loss"))
    for m in infos:
        if m.problem is not None:
            warn(f"{m.ticker} is corrupt: {m.problem}")


def _pct(x: float) -> str:
    return "–" if x != x else f"{x:.0%}"  # NaN: not measured


def _level(level: float) -> str:
    """0.8 -> "80%", 0.975 -> "97.5%"."""
    return f"{level * 100:.10g}%"


def prediction_table(pred) -> None:
    """Per trading day: the forecast sigmas and the +-1 sigma move, then the calibrated bands
    with the coverage they achieved (and median and P(up) for heads that forecast direction)."""
    from forecast.model.valueatrisk import sessions_per_year  # numpy: not for --help

    currency = f" {pred.currency}" if pred.currency else ""
    tb = pred.table
    year = sessions_per_year(pred.run.get("exchange", "XNYS"))  # the annualisation's sessions
    out.print(
        f"{pred.ticker}: next {len(tb)} trading days from {pred.last_date:%Y-%m-%d} "
        f"(close {pred.last_close:,.2f}{currency}), {pred.loss} model\n"
        f"model: {pred.model_label}; forecast {pred.run.get('forecast_version', '?')}",
        markup=False,
        highlight=False,
    )
    vol = Table(
        title="volatility",
        title_justify="left",
        caption="σ day: sd of that day's log return; σ cum: of the return from the last close "
        f"to that day; ann.: annualised (× √{year}, √({year}/h)); ±1σ: the expected move in price"
        + (
            f"; 1-year realised σ day {pred.sigma_1y:.2%}" if pred.sigma_1y == pred.sigma_1y else ""
        ),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        min_width=60,
    )
    for name in ["date", "σ day", "ann.", "σ cum", "ann.", "±1σ"]:
        vol.add_column(name, justify="right")
    for date, r in tb.iterrows():
        vol.add_row(
            f"{date:%Y-%m-%d}",
            f"{r['sigma']:.2%}",
            f"{r['sigma_ann']:.1%}",
            f"{r['sigma_cum']:.2%}",
            f"{r['sigma_cum_ann']:.1%}",
            f"±{r['move']:,.2f}",
        )
    show(vol, drop=("ann.",), keep=2)  # a name hides every column so headed: both "ann."
    if pred.zero_mean:
        note = (
            f"the {pred.loss} model forecasts spread, not direction: its median is the last "
            f"close and {pred.p_up_label} 50% every day; "
        )
    else:
        note = ""
    t = Table(
        title="calibrated bands",
        title_justify="left",
        min_width=60,  # the caption stays readable with one band
        caption=note + "bands are conformally calibrated; cov = share of held-out validation "
        f"days inside the band (– beyond day {pred.calibrated_days}: factor extrapolated)",
        caption_justify="left",
        box=box.SIMPLE_HEAD,  # fits 80 columns
    )
    names = ["date"] + ([] if pred.zero_mean else ["median"])
    for level in pred.levels:
        names += [f"{_level(level)} band", "cov"]
    names += [] if pred.zero_mean else [pred.p_up_label]
    for name in names:
        t.add_column(name, justify="right")
    for date, r in tb.iterrows():
        cells = [f"{date:%Y-%m-%d}"] + ([] if pred.zero_mean else [f"{r['median']:,.2f}"])
        for level in pred.levels:
            p = f"{level * 100:.10g}"
            cells += [f"{r[f'lower_{p}']:,.2f}–{r[f'upper_{p}']:,.2f}", _pct(r[f"coverage_{p}"])]
        cells += [] if pred.zero_mean else [f"{r['p_up']:.0%}"]
        t.add_row(*cells)
    out.print(t)


def risk_table(pred) -> None:
    """Per trading day and VaR level: Value at Risk and Expected Shortfall, in % and in price."""
    if not pred.var_levels:
        return
    side = "short" if pred.short else "long"
    t = Table(
        title=f"risk of a {side} position from the close {pred.last_close:,.2f}",
        title_justify="left",
        min_width=60,
        caption="VaR L%: the loss exceeded with probability 1 − L by that day: the "
        f"{'upper' if pred.short else 'lower'} edge of the (2L − 1)% band, e.g. VaR 95% at the "
        "90% band's; ES L%: the mean loss beyond VaR; in % of the close (in price)",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    t.add_column("date", justify="right")
    for a in pred.var_levels:
        t.add_column(f"VaR {_level(a)}", justify="right")
        t.add_column(f"ES {_level(a)}", justify="right")
    for date, r in pred.table.iterrows():
        cells = [f"{date:%Y-%m-%d}"]
        for a in pred.var_levels:
            p = f"{a * 100:.10g}"
            for k in ("var", "es"):
                cells.append(f"{r[f'{k}_{p}']:.2%} ({r[f'{k}_{p}_price']:,.2f})")
        t.add_row(*cells)
    show(t, keep=2)


def fan(pred) -> None:
    from forecast.cli.fanchart import fan_chart  # numpy: not for --help

    width = min(out.width, 120)  # the terminal's width: a wider chart would wrap
    if width < 30:
        info("the fan chart needs 30 columns; --json or a wider terminal shows the forecast")
        return
    out.print(fan_chart(**pred.fan_series(), width=width))


# --- backtest -----------------------------------------------------------------------------------


def _cell(value, fmt: str) -> str:
    return "–" if value is None or value != value else format(value, fmt)  # NaN → dash


def _backtest_rows(table: Table, result, cells, groups=None) -> None:
    """One section per model (or per group of models whose rows are identical), one row per h."""
    for models in groups or [[m] for m in result.metrics]:
        rows = result.metrics[models[0]]
        for i, r in enumerate(rows):
            # a group's names run down its rows, one per horizon, the rest on the last
            names = models[i:] if i == len(rows) - 1 else models[i : i + 1]
            more = "," if i + len(names) < len(models) else ""
            table.add_row(", ".join(names) + more, str(r["horizon"]), *cells(r))
        table.add_section()


def identical_point_groups(result) -> list[list[str]]:
    """Models grouped where every point-forecast score is the same at every horizon: the
    zero-mean ones (rnn with the vol head, naive, ewma, garch, egarch) forecast the last
    close, so their rows would repeat one another."""
    keys = ("mae", "rmse", "mase", "direction_n")
    groups: dict[tuple, list[str]] = {}
    for model, rows in result.metrics.items():
        groups.setdefault(tuple(tuple(r[k] for k in keys) for r in rows), []).append(model)
    return list(groups.values())


def _table(title, caption, columns):
    """A backtest table: the models, then columns."""
    t = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False)
    t.title_justify = t.caption_justify = "left"
    t.add_column("model", justify="left", no_wrap=True)
    for name in columns:
        t.add_column(name, justify="right", no_wrap=True)
    return t


def risk_tables(result) -> None:
    """VaR backtests per model and level (exceedance rates by horizon, tests on one day), the
    Basel zone, the ES test; then the variance forecasts' QLIKE against the best yardstick."""
    metrics, H = result.metrics, len(result.metrics["rnn"])
    shown = sorted({1, H})  # the shortest and the longest horizon; --json has every one
    var_levels = result.cases.var_levels
    t = _table(
        "VaR and ES backtests (long position)",
        "h=k: share of cases whose k-day loss exceeded the VaR (expected 1 − L); tests on "
        "1-day cases: Kupiec (rate), Christoffersen cc (rate and independence); ES Z2: "
        "Acerbi–Székely, < 0 risk understated, p simulated; Basel: zone of the last "
        "250 one-day 99% VaRs (exceptions; /n: only n days, zones by the same binomial "
        "probabilities)",
        ["VaR", *(f"h={h}" for h in shown), "Kupiec p", "cc p", "ES Z2", "Z2 p", "Basel"],
    )
    for model, rows in metrics.items():
        for i, a in enumerate(var_levels):
            p = f"{a * 100:.10g}"
            r1 = rows[0]
            b = result.basel.get(model, {})
            days = "" if not b or b["days"] >= 250 else f"/{b['days']}"
            basel = f"{b['zone']} ({b['exceptions']}{days})" if b and i == 0 else ""
            t.add_row(
                model if i == 0 else "",
                f"{p}%",
                *(_cell(rows[h - 1][f"var_{p}_rate"], ".1%") for h in shown),
                _cell(r1[f"kupiec_{p}_p"], ".2f"),
                _cell(r1[f"cc_{p}_p"], ".2f"),
                _cell(r1[f"es_{p}_z2"], "+.2f"),
                _cell(r1[f"es_{p}_z2_p"], ".2f"),
                basel,
            )
        t.add_section()
    show(t, drop=("Z2 p", "ES Z2"))
    v = _table(
        "variance forecasts: QLIKE against the best yardstick",
        f"QLIKE = ln σ² + x²/σ² of each forecast variance σ² of the h-day log return x (Patton "
        f"2011; lower is better) at h = 1, and minus the best yardstick's ({result.best_variance})"
        " at h = k, with the Diebold–Mariano p-value; MSE of σ² against x² at h = 1, × 10⁸",
        ["QLIKE", *(f"Δ h={h}" for h in shown), "MSE"],
    )
    for model, rows in metrics.items():
        v.add_row(
            model,
            _cell(rows[0]["qlike"], ".3f"),
            *(
                f"{rows[h - 1]['qlike_vs_best']:+.3f} ({_cell(rows[h - 1]['dm_qlike_p_value'], '.2f')})"
                for h in shown
            ),
            _cell(rows[0]["mse_var"] * 1e8, ".2f"),
        )
    show(v)


def backtest_table(ticker: str, result, model: str = "") -> None:
    """The verdict first, then the risk tables, then point forecasts (identical rows as one)
    and intervals per model and horizon. model: whose refits the rnn rows are ("AAPL (own
    model)", "GLOBAL (global model)")."""
    first, last = result.origins[0], result.origins[-1]
    out.print(
        f"{ticker}: walk-forward backtest, {len(result.origins)} origins "
        f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}, {len(result.folds)} refits"
        + (f" of {model}" if model else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,  # one line: the verdict lines below start at a fixed line
    )
    for text in (result.risk_verdict, result.verdict):
        if text:
            out.print(text, markup=False, highlight=False, soft_wrap=True)
    if "qlike" in result.metrics["rnn"][0]:
        risk_tables(result)
    groups = identical_point_groups(result)
    point = _table(
        "point forecasts (median)",
        "rel MAE = MAE / naive MAE, < 1 beats the random walk; DM p: Diebold–Mariano vs naive; "
        "dir p: binomial vs the better of always-up and always-down, too small beyond h = 1 "
        "(overlapping cases); models on one line forecast the same medians",
        ["h", "MAE", "RMSE", "rel MAE", "MASE", "DM p", "dir", "n", "dir p"],
    )
    _backtest_rows(
        point,
        result,
        lambda r: [
            _cell(r["mae"], ",.2f"),
            _cell(r["rmse"], ",.2f"),
            _cell(r["rel_mae"], ".3f"),
            _cell(r["mase"], ".2f"),
            _cell(r["dm_p_value"], ".3f"),
            _cell(r["direction_accuracy"], ".1%"),
            str(r["direction_n"]),
            _cell(r["direction_p_value"], ".2f"),
        ],
        groups,
    )
    pcts = [f"{L * 100:.10g}" for L in result.cases.levels]
    bands = _table(
        "intervals",
        "in L%: share of cases inside the band; IS: interval (Winkler) score; CRPS and NLL of "
        "the h-day log return; DM p: Diebold–Mariano on CRPS against the best baseline "
        f"({result.best_baseline}); the verdict gives the CRPS ratios",
        ["h", *(f"in {p}%" for p in pcts), *(f"IS {p}%" for p in pcts), "CRPS", "NLL", "DM p"],
    )
    _backtest_rows(
        bands,
        result,
        lambda r: [
            *(_cell(r[f"coverage_{p}"], ".1%") for p in pcts),
            *(_cell(r[f"interval_score_{p}"], ",.2f") for p in pcts),
            _cell(r["crps"], ".4f"),
            _cell(r["nll"], ".3f"),
            _cell(r["dm_crps_p_value"], ".2f"),
        ],
    )
    show(point, drop=("dir p", "n", "RMSE", "MASE"))
    show(bands, drop=("NLL", "IS 80%", "IS 95%"))


# --- universes: many tickers per command ---------------------------------------------------------


def _rows_table(title: str, columns: list[tuple[str, str]], compact: bool = False) -> Table:
    """A one-line-per-ticker table; `compact`: no edge padding, so that more columns fit 80."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=not compact,
        show_edge=not compact,
        collapse_padding=compact,
    )
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True)
    return table


def train_many_table(rows) -> None:
    """One line per ticker: validation loss vs the random walk's, held-out coverage, seconds."""
    t = _rows_table(
        "trained",
        [
            ("ticker", "left"),
            ("status", "left"),
            ("val loss", "right"),
            ("rw loss", "right"),
            ("vs rw", "right"),
            ("cov 80%", "right"),
            ("cov 95%", "right"),
            ("seconds", "right"),
        ],
    )
    for r in rows:
        v = r.values
        gap = v["val_loss"] - v["random_walk"] if r.ok else None
        t.add_row(
            escape(r.ticker),
            r.status,
            _cell(v.get("val_loss"), ".4f"),
            _cell(v.get("random_walk"), ".4f"),
            _cell(gap, "+.4f"),
            _cell(v.get("coverage_80"), ".1%"),
            _cell(v.get("coverage_95"), ".1%"),
            f"{r.seconds:.1f}",
        )
    show(t, drop=("seconds", "cov 95%", "rw loss"))
    err.print(
        "vs rw: validation loss per day minus a random walk's on the same days (below 0: better); "
        "cov: day-1 bands' coverage of held-out validation days",
        style="dim",
        highlight=False,
    )


SCREEN_SORTS = {  # --sort COLUMN: the value it sorts by, and whether the highest comes first
    "sigma": ("sigma", True),
    "ratio": ("sigma_ratio", True),
    "var99": ("var_99", True),
    "es97.5": ("es_97.5", True),
    "median": ("median_return", True),
    "p_up": ("p_up", True),
    "ticker": (None, False),
}


def screen_table(rows, days: int, sort: str | None = None) -> None:
    """predict over many tickers: one line each, riskiest first (or by --sort)."""
    any_direction = any(r.ok and not r.values.get("zero_mean", False) for r in rows)
    columns = [
        ("ticker", "left"),
        ("last", "left"),
        ("σ ann", "right"),
        ("σ/1y", "right"),
        ("VaR 99", "right"),
        ("ES 97.5", "right"),
    ]
    if any_direction:
        columns += [("median", "right"), ("P(up)", "right")]
    columns += [] if any_direction else [("95%", "right")]  # --json has it always
    columns += [("note", "left")]
    title = f"{days}-day screen: " + ("riskiest first" if sort is None else f"by {sort}")
    t = _rows_table(title, columns, compact=True)
    key, highest_first = SCREEN_SORTS[sort or "sigma"]

    def order(r):
        if key is None:
            return r.ticker
        v = r.values.get(key)
        v = float("-inf") if v is None or v != v else v
        return -v if highest_first else v

    ok = sorted((r for r in rows if r.ok), key=order)
    for r in ok + [r for r in rows if not r.ok]:
        v = r.values
        cells = [
            escape(r.ticker),
            v.get("last_date", "–"),
            _cell(v.get("sigma"), ".1%"),
            _cell(v.get("sigma_ratio"), ".2f"),
            _cell(v.get("var_99"), ".2%"),
            _cell(v.get("es_97.5"), ".2%"),
        ]
        if any_direction:
            direction = not v.get("zero_mean", False)
            cells += [
                _cell(v.get("median_return"), "+.2%") if direction else "–",
                _cell(v.get("p_up"), ".0%") if direction else "–",
            ]
        cells += [] if any_direction else [_cell(v.get("band_95"), ".1%")]
        note = "own corrupt" if v.get("switched") else "stale" if v.get("warnings") else ""
        cells += ["failed" if not r.ok else note]
        t.add_row(*cells)
    show(t, drop=("note", "last", "σ/1y"))
    for r in ok:
        if r.values.get("switched"):
            warn(r.values["switched"])
    err.print(
        "σ ann: the forecast sd of tomorrow's log return, annualised; σ/1y: its ratio to the "
        "ticker's realised sd over the last year; VaR 99% and ES 97.5%: loss of a long "
        f"position by day {days}, in % of the last close; 95%: calibrated 95% band width / "
        "last close"
        + ("; median and P(up): only for models that forecast direction" if any_direction else ""),
        style="dim",
        highlight=False,
    )


def backtest_many_table(rows, horizon: int) -> None:
    """backtest over many tickers: the RNN's day-1 distribution and risk scores, per ticker."""
    t = _rows_table(
        f"walk-forward backtests (h = 1 of {horizon})",
        [
            ("ticker", "left"),
            ("status", "left"),
            ("origins", "right"),
            ("CRPS×", "right"),
            ("DM p", "right"),
            ("IS×", "right"),
            ("VaR 99", "right"),
            ("Basel", "left"),
            ("s", "right"),
        ],
        compact=True,
    )
    for r in rows:
        v = r.values
        zone = v.get("basel_zone")
        t.add_row(
            escape(r.ticker),
            r.status,
            _cell(v.get("origins"), "d"),
            _cell(v.get("crps_vs_best"), ".3f"),
            _cell(v.get("dm_crps_p"), ".2f"),
            _cell(v.get("winkler_vs_best"), ".3f"),
            _cell(v.get("var_99_rate"), ".1%"),
            f"{zone} ({v.get('basel_exceptions')})" if zone else "–",
            f"{r.seconds:.1f}",
        )
    show(t, drop=("seconds", "in 95%", "DM p"))
    err.print(
        "CRPS×, IS×: the RNN's 1-day CRPS and Winkler (interval) score of its widest band ÷ the "
        "best yardstick's (< 1: better; DM p on CRPS); VaR 99: share of days the loss exceeded "
        "the 1-day 99% VaR (expected 1%); Basel: zone of the last 250 (exceptions); s: "
        "seconds; --json has every horizon and the verdict",
        style="dim",
        highlight=False,
    )


def global_summary(report) -> None:
    """After `train --global NAME` (report.summary): what the one model saw, and its score vs
    the random walk, pooled and per ticker."""
    s = report.summary
    t = Table(
        title=f"{s.name}: global {s.config.loss} RNN", show_header=False, title_justify="left"
    )
    t.add_column("", style="bold")
    t.add_column("")
    names = ", ".join(s.tickers[:6]) + (", …" if len(s.tickers) > 6 else "")
    t.add_row("series", f"{len(s.tickers)} ({names})")
    t.add_row("cut date", f"{s.cut:%Y-%m-%d}: every series trains before it, validates after")
    t.add_row("windows", f"train {s.n_train:,}   validation {s.n_val:,}")
    members = f", {len(s.epochs)} members" if len(s.epochs) > 1 else ""
    t.add_row("options", _options(s) + members)
    t.add_row("epochs", "best/run " + ", ".join(f"{b}/{r}" for b, r in s.epochs))
    _versus_random_walk(t, s)
    if s.close_choice:
        n, c = len(s.close_only), s.close_choice
        names = ", ".join(s.close_only[:4]) + (", …" if n > 4 else "")
        second = f"a second ensemble on {', '.join(s.close_features)}"
        if c["chosen"] == "close":
            how = f"forecast by {second}: validation loss {c['close']:.4f} against the first's "
            how += f"{c['first']:.4f}"
        else:
            how = "forecast by the first ensemble, High/Low proxied: validation loss "
            how += f"{c['first']:.4f} against {second}'s {c['close']:.4f}"
        t.add_row(
            "close-only",
            escape(
                f"{n} ticker{'s' * (n != 1)} without High/Low ({names}): {how}, every series "
                "read without High/Low"
            ),
        )
    if s.left_out:
        t.add_row("left out", escape(", ".join(s.left_out)))
    t.add_row("saved", escape(str(s.path)))
    out.print(t)
    per = _rows_table(
        "per ticker (validation after the cut date)",
        [
            ("ticker", "left"),
            ("train", "right"),
            ("val", "right"),
            ("val loss", "right"),
            ("rw loss", "right"),
            ("vs rw", "right"),
        ],
    )
    for row in s.per_ticker:
        per.add_row(
            escape(row.ticker),
            f"{row.n_train:,}",
            f"{row.n_val:,}",
            _cell(row.val_loss, ".4f"),
            _cell(row.baseline_val_loss, ".4f"),
            _cell(row.skill, "+.4f"),
        )
    out.print(per)
    err.print(
        "train, val: windows; vs rw: the ticker's validation loss per day minus its random "
        "walk's (below 0: better); its bands are calibrated when it is forecast",
        style="dim",
        highlight=False,
    )
