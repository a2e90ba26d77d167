"""The terminal: Typer commands that parse, call one forecast.api function, and render.

app         the commands and their options; exit codes 0, 1, 2, 130
display     rich tables and progress bars; errors as one line on stderr
fanchart    the terminal fan chart
"""

__all__ = ["app"]
_FACE = {  # public name -> the module that defines it
    "app": "app",
}


def __getattr__(name: str):
    """Import a public name's module on first use (PEP 562): importing one light module of this
    package (say display (no numpy)) does not load the heavy ones."""
    if name in _FACE:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_FACE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
