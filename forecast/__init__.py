"""forecast: an honest command-line stock forecaster built on a hand-written, Numba-compiled Elman RNN."""

__version__ = "0.1.0"
