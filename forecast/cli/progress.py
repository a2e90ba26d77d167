"""Progress on stderr while a command works: epochs of a fit, folds of a backtest, tickers of
a universe. Each bar is transient and off when stderr is no terminal, so logs get only the
results and any error stays the one line on stderr.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from forecast.cli.display import err, info


def _bar(label: str, *columns):
    """A rich Progress on stderr: `label`, done/total, the bar, then `columns`. Transient (on
    failure only the one error line stays; the results follow success) and off when stderr is
    no terminal (logs get the results, not a redrawn bar)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn(label),
        MofNCompleteColumn(),
        BarColumn(),
        *columns,
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


class _Bar:
    """A bar object used as a context manager: its Progress (set by __init__, from _bar)
    shows while the block runs."""

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)


class EpochProgress(_Bar):
    """A rich progress bar over epochs (stderr): train loss, validation loss, best so far."""

    def __init__(self, epochs: int):
        from rich.progress import TextColumn, TimeElapsedColumn

        self.progress = _bar("epoch", TextColumn("{task.fields[losses]}"), TimeElapsedColumn())
        self.task = self.progress.add_task("train", total=epochs, losses="compiling / first epoch…")

    def __call__(self, e) -> None:
        mark = "*" if e.improved else " "
        losses = f"train {e.train_loss:.4f}  val {e.val_loss:.4f}{mark} best {e.best_val_loss:.4f}"
        self.progress.update(self.task, completed=e.epoch, losses=losses)

    def stop_early(self) -> None:
        task = self.progress.tasks[0]
        self.progress.update(self.task, total=task.completed)


@contextmanager
def fold_progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar over backtest refits on stderr; yields backtest.run_backtest's on_fold.

    The bar appears on the first callback, after the options were checked, so an error
    before it stays the only line on stderr.
    """
    from rich.progress import TimeElapsedColumn

    progress = _bar("refit", TimeElapsedColumn())
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


class UniverseProgress(_Bar):
    """One bar over the universe on stderr, and one line as each ticker finishes.

    Called with each forecast.universe.many.Row; lines stay above the bar (and in logs, where the bar
    is off).
    """

    def __init__(self, total: int, verb: str, where: str):
        from rich.progress import TextColumn

        self.progress = _bar(
            verb, TextColumn("{task.fields[failed]} failed · {task.elapsed:.0f} s")
        )
        self.task = self.progress.add_task(verb, total=total, failed=0)
        self.failed = 0
        info(f"{verb} {total} ticker{'s' * (total != 1)} on {where}")

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
