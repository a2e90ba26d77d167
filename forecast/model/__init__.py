"""The model wing: a hand-written Elman RNN, its heads, training, calibration and model files.

kernels/rnn.py, kernels/adam.py   Numba kernels: the cell, BPTT, losses, sampling; Adam
heads       one class per --head        features    inputs, scalers, windows, the split
train       the epoch loop, threads     conformal   conformal calibration of the bands
estimator   RNNForecaster, VolForecaster: fit, predictive, forecast, model-file fields
panel, globalmodel                      one RNN over many series, cut on one date
checkpoint  weights (.npz) + sidecar (.json), validated on load
summary     what a training run made, as plain values
classical   EWMA, GARCH(1,1), EGARCH(1,1) (arch): the yardsticks and the vol head's fallback
"""

from forecast import lazy_face

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
    "EWMA": "classical",
    "GARCH": "classical",
    "EGARCH": "classical",
}
__all__ = list(_FACE)

__getattr__, __dir__ = lazy_face(__name__, _FACE)
