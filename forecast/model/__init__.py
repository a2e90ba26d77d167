"""The model wing: a hand-written Elman RNN, its heads, training, calibration and model files.

kernels/rnn.py, kernels/adam.py   Numba kernels: the cell, BPTT, losses, sampling; Adam
heads       one class per --head        features    inputs, scalers, windows, the split
train       the epoch loop, threads     conformal   conformal calibration of the bands
estimator   RNNForecaster, VolForecaster: fit, predictive, forecast, model-file fields
panel, globalmodel                      one RNN over many series, cut on one date
checkpoint  weights (.npz) + sidecar (.json), validated on load
summary     what a training run made, as plain values
"""

from forecast import lazy_face

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

__getattr__, __dir__ = lazy_face(__name__, _FACE)
