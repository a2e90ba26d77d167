"""The one exception users see: ForecastError, whose message says what to do next."""


class ForecastError(Exception):
    """A problem the user can fix. The CLI prints str(error) as one line on stderr and exits 1.

    Messages are one sentence that names the problem and the remedy, e.g.
    "no cached prices for AAPL; run `forecast fetch AAPL` (or `--csv FILE`)".
    """


class UsageError(ForecastError):
    """A ForecastError about the options given, found only once the library has looked (e.g.
    --var on a model whose head has no distribution): the CLI exits 2, like Click's usage errors."""
