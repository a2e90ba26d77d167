"""Everything a terminal sees: rich tables and progress on the right stream, errors as one line.

Data goes to stdout; spinners, progress, warnings and errors go to stderr, so
`forecast predict --json > out.json` stays clean.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from forecast.config import DEFAULT_FEATURES
from forecast.text import printable

out = Console()  # stdout: tables, JSON, charts
err = Console(stderr=True)  # stderr: progress, warnings, errors


def error(message: str) -> None:
    """One line on stderr, no traceback (markup off: messages may contain [brackets]).

    Messages may quote file names and cells from files: printable() shows their control
    characters as escapes instead of letting them drive the terminal.
    """
    err.print(f"error: {printable(message)}", markup=False, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    text = f"warning: {printable(message)}"
    err.print(text, markup=False, highlight=False, soft_wrap=True, style="yellow")


def info(message: str) -> None:
    err.print(printable(message), markup=False, highlight=False, soft_wrap=True, style="dim")


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
        )
    out.print(table)


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
    out.print(table)


# --- train / predict ----------------------------------------------------------------------------


class EpochProgress:
    """A rich progress bar over epochs (stderr): train loss, validation loss, best so far."""

    def __init__(self, epochs: int):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[losses]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,  # on failure only the one error line stays; the summary follows success
            disable=not err.is_terminal,  # logs get the summary, not a redrawn bar
        )
        self.task = self.progress.add_task("train", total=epochs, losses="compiling / first epoch…")

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def __call__(self, e) -> None:
        mark = "*" if e.improved else " "
        losses = f"train {e.train_loss:.4f}  val {e.val_loss:.4f}{mark} best {e.best_val_loss:.4f}"
        self.progress.update(self.task, completed=e.epoch, losses=losses)

    def stop_early(self) -> None:
        task = self.progress.tasks[0]
        self.progress.update(self.task, total=task.completed)


def train_summary(report) -> None:
    """The summary table after training, with the random walk's loss beside the model's."""
    m = report.model
    d = m.dates_
    t = Table(
        title=f"{report.ticker}: trained {m.config.loss} RNN",
        show_header=False,
        title_justify="left",
    )
    t.add_column("", style="bold")
    t.add_column("")
    cfg = m.config
    t.add_row("prices", f"{report.rows} days")
    t.add_row(
        "train",
        f"{d['train_first']:%Y-%m-%d} .. {d['train_last']:%Y-%m-%d}  ({report.n_train} windows)",
    )
    t.add_row(
        "validation",
        f"{d['val_first']:%Y-%m-%d} .. {d['val_last']:%Y-%m-%d}  ({report.n_val} windows)",
    )
    t.add_row(
        "options",
        f"window {cfg.window}, hidden {cfg.hidden}, lr {cfg.lr:g}, batch {cfg.batch_size}, seed {cfg.seed}",
    )
    members = getattr(m, "member_epochs_", None)
    if members and len(members) > 1:  # an ensemble: each member stopped on its own
        best_epochs = ", ".join(str(b) for b, _ in members)
        t.add_row("epochs", f"best {best_epochs} of {len(members)} members (weights restored)")
    else:
        t.add_row("epochs", f"{len(m.history_)} run, best {m.best_epoch_} (weights restored)")
    train_loss, val_loss = m.losses_["train"], m.losses_["val"]  # an ensemble: members' mean
    t.add_row("loss / step", f"train {train_loss:.4f}   validation {val_loss:.4f}")
    gap = val_loss - report.baseline_val_loss
    verdict = "better than" if gap < 0 else "no better than"
    t.add_row(
        "random walk",
        f"validation {report.baseline_val_loss:.4f}  → model is {verdict} it ({gap:+.4f})",
    )
    cov = m.calibration_.coverage
    t.add_row(
        "calibration",
        f"day-1 bands cover {cov[0, 0]:.1%} (80%) and {cov[1, 0]:.1%} (95%) of held-out validation days",
    )
    if m.config.loss == "vol" and hasattr(m, "blend_weights_"):  # the RNN's, or EGARCH's
        t.add_row("variance", blend_text(m.variance_choice, m.egarch_ratio_))
    t.add_row("saved", str(report.path))  # the JSON, which names its weights file
    out.print(t)


def blend_text(choice: str, ratio: float) -> str:
    """Which variance a vol model chose on its validation days (RNNForecaster.variance_choice)
    and EGARCH's validation CRPS over the RNN's (egarch_ratio_)."""
    vs = f"EGARCH's validation CRPS ×{ratio:.3f} of the RNN's at 1-5 days"
    if choice == "rnn":
        return f"the RNN's ({vs})"
    if choice == "egarch":
        return f"EGARCH's, recalibrated: the fallback ({vs})"
    return f"a blend of the RNN's and EGARCH's ({vs})"


def models_table(infos, data_dir) -> None:
    """`forecast models`: one row per trained model (forecast.store.ModelInfo), in 80 columns."""
    table = Table(
        title=f"models in {escape(str(data_dir))}",
        title_justify="left",
        caption="T window, H hidden units, ×N a global model serving N tickers; val loss per "
        "step vs a random walk's on the same days (vs rw < 0: the model did better)",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        show_edge=False,
    )
    for name, justify in [
        ("ticker", "left"),
        ("through", "left"),
        ("options", "left"),
        ("val loss", "right"),
        ("rw loss", "right"),
        ("vs rw", "right"),
        ("size", "right"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)
    for m in infos:
        cfg = m.config
        options = f"{cfg.get('loss', '?')} T={cfg.get('window', '?')} H={cfg.get('hidden', '?')}"
        feats = tuple(cfg.get("features") or [])
        default = DEFAULT_FEATURES["vol" if cfg.get("loss") == "vol" else "other"]
        extra = [] if feats == default else [str(f) for f in feats[1:]]  # only what differs
        if extra:
            options += " +" + "+".join(extra)
        if m.kind == "global":  # one model over many tickers: say so, and over how many
            options += f" ×{len(m.tickers)}"
        gap = m.skill
        table.add_row(
            escape(m.ticker),
            escape(str(m.trained_through or "?")),
            escape(options),
            _cell(m.val_loss, ".4f"),
            _cell(m.baseline_val_loss, ".4f"),
            "?" if gap is None else ("[green]" if gap < 0 else "[yellow]") + f"{gap:+.4f}[/]",
            f"{m.size / 1024:,.1f} KiB",
        )
    out.print(table)


def _pct(x: float) -> str:
    return "–" if x != x else f"{x:.0%}"  # NaN: not measured


def prediction_table(pred) -> None:
    """Per trading day: median, 80% and 95% bands with the coverage they achieved, and P(up)."""
    p_up = pred.p_up_label
    currency = f" {pred.currency}" if pred.currency else ""
    t = Table(
        title=f"{pred.ticker}: next {len(pred.table)} trading days from {pred.last_date:%Y-%m-%d} (close {pred.last_close:,.2f}{currency})",
        title_justify="left",
        caption="bands are conformally calibrated; cov = share of held-out validation days inside "
        f"the band (– beyond day {pred.calibrated_days}: factor extrapolated)",
        caption_justify="left",
        box=box.SIMPLE_HEAD,  # fits 80 columns
    )
    for name in ["date", "median", "80% band", "cov", "95% band", "cov", p_up]:
        t.add_column(name, justify="right")
    for date, r in pred.table.iterrows():
        t.add_row(
            f"{date:%Y-%m-%d}",
            f"{r['median']:,.2f}",
            f"{r['lower_80']:,.2f}–{r['upper_80']:,.2f}",
            _pct(r["coverage_80"]),
            f"{r['lower_95']:,.2f}–{r['upper_95']:,.2f}",
            _pct(r["coverage_95"]),
            f"{r['p_up']:.0%}",
        )
    out.print(t)


def fan(pred) -> None:
    from forecast.cli.fanchart import fan_chart

    out.print(fan_chart(**pred.fan_series()))


# --- backtest -----------------------------------------------------------------------------------


@contextmanager
def fold_progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar over backtest refits on stderr; yields backtest.run_backtest's on_fold.

    The bar appears on the first callback, after the options were checked, so an error
    before it stays the only line on stderr.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("refit"),
        MofNCompleteColumn(),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # logs get the tables, not a redrawn bar
    )
    task = progress.add_task("backtest", total=None)

    def on_fold(i: int, n_folds: int) -> None:
        if not progress.live.is_started:
            progress.start()
        progress.update(task, completed=i, total=n_folds)

    try:
        yield on_fold
    finally:
        if progress.live.is_started:
            progress.stop()


def _cell(value, fmt: str) -> str:
    return "–" if value is None or value != value else format(value, fmt)  # NaN → dash


def _backtest_rows(table: Table, result, cells) -> None:
    for model, rows in result.metrics.items():
        for r in rows:
            table.add_row(model if r["horizon"] == 1 else "", str(r["horizon"]), *cells(r))
        table.add_section()


def backtest_table(ticker: str, result) -> None:
    """Two tables per model and horizon, point forecasts then intervals, and the verdict."""

    first, last = result.origins[0], result.origins[-1]
    out.print(
        f"{ticker}: walk-forward backtest, {len(result.origins)} origins "
        f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}, {len(result.folds)} refits",
        markup=False,
        highlight=False,
    )

    def table(title, caption, columns):
        t = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False)
        t.title_justify = t.caption_justify = "left"
        for name in ["model", "h", *columns]:
            t.add_column(name, justify="left" if name == "model" else "right", no_wrap=True)
        return t

    point = table(
        "point forecasts (median)",
        "rel MAE = MAE / naive MAE, < 1 beats the random walk; DM p: Diebold–Mariano vs naive; "
        "dir p: binomial vs the better of always-up and always-down, too small beyond h = 1 "
        "(overlapping cases)",
        ["MAE", "RMSE", "rel MAE", "MASE", "DM p", "dir", "n", "dir p"],
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
    )
    bands = table(
        "intervals",
        "in L%: share of cases inside the band; IS: interval (Winkler) score; CRPS and NLL of "
        "the h-day log return; DM p: Diebold–Mariano on CRPS against the best baseline "
        f"({result.best_baseline}); the verdict gives the CRPS ratios",
        ["in 80%", "in 95%", "IS 80%", "IS 95%", "CRPS", "NLL", "DM p"],
    )
    _backtest_rows(
        bands,
        result,
        lambda r: [
            _cell(r["coverage_80"], ".1%"),
            _cell(r["coverage_95"], ".1%"),
            _cell(r["interval_score_80"], ",.2f"),
            _cell(r["interval_score"], ",.2f"),
            _cell(r["crps"], ".4f"),
            _cell(r["nll"], ".3f"),
            _cell(r["dm_crps_p_value"], ".2f"),
        ],
    )
    out.print(point)
    out.print(bands)
    out.print(result.verdict, markup=False, highlight=False, soft_wrap=True)


# --- universes: many tickers per command ---------------------------------------------------------


class UniverseProgress:
    """One bar over the universe on stderr, and one line as each ticker finishes.

    Called with each forecast.universe.many.Row; lines stay above the bar (and in logs, where the bar
    is off).
    """

    def __init__(self, total: int, verb: str, where: str):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn(verb),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[failed]} failed · {task.elapsed:.0f} s"),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        self.task = self.progress.add_task(verb, total=total, failed=0)
        self.failed = 0
        info(f"{verb} {total} ticker{'s' * (total != 1)} on {where}")

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def __call__(self, row) -> None:
        if row.ok:
            err.print(
                f"  {row.ticker:<12} ok      {row.seconds:6.1f} s", highlight=False, markup=False
            )
        else:
            self.failed += 1
            err.print(
                f"  {row.ticker:<12} failed  {row.error}",
                highlight=False,
                markup=False,
                soft_wrap=True,
                style="yellow",
            )
        self.progress.update(self.task, advance=1, failed=self.failed)


def _rows_table(title: str, columns: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
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
    out.print(t)
    err.print(
        "vs rw: validation loss per day minus a random walk's on the same days (below 0: better); "
        "cov: day-1 bands' coverage of held-out validation days",
        style="dim",
        highlight=False,
    )


def screen_table(rows, days: int) -> None:
    """predict over many tickers: one line each at the last forecast day, best median first."""
    t = _rows_table(
        f"{days}-day screen",
        [
            ("ticker", "left"),
            ("last", "left"),
            ("close", "right"),
            ("median", "right"),
            ("P(up)", "right"),
            ("80% band", "right"),
            ("95% band", "right"),
            ("note", "left"),
        ],
    )
    ok = sorted((r for r in rows if r.ok), key=lambda r: -r.values["median_return"])
    for r in ok + [r for r in rows if not r.ok]:
        v = r.values
        t.add_row(
            escape(r.ticker),
            v.get("last_date", "–"),
            _cell(v.get("last_close"), ",.2f"),
            _cell(v.get("median_return"), "+.2%"),
            _cell(v.get("p_up"), ".0%"),
            _cell(v.get("band_80"), ".1%"),
            _cell(v.get("band_95"), ".1%"),
            "failed" if not r.ok else ("stale" if v.get("warnings") else ""),
        )
    out.print(t)
    err.print(
        f"median: median return to day {days}; P(up): P(close above the last close) there "
        "(direction models: P(up that day)); band: calibrated band width / last close",
        style="dim",
        highlight=False,
    )


def backtest_many_table(rows, horizon: int) -> None:
    """backtest over many tickers: the RNN's day-1 scores against naive, per ticker."""
    t = _rows_table(
        f"walk-forward backtests (h = 1 of {horizon})",
        [
            ("ticker", "left"),
            ("status", "left"),
            ("origins", "right"),
            ("rel MAE", "right"),
            ("DM p", "right"),
            ("in 80%", "right"),
            ("in 95%", "right"),
            ("seconds", "right"),
        ],
    )
    for r in rows:
        v = r.values
        t.add_row(
            escape(r.ticker),
            r.status,
            _cell(v.get("origins"), "d"),
            _cell(v.get("rel_mae"), ".3f"),
            _cell(v.get("dm_p"), ".3f"),
            _cell(v.get("coverage_80"), ".1%"),
            _cell(v.get("coverage_95"), ".1%"),
            f"{r.seconds:.1f}",
        )
    out.print(t)
    err.print(
        "rel MAE: RNN's MAE / naive's at 1 day (< 1 beats the random walk); DM p: "
        "Diebold–Mariano vs naive; --json has every horizon's verdict",
        style="dim",
        highlight=False,
    )


def global_summary(report) -> None:
    """After `train --global NAME`: what the one model saw, and its score vs the random walk."""
    fit = report.fit
    p = fit.panel
    n_train = sum(a for a, _ in p.counts.values())
    n_val = sum(b for _, b in p.counts.values())
    t = Table(
        title=f"{report.name}: global {fit.config.loss} RNN",
        show_header=False,
        title_justify="left",
    )
    t.add_column("", style="bold")
    t.add_column("")
    t.add_row(
        "series",
        f"{len(p.tickers)} ({', '.join(p.tickers[:6])}{', …' if len(p.tickers) > 6 else ''})",
    )
    t.add_row("cut date", f"{p.cut:%Y-%m-%d}: every series trains before it, validates after")
    t.add_row("windows", f"train {n_train:,}   validation {n_val:,}")
    cfg = fit.config
    members = f", {len(fit.results)} members" if len(fit.results) > 1 else ""
    t.add_row(
        "options",
        f"window {cfg.window}, hidden {cfg.hidden}, lr {cfg.lr:g}, batch {cfg.batch_size}, "
        f"seed {cfg.seed}{members}",
    )
    runs = ", ".join(f"{r.best_epoch}/{len(r.history)}" for r in fit.results)
    t.add_row("epochs", f"best/run {runs}")
    losses = fit.meta()["losses"]  # averaged over the members
    t.add_row("loss / step", f"train {losses['train']:.4f}   validation {losses['val']:.4f}")
    gap = losses["val"] - fit.baseline_val_loss
    verdict = "better than" if gap < 0 else "no better than"
    t.add_row(
        "random walk",
        f"validation {fit.baseline_val_loss:.4f}  → model is {verdict} it ({gap:+.4f})",
    )
    if report.failed:
        t.add_row("left out", escape(", ".join(report.failed)))
    t.add_row("saved", escape(str(report.path)))
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
    for ticker, n_train, n_val, loss, rw in fit.per_ticker():
        per.add_row(
            escape(ticker),
            f"{n_train:,}",
            f"{n_val:,}",
            _cell(loss, ".4f"),
            _cell(rw, ".4f"),
            _cell(loss - rw, "+.4f"),
        )
    out.print(per)
    err.print(
        "train, val: windows; vs rw: the ticker's validation loss per day minus its random "
        "walk's (below 0: better); its bands are calibrated when it is forecast",
        style="dim",
        highlight=False,
    )
