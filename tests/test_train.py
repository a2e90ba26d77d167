"""The training loop: early stopping restores the best weights; a non-finite loss stops it."""

import threading

import numpy as np
import pytest
from synthetic import ar1_returns, prices_from_returns

import forecast.model.train as train_mod
from forecast.config import TrainConfig
from forecast.errors import ForecastError
from forecast.model.features import build_dataset
from forecast.model.heads import HEADS
from forecast.model.kernels.rnn import batch_loss
from forecast.model.train import fit_theta


def dataset(cfg):
    prices = prices_from_returns(ar1_returns(600, 0.3, 0.01, seed=0))
    return build_dataset(prices, cfg.features, cfg.window, cfg.loss, cfg.val_fraction)


def test_early_stopping_restores_the_best_epoch():
    cfg = TrainConfig(
        window=10, hidden=6, epochs=40, lr=0.05, patience=2, loss="gaussian"
    )  # big lr: overfits fast
    ds = dataset(cfg)
    result = fit_theta(ds.train, ds.val, cfg)
    assert len(result.history) < cfg.epochs  # stopped early
    assert len(result.history) - result.best_epoch == cfg.patience
    head, O = HEADS[cfg.loss].kernel_id, HEADS[cfg.loss].O
    val = batch_loss(result.theta, 1, cfg.hidden, O, head, *ds.val) / cfg.window
    assert val == pytest.approx(min(e.val_loss for e in result.history), rel=1e-12)


def test_progress_callback_sees_every_epoch():
    cfg = TrainConfig(window=10, hidden=4, epochs=3, patience=10, loss="gaussian")
    ds = dataset(cfg)
    seen = []
    fit_theta(ds.train, ds.val, cfg, on_epoch=seen.append)
    assert [e.epoch for e in seen] == [1, 2, 3]
    assert all(np.isfinite(e.train_loss) and np.isfinite(e.val_loss) for e in seen)


def test_non_finite_loss_stops_with_a_clear_error(monkeypatch):
    cfg = TrainConfig(window=10, hidden=4, epochs=3, loss="gaussian")
    ds = dataset(cfg)
    monkeypatch.setattr(train_mod, "loss_and_grad", lambda *a: np.nan)
    with pytest.raises(ForecastError, match="diverged.*smaller --lr"):
        fit_theta(ds.train, ds.val, cfg)


@pytest.mark.parametrize(
    "option,match",
    [
        (dict(hidden=0), "--hidden must be in 1..1024"),
        (dict(loss="quantile"), "unknown --loss 'quantile'"),
        (dict(window=1), "--window must be in 2..1000"),
        (dict(seed=2**32), "--seed must be in"),
        (dict(epochs=2.5), "--epochs must be a whole number"),
        (dict(lr=-1.0), "--lr must be in"),
        (dict(features=("return", "sentiment")), "unknown or repeated feature"),
    ],
)
def test_bad_options_are_refused_where_the_config_is_made(option, match):
    with pytest.raises(ForecastError, match=match):
        TrainConfig(**option)


def test_every_thread_asked_for_runs_a_run_of_chunks_at_once(monkeypatch):
    """n threads -> n runs of chunks in flight together (the pool once capped them at 5)."""
    from forecast.model.kernels.rnn import CHUNK

    n = 7
    barrier = threading.Barrier(n, timeout=10)  # breaks unless all n runs overlap
    real = train_mod.chunks_grad

    def meeting(*args):
        barrier.wait()
        return real(*args)

    monkeypatch.setattr(train_mod, "chunks_grad", meeting)
    rng = np.random.default_rng(0)
    D, H, O = 1, 4, 2
    theta = rng.normal(0, 0.3, (H * D + H * H + H + O * H + O,))
    xs, zs = rng.normal(size=(n * CHUNK, 6, D)), rng.normal(size=(n * CHUNK, 6))
    grad = np.zeros_like(theta)
    train_mod.set_num_threads(n)
    try:
        loss = train_mod.loss_and_grad(theta, D, H, O, HEADS["gaussian"].kernel_id, xs, zs, grad)
    finally:
        train_mod.set_num_threads(2)
    assert np.isfinite(loss) and np.any(grad != 0)


def test_members_on_threads_share_out_the_threads_left_for_their_chunks():
    shares = {}
    try:
        for n in (2, 3, 4, 16):
            train_mod.set_num_threads(n)
            shares[n] = train_mod.map_members(lambda m: train_mod._chunk_threads(), 5)
        outside = train_mod._chunk_threads()
    finally:
        train_mod.set_num_threads(2)
    assert shares == {2: [1] * 5, 3: [1] * 5, 4: [1] * 5, 16: [3] * 5} and outside == 16


def test_an_ensemble_gives_its_spare_threads_to_its_batches_with_the_same_bits():
    """Two members on four threads: two threads for each member's batch chunks (batches of
    four chunks); the weights are those of one thread, to the bit."""
    cfg = TrainConfig(window=10, hidden=5, epochs=2, batch_size=64, ensemble=2, loss="gaussian")
    ds = dataset(cfg)
    try:
        train_mod.set_num_threads(1)
        one = train_mod.fit_ensemble(ds.train, ds.val, cfg)
        train_mod.set_num_threads(4)
        four = train_mod.fit_ensemble(ds.train, ds.val, cfg)
    finally:
        train_mod.set_num_threads(2)
    assert [r.theta.tobytes() for r in one] == [r.theta.tobytes() for r in four]
