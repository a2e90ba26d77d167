"""The model wing: a hand-written Elman RNN, its heads, training, calibration and model files.

kernels/rnn.py, kernels/adam.py   Numba kernels: the cell, BPTT, losses, sampling; Adam
heads       one class per --head        features    inputs, scalers, windows, the split
train       the epoch loop, threads     conformal   conformal calibration of the bands
estimator   RNNForecaster, VolForecaster: fit, predictive, forecast, model-file fields
panel, globalmodel                      one RNN over many series, cut on one date
checkpoint  weights (.npz) + sidecar (.json), validated on load
summary     what a training run made, as plain values
"""

__all__ = [
    "RNNForecaster",
    "VolForecaster",
    "LEVELS",
    "HEADS",
    "Epoch",
    "TrainResult",
    "Calibration",
    "GlobalFit",
    "fit_global",
    "for_ticker",
    "save_model",
    "load_model",
    "Summary",
]
_FACE = {  # public name -> the module that defines it
    "RNNForecaster": "estimator",
    "VolForecaster": "estimator",
    "LEVELS": "estimator",
    "HEADS": "heads",
    "Epoch": "train",
    "TrainResult": "train",
    "Calibration": "conformal",
    "GlobalFit": "globalmodel",
    "fit_global": "globalmodel",
    "for_ticker": "globalmodel",
    "save_model": "checkpoint",
    "load_model": "checkpoint",
    "Summary": "summary",
}


def __getattr__(name: str):
    """Import a public name's module on first use (PEP 562): importing one light module of this
    package (say checkpoint (numpy only)) does not load the heavy ones."""
    if name in _FACE:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_FACE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
