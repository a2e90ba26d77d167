"""The one exception users see: ForecastError, whose message says what to do next."""


class ForecastError(Exception):
    """A problem the user can fix. The CLI prints str(error) as one line on stderr and exits 1.

    Messages are one sentence that names the problem and the remedy, e.g.
    "no cached prices for AAPL; run `forecast fetch AAPL` (or `--csv FILE`)".
    """
