"""The oracle itself must be right: reference.py against finite differences and hand arithmetic."""

import math

import numpy as np
import pytest
from gradcheck import assert_close, numerical_gradient
from reference import (
    HEAD_OUTPUTS,
    LOG_2PI,
    PARAM_NAMES,
    flatten_params,
    init_params,
    reference_adam,
    reference_forward,
    reference_loss,
    reference_loss_and_grads,
    unflatten_params,
)

HEADS = sorted(HEAD_OUTPUTS)
SHAPES = [(3, 5, 2, 4), (2, 7, 1, 6), (1, 1, 1, 1)]  # (B, T, D, H); the last has no h_{t-1}


def make_problem(head, B, T, D, H, seed=0, gates=1):
    """Random params, inputs xs (B,T,D) and targets zs (B,T) suited to the head."""
    rng = np.random.default_rng(seed)
    params = init_params(D, H, HEAD_OUTPUTS[head], rng, gates)
    xs = rng.normal(size=(B, T, D))
    if head == "direction":
        zs = (rng.random((B, T)) < 0.5).astype(np.float64)  # 1.0 = up, 0.0 = down
    else:
        zs = rng.normal(size=(B, T))
    return params, xs, zs


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "B{}T{}D{}H{}".format(*s))
def test_gradients_match_finite_differences(head, shape):
    params, xs, zs = make_problem(head, *shape)
    loss, grads = reference_loss_and_grads(params, xs, zs, head)
    assert loss == pytest.approx(reference_loss(params, xs, zs, head), rel=1e-14)
    for k in PARAM_NAMES:
        numeric = numerical_gradient(lambda: reference_loss(params, xs, zs, head), params[k])
        assert_close(grads["d" + k], numeric, f"{head} d{k}", rtol=1e-6)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "B{}T{}D{}H{}".format(*s))
def test_gated_cell_gradients_match_finite_differences(head, shape):
    params, xs, zs = make_problem(head, *shape, gates=3)
    loss, grads = reference_loss_and_grads(params, xs, zs, head)
    assert loss == pytest.approx(reference_loss(params, xs, zs, head), rel=1e-14)
    for k in PARAM_NAMES:
        numeric = numerical_gradient(lambda: reference_loss(params, xs, zs, head), params[k])
        assert_close(grads["d" + k], numeric, f"gru {head} d{k}", rtol=1e-6)


def test_gated_cell_is_elman_when_its_gates_are_shut_open():
    """Reset gate 1 and update gate 0 (biases +-40): h_t = tanh(Wxh_n x_t + Whh_n h_{t-1} + bh_n),
    the Elman cell with the candidate block's weights."""
    params, xs, _ = make_problem("gaussian", B=2, T=5, D=2, H=3, gates=3)
    H = 3
    params["bh"][:H] = 40.0  # r = 1
    params["bh"][H : 2 * H] = -40.0  # u = 0
    elman = {k: params[k] for k in ("Why", "by")}
    elman |= {k: params[k][2 * H :] for k in ("Wxh", "Whh", "bh")}
    hs, ys = reference_forward(params, xs)
    hs_e, ys_e = reference_forward(elman, xs)
    np.testing.assert_allclose(hs, hs_e, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ys, ys_e, rtol=1e-12, atol=1e-15)


def test_gated_cell_keeps_its_state_when_the_update_gate_is_1():
    params, xs, _ = make_problem("vol", B=2, T=4, D=1, H=3, gates=3)
    params["bh"][3:6] = 40.0  # u = 1: h_t = h_{t-1} = h_0 = 0
    hs, ys = reference_forward(params, xs)
    assert np.abs(hs).max() < 1e-15
    np.testing.assert_allclose(ys, np.broadcast_to(params["by"], ys.shape), atol=1e-15)


def test_forward_matches_per_window_min_char_rnn_loop():
    params, xs, _ = make_problem("gaussian", B=3, T=6, D=2, H=5)
    Wxh, Whh, bh, Why, by = (params[k] for k in PARAM_NAMES)
    hs, ys = reference_forward(params, xs)
    assert hs.shape == (3, 7, 5) and ys.shape == (3, 6, 2)
    for b in range(3):
        h = np.zeros(5)  # h_0
        for t in range(6):
            h = np.tanh(Wxh @ xs[b, t] + Whh @ h + bh)
            np.testing.assert_allclose(hs[b, t + 1], h, rtol=1e-14, atol=1e-15)
            np.testing.assert_allclose(ys[b, t], Why @ h + by, rtol=1e-14, atol=1e-15)
    assert not hs[:, 0].any()


@pytest.mark.parametrize("head", HEADS)
def test_batch_is_mean_over_windows_of_summed_steps(head):
    params, xs, zs = make_problem(head, B=4, T=5, D=2, H=3)
    loss, grads = reference_loss_and_grads(params, xs, zs, head)
    per_window = [
        reference_loss_and_grads(params, xs[b : b + 1], zs[b : b + 1], head) for b in range(4)
    ]
    assert loss == pytest.approx(np.mean([lw for lw, _ in per_window]), rel=1e-12)
    for k in grads:
        mean = np.mean([gw[k] for _, gw in per_window], axis=0)
        np.testing.assert_allclose(grads[k], mean, rtol=1e-12, atol=1e-15)


def test_losses_match_hand_formulas_when_output_is_constant():
    # Why = 0 makes y_t = by for every step, so each loss is a short sum to write out by hand.
    zs = np.array([[0.5, -1.0], [2.0, 0.0]])  # (B=2, T=2)
    xs = np.ones((2, 2, 1))

    def params_with(by):
        p = init_params(1, 3, len(by), np.random.default_rng(0))
        p["Why"][:] = 0.0
        p["by"] = np.array(by)
        return p

    mse = 0.5 * ((0.3 - 0.5) ** 2 + (0.3 + 1.0) ** 2 + (0.3 - 2.0) ** 2 + (0.3 - 0.0) ** 2) / 2
    assert reference_loss(params_with([0.3]), xs, zs, "mse") == pytest.approx(mse, rel=1e-14)

    mu, s = 0.3, math.log(2.0)  # sigma = 2
    gauss = sum(0.5 * LOG_2PI + s + 0.5 * (z - mu) ** 2 / 4.0 for z in zs.ravel()) / 2
    assert reference_loss(params_with([mu, s]), xs, zs, "gaussian") == pytest.approx(gauss)

    up = (zs > 0).astype(np.float64)  # [[1, 0], [1, 0]]
    p_up = math.exp(1.0) / (math.exp(0.0) + math.exp(1.0))  # logits (down, up) = (0, 1)
    direction = -(2 * math.log(p_up) + 2 * math.log(1.0 - p_up)) / 2
    got = reference_loss(params_with([0.0, 1.0]), xs, up, "direction")
    assert got == pytest.approx(direction, rel=1e-14)


def test_direction_head_is_stable_for_large_logits():
    params, xs, zs = make_problem("direction", B=2, T=3, D=1, H=2)
    params["by"] = np.array([800.0, -800.0])  # exp(800) overflows without the max shift
    loss, grads = reference_loss_and_grads(params, xs, zs, "direction")
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())


def test_flatten_round_trips():
    params = init_params(2, 3, 2, np.random.default_rng(0))
    theta = flatten_params(params)
    assert theta.shape == (3 * 2 + 3 * 3 + 3 + 2 * 3 + 2,)
    back = unflatten_params(theta, D=2, H=3, O=2)
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(back[k], params[k])


# --- Adam --------------------------------------------------------------------------------------

LR, BETA1, BETA2, EPS = 0.01, 0.9, 0.999, 1e-8


def tiny_adam_state():
    """D = H = O = 1: five scalars. Gradient norm = sqrt(3^2 + 4^2 + 0 + 0 + 0) = 5."""
    params = {k: np.array([[1.0]]) if k[0] == "W" else np.array([1.0]) for k in PARAM_NAMES}
    grads = {"d" + k: np.zeros_like(p) for k, p in params.items()}
    grads["dWxh"][:] = 3.0
    grads["dWhh"][:] = -4.0
    m = {k: np.full_like(p, 0.5) for k, p in params.items()}  # as if after earlier steps
    v = {k: np.full_like(p, 0.25) for k, p in params.items()}
    return params, grads, m, v


def adam_by_hand(p, g, m, v, t):
    """One scalar Adam step written out, the way the formulas read on paper."""
    m = BETA1 * m + (1 - BETA1) * g
    v = BETA2 * v + (1 - BETA2) * g * g
    mhat = m / (1 - BETA1**t)
    vhat = v / (1 - BETA2**t)
    return p - LR * mhat / (math.sqrt(vhat) + EPS), m, v


@pytest.mark.parametrize(("max_norm", "scale"), [(10.0, 1.0), (5.0, 1.0), (1.0, 0.2)])
def test_adam_step_with_and_without_clipping(max_norm, scale):
    # Norm 5: max_norm 10 and 5 leave the gradient alone; max_norm 1 scales it by 1/5.
    params, grads, m, v = tiny_adam_state()
    grads_before = {k: g.copy() for k, g in grads.items()}
    t = 3
    reference_adam(params, grads, m, v, t, LR, BETA1, BETA2, EPS, max_norm)
    for k in PARAM_NAMES:
        g = float(grads_before["d" + k].ravel()[0]) * scale
        want_p, want_m, want_v = adam_by_hand(1.0, g, 0.5, 0.25, t)
        assert float(params[k].ravel()[0]) == pytest.approx(want_p, rel=1e-14), k
        assert float(m[k].ravel()[0]) == pytest.approx(want_m, rel=1e-14), k
        assert float(v[k].ravel()[0]) == pytest.approx(want_v, rel=1e-14), k
        np.testing.assert_array_equal(grads["d" + k], grads_before["d" + k])  # not clipped in place


def test_adam_first_step_literal_numbers():
    # t = 1 from m = v = 0: mhat = g and vhat = g^2, so each weight moves by lr * g / (|g| + eps).
    params, grads, m, v = tiny_adam_state()
    m = {k: np.zeros_like(x) for k, x in m.items()}
    v = {k: np.zeros_like(x) for k, x in v.items()}
    reference_adam(params, grads, m, v, 1, LR, BETA1, BETA2, EPS, max_norm=1.0)
    # clipped gradient: (0.6, -0.8, 0, 0, 0)
    assert params["Wxh"][0, 0] == pytest.approx(1.0 - 0.01 * 0.6 / (0.6 + 1e-8), rel=1e-15)
    assert params["Whh"][0, 0] == pytest.approx(1.0 + 0.01 * 0.8 / (0.8 + 1e-8), rel=1e-15)
    assert params["bh"][0] == 1.0 and params["Why"][0, 0] == 1.0 and params["by"][0] == 1.0
    assert m["Wxh"][0, 0] == pytest.approx(0.06) and v["Whh"][0, 0] == pytest.approx(0.00064)
