"""Each head has one home (forecast/model/heads.py): its outputs, target, baseline, P(up), noise."""

import numpy as np
import pytest

from forecast.config import LOSSES, Loss
from forecast.model.features import Scaler, targets
from forecast.model.heads import HEADS
from forecast.model.kernels.rnn import HEAD_IDS


def test_every_loss_choice_has_exactly_one_head():
    assert set(HEADS) == set(LOSSES) == {m.value for m in Loss} == set(HEAD_IDS)
    assert len({h.kernel_id for h in HEADS.values()}) == len(HEADS)
    assert {n: h.O for n, h in HEADS.items()} == {"gaussian": 2, "mse": 1, "direction": 2, "vol": 1}


def test_targets_are_the_heads():
    r = np.array([0.01, -0.02, 0.0, 0.03])
    sc = Scaler(np.array([0.001]), np.array([0.02]))
    np.testing.assert_allclose(targets(r, sc, "mse")[:-1], (r[1:] - 0.001) / 0.02)
    np.testing.assert_array_equal(targets(r, sc, "direction")[:-1], [0.0, 0.0, 1.0])
    assert np.isnan(targets(r, sc, "direction")[-1]) and np.isnan(targets(r, sc, "gaussian")[-1])


def test_baselines_are_the_random_walks_loss():
    rng = np.random.default_rng(0)
    zv = rng.normal(size=(5, 7))
    mean, std = 0.0, 1.0
    mse = HEADS["mse"].baseline_loss(zv, None, mean, std)
    assert mse == pytest.approx(0.5 * np.mean(zv**2))
    assert HEADS["gaussian"].baseline_loss(zv, None, mean, std) == pytest.approx(
        mse + 0.5 * np.log(2 * np.pi)
    )
    up = (zv > 0).astype(float)
    r_train = np.array([0.1, -0.1, 0.2, 0.3])  # 3 of 4 up
    want = -np.mean(up * np.log(0.75) + (1 - up) * np.log(0.25))
    assert HEADS["direction"].baseline_loss(up, r_train, mean, std) == pytest.approx(want)


def test_distribution_unscales_and_p_up_is_a_probability():
    ys = np.array([[0.5, np.log(2.0)], [-0.5, 0.0]])
    mu, sigma, p = HEADS["gaussian"].distribution(ys, 0.001, 0.02, 1.0)
    np.testing.assert_allclose(mu, [0.001 + 0.02 * 0.5, 0.001 - 0.02 * 0.5])
    np.testing.assert_allclose(sigma, [0.04, 0.02])
    assert p[0] > 0.5 > p[1]
    _, sigma_mse, _ = HEADS["mse"].distribution(ys[:, :1], 0.0, 0.02, 0.7)
    np.testing.assert_allclose(sigma_mse, [0.014, 0.014])
    _, _, p_dir = HEADS["direction"].distribution(ys, 0.0, 1.0, 1.0)
    np.testing.assert_allclose(p_dir, 1 / (1 + np.exp(ys[:, 0] - ys[:, 1])))


@pytest.mark.parametrize("name", sorted(HEADS))
def test_noise_is_drawn_day_by_day(name):
    """The same seed gives the same first days whatever the number of days."""
    q = np.linspace(0, 0.05, 101)
    a, ma = HEADS[name].draw_noise(np.random.default_rng(1), 3, 4, q)
    b, mb = HEADS[name].draw_noise(np.random.default_rng(1), 5, 4, q)
    assert a.shape == (4, 3) and b.shape == (4, 5)
    if name != "direction":
        np.testing.assert_array_equal(a, b[:, :3])
    else:
        assert ((a >= 0) & (a < 1)).all() and ((ma >= 0) & (ma <= 0.05)).all()
