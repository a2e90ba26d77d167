"""One RNN for many series: fit on a panel, save it under a name, forecast any ticker with it.

A global model's weights are shared; what is per series is data: each ticker is scaled by its
own statistics from the days before the model's cut date, and its bands are calibrated on its
own days after the cut (plus the T-day gap), exactly as a per-ticker model's are on its
validation part. So `for_ticker` works for a ticker the model never saw, as long as that
ticker has history on both sides of the cut date.

    models/NAME.json   kind "global", config, cut_date, tickers, per-ticker window counts,
                       pooled losses and the random walk's, versions; close_choice when it
                       trained a close-only ensemble, close_members and close_features when
                       that ensemble serves (below)
    models/NAME.<sha12>.npz   Wxh (GH, D), Whh (GH, H), bh (GH,), Why (O, H), by (O,), G = 1 or 3 (the cell)

A ticker without daily High and Low (a `Date,Close` import) feeds the range inputs their
proxies, which an ensemble trained mostly on real ranges never learned to discount. So when
some series of the panel have no High and Low, the vol head trains a second ensemble beside
the first, on the same pooled windows without the range inputs, and validation chooses which
of the two serves tickers without High and Low: the one with the lower loss on every series'
validation days read without its High and Low (measured: README, "Round 7"). When the second
wins, the file stacks the two ensembles as members: Wxh (M + C, GH, D), the last C =
close_members reading only close_features, their weights on the range inputs exactly zero.
Either way close_choice records both losses.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.config import TrainConfig
from forecast.errors import ForecastError
from forecast.model import checkpoint
from forecast.model.estimator import CAL_STRIDE, RNNForecaster
from forecast.model.features import close_features, has_range
from forecast.model.heads import HEADS
from forecast.model.kernels.rnn import GATES, batch_loss, from_member_params, to_params
from forecast.model.panel import Panel, build_panel, series_dataset, series_vol_dataset
from forecast.model.train import (
    Epoch,
    TrainResult,
    fit_members,
    fit_theta,
    member_epochs,
    member_losses,
)
from forecast.symbols import validate_symbol

KIND = "global"
MIN_CAL_ORIGINS = 20  # validation origins a ticker needs for its own conformal factors


@dataclass
class GlobalFit:
    name: str
    config: TrainConfig
    panel: Panel
    results: list[TrainResult]  # one per ensemble member (one for heads without an ensemble)
    baseline_val_loss: float  # the random walk's loss per step on the pooled validation windows
    # the close-only ensemble (reads close_features(config.features)); empty without one
    close_results: list[TrainResult] = field(default_factory=list)
    # {"first": loss, "close": loss, "chosen": "first" | "close"}: the two ensembles' validation
    # loss per step on every series read without High and Low; None: no second ensemble trained
    close_choice: dict | None = None

    @property
    def result(self) -> TrainResult:
        return self.results[0]

    @property
    def losses(self) -> dict[str, float]:
        """Train and validation loss per scored step, averaged over members."""
        return member_losses(self.results)

    @property
    def epochs(self) -> list[tuple[int, int]]:
        """(best epoch, epochs run) of each member."""
        return member_epochs(self.results)

    def params(self) -> dict[str, np.ndarray]:
        """Named weights; an ensemble's carry a leading member axis (M, ...), as a per-ticker
        vol model's do (RNNForecaster.to_checkpoint), and a close-only ensemble's C members
        follow, padded to every input: (M + C, ...)."""
        D, H, O = len(self.config.features), self.config.hidden, HEADS[self.config.loss].O
        members = [to_params(r.theta, D, H, O) for r in self.results]
        if not HEADS[self.config.loss].ensemble:
            return members[0]
        keep = close_columns(self.config.features)
        for r in self.close_results:  # (GH, C) weights into (GH, D), zero on the range inputs
            p = to_params(r.theta, len(keep), H, O)
            Wxh = np.zeros((p["Wxh"].shape[0], D))
            Wxh[:, keep] = p["Wxh"]
            members.append(p | {"Wxh": Wxh})
        return {k: np.stack([p[k] for p in members]) for k in members[0]}

    def per_ticker(self) -> list[tuple[str, int, int, float, float]]:
        """(ticker, training windows, validation windows, validation loss per step, its random
        walk's) for each series, from its slice of the pooled validation windows; the loss is
        the members' mean, NaN without validation windows."""
        cfg, p = self.config, self.panel
        xv, zv = p.val
        close = set(p.close_only) if self.close_results else set()
        close_cfg = close_config(cfg)
        rows, lo = [], 0
        for t in p.tickers:
            n_train, n_val = p.counts[t]
            x, z = xv[lo : lo + n_val], zv[lo : lo + n_val]
            lo += n_val
            if t in close:  # the ensemble that forecasts it (for_ticker)
                x = without_range(x, cfg.features)
                loss = val_loss([r.theta for r in self.close_results], close_cfg, x, z)
            else:
                loss = val_loss([r.theta for r in self.results], cfg, x, z)
            rows.append((t, n_train, n_val, loss, p.baselines[t]))
        return rows

    def meta(self) -> dict:
        p = self.panel
        close = {}
        if self.close_choice:
            close = {"close_choice": self.close_choice, "close_only": list(p.close_only)}
        if self.close_results:
            close |= {
                "close_members": len(self.close_results),
                "close_features": list(close_features(self.config.features)),
                "close_losses": member_losses(self.close_results),
            }
        return {
            "kind": KIND,
            "name": self.name,
            "config": self.config.to_dict(),
            "cut_date": f"{p.cut:%Y-%m-%d}",
            "tickers": p.tickers,
            "windows": {t: {"train": a, "val": b} for t, (a, b) in p.counts.items()},
            "last_dates": {t: f"{d:%Y-%m-%d}" for t, d in p.last_dates.items()},
            "skipped": p.skipped,
            "best_epoch": self.result.best_epoch,
            "epochs_run": len(self.result.history),
            # every member the file stacks: the first ensemble's, then the close-only one's
            "member_epochs": [list(e) for e in self.epochs + member_epochs(self.close_results)],
            "losses": self.losses,
            "baseline_val_loss": self.baseline_val_loss,
            "last_fit_date": f"{max(p.last_dates.values()):%Y-%m-%d}",  # latest day any series had
            "versions": checkpoint.package_versions(),
            "seed": self.config.seed,
        } | close


GLOBAL_SETTINGS = {
    "vol": dict(batch_size=64),
    "other": dict(hidden=32, batch_size=64, lr=2e-3, epochs=30, patience=5),
}


def global_config(cfg: TrainConfig) -> TrainConfig:
    """The options a global model trains with: the user's, except that options left at their
    per-ticker defaults take the global model's (GLOBAL_SETTINGS): pooled series give many
    more windows an epoch, so larger batches (measured: benchmarks/quality.py --global)."""
    settings = GLOBAL_SETTINGS[HEADS[cfg.loss].family]
    changed = {k: v for k, v in settings.items() if getattr(cfg, k) == TrainConfig.default(k)}
    return replace(cfg, **changed)


def fit_global(
    name: str,
    frames: Iterable[tuple[str, pd.DataFrame]],
    cfg: TrainConfig,
    cut: pd.Timestamp | None = None,
    on_epoch: Callable[[Epoch], None] | None = None,
) -> GlobalFit:
    """Train one RNN (for the vol head, an ensemble of them) on the pooled windows of
    `frames` ((ticker, prices) pairs), early-stopped on the pooled validation windows."""
    cfg = global_config(cfg)
    T = cfg.window
    panel = build_panel(frames, cfg.features, T, cfg.loss, cfg.val_fraction, cut, cfg.burn)
    if not HEADS[cfg.loss].ensemble:
        results = [fit_theta(panel.train, panel.val, cfg, on_epoch)]
        return GlobalFit(name, cfg, panel, results, panel.baseline_val_loss)
    ensembles = [(panel.train, panel.val, cfg)]
    if panel.close_only and close_features(cfg.features) != cfg.features:  # no High and Low
        (xs, zs), (xv, zv) = panel.train, panel.val
        ensembles.append(
            (
                (without_range(xs, cfg.features), zs),
                (without_range(xv, cfg.features), zv),
                close_config(cfg),
            )
        )
    fitted = fit_members(ensembles, on_epoch, steps=T - cfg.burn)
    if len(fitted) == 1:
        return GlobalFit(name, cfg, panel, fitted[0], panel.baseline_val_loss)
    results, close_results = fitted
    choice = choose_close(results, close_results, cfg, panel.val_close)
    if choice["chosen"] == "first":
        close_results = []  # the first ensemble serves every ticker, with proxies where needed
    return GlobalFit(name, cfg, panel, results, panel.baseline_val_loss, close_results, choice)


def choose_close(results, close_results, cfg: TrainConfig, val_close) -> dict:
    """Which ensemble forecasts tickers without High and Low: the second (close-only) one only
    if its validation loss per step on every series' validation windows read without High and
    Low, val_close (xs (B, T, D), zs (B, T)), is below the first's reading the proxies there.
    The second stopped early on these very windows' close columns, the first on the real
    ranges: a small lean toward the second, which the halves' runs did not show as a cost.
    """
    xs, zs = val_close
    first = val_loss([r.theta for r in results], cfg, xs, zs)
    close = val_loss(
        [r.theta for r in close_results], close_config(cfg), without_range(xs, cfg.features), zs
    )
    return {"first": first, "close": close, "chosen": "close" if close < first else "first"}


def close_columns(features: tuple[str, ...]) -> list[int]:
    """Where close_features(features) sit among features (the columns of a panel's windows)."""
    return [features.index(f) for f in close_features(features)]


def without_range(a: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """a (..., D), one column per feature, less the range inputs' columns (contiguous): windows
    as the close-only ensemble reads them, or its weights Wxh (..., GH, D) as it applies them."""
    return np.ascontiguousarray(a[..., close_columns(features)])


def close_config(cfg: TrainConfig) -> TrainConfig:
    """The close-only ensemble's config: cfg reading close_features only."""
    return replace(cfg, features=close_features(cfg.features))


def n_members(params: dict) -> int:
    """M, the members a file's weights stack (Wxh (M, GH, D)); 1 without a member axis."""
    return params["Wxh"].shape[0] if params["Wxh"].ndim == 3 else 1


def own_model_named(data_dir: Path, name: str) -> bool:
    """Whether models/NAME.json is a usable per-ticker model: a name `--global NAME` may not
    take. A corrupt file of either kind is no model; training replaces it."""
    meta, problem = checkpoint.checked_sidecar(data_dir, name)
    return problem is None and not is_global(meta)


def check_name(data_dir: Path, name: str) -> None:
    """Refuse, before any training, a global model name that is a ticker's own model."""
    if own_model_named(data_dir, name):
        raise ForecastError(
            f"models/{name}.json is the per-ticker model of {name}; save the global model "
            f"under another name with --global NAME"
        )


def save_global(data_dir: Path, fit: GlobalFit) -> Path:
    """models/NAME.json + weights, atomically; refuses to replace a per-ticker model (a
    corrupt file of either kind is replaced)."""
    check_name(data_dir, fit.name)  # again: one may have been trained meanwhile
    return checkpoint.save_model(data_dir, fit.name, fit.params(), fit.meta())


def is_global(meta: dict) -> bool:
    return meta.get("kind") == KIND


def load_global(data_dir: Path, name: str) -> tuple[dict, dict]:
    """(params, meta) of the global model NAME, or ForecastError saying what to do."""
    name = validate_symbol(name)
    try:
        params, meta = checkpoint.load_model(data_dir, name, checkpoint.retrain_advice(name, KIND))
    except ForecastError as e:
        if f"no model for {name}" in str(e):
            raise ForecastError(
                f"no model named {name}; train one with `forecast train TICKER ... --global {name}`"
            ) from None
        raise
    if not is_global(meta):
        raise ForecastError(
            f"{name} is a per-ticker model; --model takes the NAME a `--global NAME` training saved"
        )
    return params, meta


def config_of(meta: dict) -> TrainConfig:
    """The TrainConfig a global model was trained with, or ForecastError naming its file: a
    config the schema lets through may still be no config (an unknown key, loss or feature)."""
    name = meta.get("name")
    try:
        return TrainConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError, ForecastError) as e:
        reason = " ".join(str(e).split())[:160]
        raise ForecastError(
            f"the global model {name} is unusable: models/{name}.json holds no valid config "
            f"({reason}); {checkpoint.retrain_advice(name, KIND)}"
        ) from None


def check_weights(params: dict, meta: dict, cfg: TrainConfig) -> int:
    """ForecastError unless the weights have the shapes the config says (inputs, hidden units,
    cell, head): the checkpoint checks the weights against the file's shapes, not its config.
    Returns C, the members of the close-only ensemble (0: none), once they are checked to be
    what the config makes them: fewer than all members, reading close_features only."""
    D, H, O = len(cfg.features), cfg.hidden, HEADS[cfg.loss].O
    G = GATES[cfg.cell]
    name = meta.get("name")

    def unusable(why: str) -> ForecastError:
        return ForecastError(
            f"the global model {name} is unusable: {why}; {checkpoint.retrain_advice(name, KIND)}"
        )

    if (
        params["Wxh"].shape[-2:] != (G * H, D)
        or params["Whh"].shape[-2:] != (G * H, H)
        or params["Why"].shape[-2:] != (O, H)
    ):
        raise unusable(
            f"its config ({D} inputs, hidden {H}, cell {cfg.cell}, head {cfg.loss}) does not "
            "match its weights"
        )
    C = meta.get("close_members", 0)
    if not C:
        return 0
    M = n_members(params)
    features = close_features(cfg.features)
    dropped = [cfg.features.index(f) for f in cfg.features if f not in features]
    if (
        C >= M
        or meta.get("close_features") != list(features)
        or not dropped
        or np.any(params["Wxh"][M - C :][..., dropped] != 0.0)
    ):
        raise unusable(
            f"its close-only ensemble ({C} of {M} members, inputs {meta.get('close_features')}) "
            f"should be its last members, fewer than all, reading only {', '.join(features)}"
        )
    return C


def val_loss(thetas, cfg: TrainConfig, xv: np.ndarray, zv: np.ndarray) -> float:
    """Members' mean validation loss per scored step on windows xv (B, T, D), zv (B, T), as
    training reports it; NaN without windows (a ticker with few days after the cut: its
    bands still calibrate on every day)."""
    if not len(xv):
        return float("nan")
    D, H, O = len(cfg.features), cfg.hidden, HEADS[cfg.loss].O
    head, steps = HEADS[cfg.loss].kernel_id, cfg.window - cfg.burn
    return float(np.mean([batch_loss(t, D, H, O, head, xv, zv) for t in thetas])) / steps


def for_ticker(params: dict, meta: dict, ticker: str, frame: pd.DataFrame):
    """An RNNForecaster for `ticker`: the global weights, the ticker's own scaler (days before
    the cut date) and bands calibrated on its own days after the cut."""
    cfg = config_of(meta)
    C = check_weights(params, meta, cfg)
    M = n_members(params)
    close = C > 0 and not has_range(frame)  # no High and Low: the close-only ensemble serves it
    members = slice(M - C, M) if close else slice(0, M - C)
    if C:
        params = {k: v[members] for k, v in params.items()}
    if close:  # its own inputs only: (C, GH, D) -> (C, GH, len(close_features))
        params["Wxh"] = without_range(params["Wxh"], cfg.features)
        cfg = close_config(cfg)
    try:
        cut = pd.Timestamp(meta["cut_date"])
    except (KeyError, TypeError, ValueError) as e:
        raise ForecastError(f"the global model file is inconsistent ({e}); retrain it") from None
    T, vol = cfg.window, HEADS[cfg.loss].offset  # the vol head's datasets
    try:
        if vol:
            ds = series_vol_dataset(frame, cfg.features, T, cfg.burn, cut)
        else:
            ds = series_dataset(frame, cfg.features, T, cfg.loss, cut)
    except ForecastError as e:
        raise ForecastError(
            f"{ticker} cannot use the global model {meta.get('name')}: {e}"
        ) from None
    n_origins = len(range(ds.split.val_first, len(ds.returns) - 1, CAL_STRIDE))
    if n_origins < MIN_CAL_ORIGINS:  # the bands' calibration needs forecasts it can score
        gap = "" if vol else f" (plus the {T}-day gap)"
        raise ForecastError(
            f"{ticker} has too few days after the global model's cut date {cut:%Y-%m-%d}"
            f"{gap} to calibrate its bands; fetch newer prices"
        )
    if HEADS[cfg.loss].fixed_sigma and len(ds.val[0]) == 0:
        raise ForecastError(
            f"{ticker} has no full validation window after the global model's cut date "
            f"{cut:%Y-%m-%d} to measure an mse model's spread on; fetch newer prices"
        )
    theta, _, _, _ = from_member_params(params)  # vol: (M, P) like a ticker's model
    xv, zv = ds.val
    losses = {"train": float("nan"), "val": val_loss(theta if vol else [theta], cfg, xv, zv)}
    epochs = None
    if vol:
        epochs = [tuple(e) for e in meta.get("member_epochs", [[0, 0]] * M)][members]
    return RNNForecaster.from_weights(
        cfg,
        theta,
        ds,
        frame,
        losses=losses,  # this ticker's validation loss
        best_epoch=int(meta.get("best_epoch", 0)),
        member_epochs=epochs,
    )


def refit_for_backtest(
    name: str, others: dict[str, pd.DataFrame], ticker: str, cfg: TrainConfig
) -> Callable[[pd.DataFrame, pd.Timestamp], object]:
    """backtest's fit for a global model: at each fold, refit on every series cut at the fold's
    first origin DATE (others' rows after it are dropped; train ends on it), then view it for `ticker`."""

    def fit(train: pd.DataFrame, origin: pd.Timestamp):
        frames = [(ticker, train)] + [
            (t, f.loc[f.index <= origin]) for t, f in others.items() if t != ticker
        ]
        g = fit_global(name, frames, cfg)
        return for_ticker(g.params(), g.meta(), ticker, train)

    return fit
