"""Summary: what a training run made, as plain values, so a display needs no estimator internals.

Built once where the model is (an estimator, or a global fit with its panel); the terminal,
JSON output and notebooks read the same fields. Nothing here runs a kernel after it is built.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forecast.config import TrainConfig


@dataclass(frozen=True)
class TickerScore:
    """One ticker's share of a global model: windows, validation loss and its random walk's."""

    ticker: str
    n_train: int
    n_val: int
    val_loss: float  # NaN without a full validation window after the cut
    baseline_val_loss: float

    @property
    def skill(self) -> float:
        """Validation loss minus the random walk's: below 0, the model did better."""
        return self.val_loss - self.baseline_val_loss


@dataclass(frozen=True)
class Summary:
    name: str  # the ticker, or the global model's name
    kind: str  # "own" or "global"
    config: TrainConfig
    epochs: list[tuple[int, int]]  # (best epoch, epochs run) per ensemble member
    train_loss: float  # per scored step, the members' mean
    val_loss: float
    baseline_val_loss: float  # the random walk's on the same validation windows
    n_train: int  # training windows (a global model: over all its series)
    n_val: int
    path: Path | None = None  # the saved model file
    # a ticker's own model
    rows: int = 0  # price days it was fitted on
    train_dates: tuple[pd.Timestamp, pd.Timestamp] | None = None
    val_dates: tuple[pd.Timestamp, pd.Timestamp] | None = None
    coverage: dict[float, float] = field(default_factory=dict)  # level -> held-out day-1 coverage
    variance: tuple[str, float] | None = None  # vol head: ("rnn"|"egarch"|"blend", EGARCH/RNN CRPS)
    # a global model
    cut: pd.Timestamp | None = None
    tickers: list[str] = field(default_factory=list)
    per_ticker: list[TickerScore] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)  # ticker -> why it is not in the model
    # its tickers without High/Low, the second ensemble's inputs, and which ensemble validation
    # chose for them: {"first": loss, "close": loss, "chosen": "first" | "close"} (globalmodel)
    close_only: list[str] = field(default_factory=list)
    close_features: tuple[str, ...] = ()
    close_choice: dict = field(default_factory=dict)

    @property
    def skill(self) -> float:
        return self.val_loss - self.baseline_val_loss


def of_estimator(model, ticker: str, rows: int, path: Path | None = None) -> Summary:
    """The summary of a fitted RNNForecaster."""
    d = model.dates_
    members = getattr(model, "member_epochs_", None)
    epochs = [tuple(e) for e in members] if members else [(model.best_epoch_, len(model.history_))]
    cal = model.calibration_
    return Summary(
        name=ticker,
        kind="own",
        config=model.config,
        epochs=epochs,
        train_loss=float(model.losses_["train"]),
        val_loss=float(model.losses_["val"]),
        baseline_val_loss=float(model.baseline_val_loss_),
        n_train=model.n_windows_[0],
        n_val=model.n_windows_[1],
        path=path,
        rows=rows,
        train_dates=(d["train_first"], d["train_last"]),
        val_dates=(d["val_first"], d["val_last"]),
        coverage={L: float(cal.coverage[i, 0]) for i, L in enumerate(cal.levels)},
        variance=(model.variance_choice, float(model.egarch_ratio_))
        if hasattr(model, "blend_weights_")
        else None,
    )


def of_global(fit, path: Path | None = None, left_out: dict | None = None) -> Summary:
    """The summary of a forecast.model.globalmodel.GlobalFit: pooled and per-ticker losses."""
    p = fit.panel
    losses = fit.losses
    close = {}
    if fit.close_choice:
        from forecast.model.features import close_features  # numba kernels: not at import

        close = dict(
            close_only=list(p.close_only),
            close_features=close_features(fit.config.features),
            close_choice=dict(fit.close_choice),
        )
    return Summary(
        name=fit.name,
        kind="global",
        config=fit.config,
        epochs=fit.epochs,
        train_loss=losses["train"],
        val_loss=losses["val"],
        baseline_val_loss=float(fit.baseline_val_loss),
        n_train=sum(a for a, _ in p.counts.values()),
        n_val=sum(b for _, b in p.counts.values()),
        path=path,
        cut=p.cut,
        tickers=list(p.tickers),
        per_ticker=[TickerScore(*row) for row in fit.per_ticker()],
        left_out=dict(left_out or {}),
        **close,
    )
