"""The one exception users see: ForecastError, whose message says what to do next."""


class ForecastError(Exception):
    """A problem the user can fix. The CLI prints str(error) as one line on stderr and exits 1.

    Messages are one sentence that names the problem and the remedy, e.g.
    "no cached prices for AAPL; run `forecast fetch AAPL` (or `--csv FILE`)".
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt so the same clean-up runs (workers
    stopped, nothing partial written); the command then exits 143 instead of 130."""


def interrupted_exit_code(e: BaseException) -> int:
    """128 + the signal: 143 for SIGTERM (Terminated), 130 for Ctrl-C."""
    return 143 if isinstance(e, Terminated) else 130


def raise_terminated(signum, frame) -> None:
    """A SIGTERM handler: turn the signal into Terminated in the main thread."""
    raise Terminated()


class UsageError(ForecastError):
    """A ForecastError about the options given, found only once the library has looked (e.g.
    --var on a model whose head has no distribution): the CLI exits 2, like Click's usage errors."""
