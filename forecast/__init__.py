"""forecast: an honest command-line stock forecaster built on a hand-written, Numba-compiled Elman RNN."""

__version__ = "0.1.0"


def lazy_face(package: str, face: dict[str, str]):
    """(__getattr__, __dir__) for a package whose public names `face` maps to the modules that
    define them, each imported on first use (PEP 562): importing one light module of the
    package does not load its heavy ones (numba, arch, the CLI). A module named in full
    ("forecast.symbols") may lie outside the package."""
    from importlib import import_module

    def __getattr__(name: str):
        if name in face:
            home = face[name]
            return getattr(import_module(home if "." in home else f"{package}.{home}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(face)

    return __getattr__, __dir__
