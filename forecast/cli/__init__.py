"""The terminal: Typer commands that parse, call one forecast.api function, and render.

app         the commands and their options; exit codes 0, 1, 2, 130
display     rich tables and progress bars; errors as one line on stderr
fanchart    the terminal fan chart
"""

from forecast import lazy_face

__all__ = ["app"]
_FACE = {  # public name -> the module that defines it
    "app": "app",
}

__getattr__, __dir__ = lazy_face(__name__, _FACE)
