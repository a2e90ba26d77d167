"""The terminal: Typer commands that parse, call one forecast.api function, and render.

app         the commands; exit codes 0, 1, 2, 130, 143
options     every option, defined once (help, range, check), shared by the commands
display     rich tables; errors as one line on stderr; columns dropped, never numbers cut
progress    the bars on stderr: epochs, folds, tickers
fanchart    the terminal fan chart
"""

from forecast import lazy_face

_FACE = {  # public name -> the module that defines it
    "app": "app",
}
__all__ = list(_FACE)

__getattr__, __dir__ = lazy_face(__name__, _FACE)
