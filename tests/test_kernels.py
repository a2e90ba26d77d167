"""The Numba kernels against two oracles: the plain-NumPy reference and central differences."""

import math

import numpy as np
import pytest
from gradcheck import assert_close, numerical_gradient
from reference import (
    PARAM_NAMES,
    flatten_params,
    init_params,
    reference_adam,
    reference_forward,
    reference_loss_and_grads,
    reference_step,
    unflatten_params,
)

from forecast.model.heads import HEADS
from forecast.model.kernels.adam import adam_step
from forecast.model.kernels.rnn import (
    CHUNK,
    _sample_returns,
    batch_loss,
    cell,
    distributions,
    from_params,
    gru_backward,
    gru_forward,
    head_loss,
    last_outputs,
    n_params,
    param_shapes,
    rnn_backward,
    rnn_forward,
    sample_returns,
    tanh,
    time_major,
    to_params,
    unpack,
)
from forecast.model.kernels.rnn import (
    PARAM_NAMES as LAYOUT,
)
from forecast.model.train import loss_and_grad, mean_loss, set_num_threads


def ids(head):
    """(kernel id, O) of a head by name."""
    return HEADS[head].kernel_id, HEADS[head].O


def make_batch(head, B, T, D, H, seed=0, gates=1):
    rng = np.random.default_rng(seed)
    O = HEADS[head].O
    params = init_params(D, H, O, rng, gates)
    xs = rng.normal(size=(B, T, D))
    zs = rng.normal(size=(B, T))
    if head == "direction":
        zs = (zs > 0).astype(np.float64)
    return params, xs, zs


SHAPES = [(1, 5, 1, 3), (3, 7, 2, 4), (2 * CHUNK + 3, 4, 2, 3)]  # (B, T, D, H); last splits


@pytest.mark.parametrize("B,T,D,H", SHAPES)
def test_forward_matches_reference(B, T, D, H):
    params, xs, _ = make_batch("gaussian", B, T, D, H)
    hs, ys = rnn_forward(
        *(params[k] for k in PARAM_NAMES), np.ascontiguousarray(xs.transpose(1, 0, 2))
    )
    hs_ref, ys_ref = reference_forward(params, xs)
    np.testing.assert_allclose(hs.transpose(1, 0, 2), hs_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ys.transpose(1, 0, 2), ys_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize("B,T,D,H", SHAPES)
def test_loss_and_grad_match_reference(head, B, T, D, H):
    params, xs, zs = make_batch(head, B, T, D, H)
    head_id, O = ids(head)
    theta = flatten_params(params)
    grad = np.zeros_like(theta)
    loss = loss_and_grad(theta, D, H, O, head_id, xs, zs, grad)
    loss_ref, grads_ref = reference_loss_and_grads(params, xs, zs, head)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    assert batch_loss(theta, D, H, O, head_id, xs, zs) == pytest.approx(loss_ref, rel=1e-12)
    got = unflatten_params(grad, D, H, O)
    for k in PARAM_NAMES:
        np.testing.assert_allclose(got[k], grads_ref["d" + k], rtol=1e-10, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_bptt_matches_finite_differences(head):
    """Every parameter, every head: relative error <= 1e-6 (rule in gradcheck.assert_close)."""
    B, T, D, H = 3, 6, 2, 4
    params, xs, zs = make_batch(head, B, T, D, H, seed=1)
    head_id, O = ids(head)
    theta = flatten_params(params)
    grad = np.zeros_like(theta)
    loss_and_grad(theta, D, H, O, head_id, xs, zs, grad)
    numeric = numerical_gradient(lambda: batch_loss(theta, D, H, O, head_id, xs, zs), theta)
    analytic, numeric = unflatten_params(grad, D, H, O), unflatten_params(numeric, D, H, O)
    for k in PARAM_NAMES:
        assert_close(analytic[k], numeric[k], f"{head} d{k}", rtol=1e-6)


@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize("B,T,D,H", SHAPES)
def test_gated_cell_loss_and_grad_match_reference(head, B, T, D, H):
    """--cell gru: the same entry points, theta three blocks longer, against the reference."""
    params, xs, zs = make_batch(head, B, T, D, H, gates=3)
    head_id, O = ids(head)
    theta = flatten_params(params)
    assert theta.size == n_params(D, H, O, gates=3)
    grad = np.zeros_like(theta)
    loss = loss_and_grad(theta, D, H, O, head_id, xs, zs, grad)
    loss_ref, grads_ref = reference_loss_and_grads(params, xs, zs, head)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    assert batch_loss(theta, D, H, O, head_id, xs, zs) == pytest.approx(loss_ref, rel=1e-12)
    got = unflatten_params(grad, D, H, O, gates=3)
    for k in PARAM_NAMES:
        np.testing.assert_allclose(got[k], grads_ref["d" + k], rtol=1e-10, atol=1e-14, err_msg=k)
    hT, yT = last_outputs(theta, D, H, O, xs)
    hs_ref, ys_ref = reference_forward(params, xs)
    np.testing.assert_allclose(hT, hs_ref[:, -1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(yT, ys_ref[:, -1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_gated_cell_bptt_matches_finite_differences(head):
    """The gated cell's kernel gradients, every parameter and head, against central differences."""
    B, T, D, H = 3, 6, 2, 4
    params, xs, zs = make_batch(head, B, T, D, H, seed=1, gates=3)
    head_id, O = ids(head)
    theta = flatten_params(params)
    grad = np.zeros_like(theta)
    loss_and_grad(theta, D, H, O, head_id, xs, zs, grad)
    numeric = numerical_gradient(lambda: batch_loss(theta, D, H, O, head_id, xs, zs), theta)
    analytic = unflatten_params(grad, D, H, O, gates=3)
    numeric = unflatten_params(numeric, D, H, O, gates=3)
    for k in PARAM_NAMES:
        assert_close(analytic[k], numeric[k], f"gru {head} d{k}", rtol=1e-6)


def test_gated_kernels_agree_with_py_func(rng):
    T, B, D, H, O = 5, 3, 2, 4, 2
    params = init_params(D, H, O, rng, gates=3)
    W = [params[k] for k in PARAM_NAMES]
    xs = rng.normal(size=(T, B, D))
    dys = rng.normal(size=(T, B, O))
    out, out_py = gru_forward(*W, xs), gru_forward.py_func(*W, xs)
    for a, b in zip(out, out_py, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    hs, _, gs = out
    grads = gru_backward(W[0], W[1], W[3], xs, hs, gs, dys)
    grads_py = gru_backward.py_func(W[0], W[1], W[3], xs, hs, gs, dys)
    for g, g_py in zip(grads, grads_py, strict=True):
        np.testing.assert_allclose(g, g_py, rtol=1e-12, atol=1e-15)


def test_jitted_kernels_agree_with_py_func(rng):
    T, B, D, H, O = 5, 3, 2, 4, 2
    params = init_params(D, H, O, rng)
    W = [params[k] for k in PARAM_NAMES]
    xs = rng.normal(size=(T, B, D))
    zs = rng.normal(size=(T, B))
    hs, ys = rnn_forward(*W, xs)
    hs_py, ys_py = rnn_forward.py_func(*W, xs)
    np.testing.assert_allclose(hs, hs_py, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ys, ys_py, rtol=1e-13, atol=1e-15)
    E, dys = head_loss(HEADS["gaussian"].kernel_id, ys, zs)
    E_py, dys_py = head_loss.py_func(HEADS["gaussian"].kernel_id, ys, zs)
    assert E == pytest.approx(E_py, rel=1e-13)
    np.testing.assert_allclose(dys, dys_py, rtol=1e-13)
    grads = rnn_backward(W[0], W[1], W[3], xs, hs, dys)
    grads_py = rnn_backward.py_func(W[0], W[1], W[3], xs, hs, dys)
    for g, g_py in zip(grads, grads_py, strict=True):
        np.testing.assert_allclose(g, g_py, rtol=1e-12, atol=1e-15)


def test_adam_matches_reference(rng):
    D, H, O = 2, 3, 2
    params = init_params(D, H, O, rng)
    theta = flatten_params(params)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    pm = {k: np.zeros_like(params[k]) for k in PARAM_NAMES}
    pv = {k: np.zeros_like(params[k]) for k in PARAM_NAMES}
    for step, max_norm in [(1, 100.0), (2, 0.1), (3, 0.1)]:  # clipping off, then on
        grad = rng.normal(size=theta.shape)
        norm = adam_step(theta, grad, m, v, step, 1e-2, 0.9, 0.999, 1e-8, max_norm)
        g = unflatten_params(grad, D, H, O)
        reference_adam(
            params,
            {"d" + k: g[k] for k in PARAM_NAMES},
            pm,
            pv,
            step,
            1e-2,
            0.9,
            0.999,
            1e-8,
            max_norm,
        )
        assert norm == pytest.approx(np.linalg.norm(grad), rel=1e-12)
        np.testing.assert_allclose(theta, flatten_params(params), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(m, flatten_params(pm), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(v, flatten_params(pv), rtol=1e-12, atol=1e-15)


def test_gradient_identical_bits_for_any_thread_count():
    params, xs, zs = make_batch("gaussian", 5 * CHUNK + 5, 8, 1, 6, seed=3)  # 6 chunks, 1 partial
    theta = flatten_params(params)
    results = []
    try:
        for n in (1, 2, 3, 8):
            set_num_threads(n)
            grad = np.zeros_like(theta)
            loss = loss_and_grad(theta, 1, 6, 2, HEADS["gaussian"].kernel_id, xs, zs, grad)
            results.append((loss, grad.tobytes()))
    finally:
        set_num_threads(2)
    assert all(r == results[0] for r in results)


def test_rows_of_a_dataset_are_that_batch_and_validation_loss_is_the_same_on_any_threads():
    """The threads gather a batch's windows themselves (rows), and score validation windows
    in chunks: the same numbers as the gathered batch, bit for bit for any thread count."""
    params, xs, zs = make_batch("vol", 4 * CHUNK + 3, 7, 2, 5, seed=4)
    theta, head = flatten_params(params), HEADS["vol"].kernel_id
    rows = np.array([0, 2, 3, 5, 8, 13, 21, 34, 55, 66])
    a, b = np.zeros_like(theta), np.zeros_like(theta)
    loss_rows = loss_and_grad(theta, 2, 5, 1, head, xs, zs, a, rows)
    loss_copy = loss_and_grad(theta, 2, 5, 1, head, xs[rows], zs[rows], b)
    assert loss_rows == loss_copy and a.tobytes() == b.tobytes()
    seen = []
    try:
        for n in (1, 2, 3, 8):
            set_num_threads(n)
            seen.append(mean_loss(theta, 2, 5, 1, head, xs, zs))
    finally:
        set_num_threads(2)
    assert len(set(seen)) == 1
    assert seen[0] == pytest.approx(batch_loss(theta, 2, 5, 1, head, xs, zs), rel=1e-13)


def test_last_outputs_are_the_final_step(rng):
    D, H, O = 2, 5, 2
    params = init_params(D, H, O, rng)
    xs = rng.normal(size=(4, 9, D))
    hT, yT = last_outputs(flatten_params(params), D, H, O, xs)
    hs_ref, ys_ref = reference_forward(params, xs)
    np.testing.assert_allclose(hT, hs_ref[:, -1], rtol=1e-12)
    np.testing.assert_allclose(yT, ys_ref[:, -1], rtol=1e-12)


def test_a_theta_that_fits_no_cell_is_refused():
    D, H, O = 2, 3, 1
    assert cell(np.zeros(n_params(D, H, O)), D, H, O) is None
    assert cell(np.zeros(n_params(D, H, O, gates=3)), D, H, O) == 3
    for n in (n_params(D, H, O, gates=2), n_params(D, H, O) + 1):
        with pytest.raises(ValueError, match="no cell"):
            batch_loss(np.zeros(n), D, H, O, 0, np.zeros((1, 2, D)), np.zeros((1, 2)))
        with pytest.raises(ValueError, match="no cell"):
            to_params(np.zeros(n), D, H, O)


def test_unpack_views_share_memory():
    D, H, O = 2, 3, 2
    theta = np.arange(float(H * D + H * H + H + O * H + O))
    Wxh, Whh, bh, Why, by = unpack(theta, D, H, O)
    assert Wxh.shape == (H, D) and Whh.shape == (H, H) and Why.shape == (O, H)
    by[:] = -1.0
    assert theta[-1] == -1.0


def test_tanh_is_within_two_ulp_of_numpy():
    """The vectorisable tanh: checked across both branches, the switch point, saturation, tiny x."""
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.normal(0, 3, 20_000),
            rng.normal(0, 1e-4, 2_000),
            np.linspace(-25, 25, 20_001),
            [0.0, -0.0, 0.625, -0.625, np.nextafter(0.625, 0), 1e-300, 19.1, 40.0, -40.0],
        ]
    )
    got = np.array([tanh(v) for v in x])
    ref = np.tanh(x)
    ulp = np.abs(got - ref) / np.spacing(np.abs(ref))
    worst = int(np.argmax(ulp))
    assert ulp[worst] <= 2.0, f"x={x[worst]!r}: {got[worst]!r} vs np.tanh {ref[worst]!r}"
    assert np.all(np.signbit(got) == np.signbit(ref))


def reference_sample(params, h0, y0, noise, mags, head, r_mean, r_std, resid_std):
    """Ancestral sampling written plainly: one path, one day at a time."""
    P, N = noise.shape
    rs, ps = np.empty((P, N)), np.empty((P, N))
    for p in range(P):
        h, y = h0[p].copy(), y0[p].copy()
        for n in range(N):
            if head == "direction":
                pu = np.exp(y[1]) / (np.exp(y[0]) + np.exp(y[1]))
                r = mags[p, n] if noise[p, n] < pu else -mags[p, n]
            else:
                sigma = np.exp(y[1]) if head == "gaussian" else resid_std
                r = r_mean + r_std * (y[0] + sigma * noise[p, n])
                pu = 0.5 * (1 + math.erf((y[0] + r_mean / r_std) / (sigma * np.sqrt(2))))
            rs[p, n], ps[p, n] = r, pu
            x = np.zeros(params["Wxh"].shape[1])
            x[0] = (r - r_mean) / r_std  # other features at their (scaled) mean, 0
            h = reference_step(params, x, h)  # h_t
            y = params["Why"] @ h + params["by"]  # y_t
    return rs, ps


@pytest.mark.parametrize("gates", [1, 3], ids=["elman", "gru"])
@pytest.mark.parametrize("head", [h for h in sorted(HEADS) if h != "vol"])  # vol: sample_vol
def test_sampling_matches_a_plain_loop(head, gates, rng):
    D, H = 2, 5
    head_id, O = ids(head)
    params = init_params(D, H, O, rng, gates)
    P, N = 7, 4
    h0 = rng.normal(0, 0.5, (P, H))
    y0 = rng.normal(0, 0.5, (P, O))
    noise = rng.random((P, N)) if head == "direction" else rng.normal(size=(P, N))
    mags = rng.random((P, N)) * 0.02
    args = (0.0005, 0.015, 0.8)
    rs, ps = sample_returns(flatten_params(params), D, H, O, head_id, h0, y0, noise, mags, *args)
    rs_ref, ps_ref = reference_sample(params, h0, y0, noise, mags, head, *args)
    np.testing.assert_allclose(rs, rs_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ps, ps_ref, rtol=1e-12, atol=1e-15)
    theta = flatten_params(params)
    gated = cell(theta, D, H, O)
    assert gated == (None if gates == 1 else 3)
    rs_py, ps_py = _sample_returns.py_func(
        theta, D, H, O, head_id, h0, y0, noise, mags, *args, gated
    )
    np.testing.assert_allclose(rs, rs_py, rtol=1e-13, atol=1e-16)


def test_adam_and_layout_kernels_agree_with_py_func(rng):
    theta, grad = rng.normal(size=50), rng.normal(size=50)
    a = [theta.copy(), grad, np.zeros(50), np.zeros(50)]
    b = [theta.copy(), grad, np.zeros(50), np.zeros(50)]
    adam_step(*a, 1, 1e-2, 0.9, 0.999, 1e-8, 0.5)
    adam_step.py_func(*b, 1, 1e-2, 0.9, 0.999, 1e-8, 0.5)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-14)
    xs, zs = rng.normal(size=(5, 4, 3)), rng.normal(size=(5, 4))
    rows = np.array([3, 1, 4])
    xt, zt = time_major(xs, zs, rows)
    np.testing.assert_array_equal(xt, xs[rows].transpose(1, 0, 2))
    np.testing.assert_array_equal(zt, zs[rows].T)
    assert xt.flags.c_contiguous and zt.flags.c_contiguous


@pytest.mark.parametrize("gates", [1, 3], ids=["elman", "gru"])
def test_layout_round_trips_and_matches_the_reference_order(gates, rng):
    D, H, O = 3, 4, 2
    theta = rng.normal(size=n_params(D, H, O, gates))
    params = to_params(theta, D, H, O)  # the cell is read from theta's length
    assert LAYOUT == tuple(PARAM_NAMES)  # the reference oracle packs in the same order
    assert {k: a.shape for k, a in params.items()} == param_shapes(D, H, O, gates)
    back, D2, H2, O2 = from_params(params)
    assert (D2, H2, O2) == (D, H, O)
    np.testing.assert_array_equal(back, theta)
    np.testing.assert_array_equal(back, flatten_params(params))


@pytest.mark.parametrize("head", sorted(HEADS))
def test_step_distribution_matches_the_plain_formulas(head, rng):
    """The one P(up)/sigma formula (used by sampling and by heads.distribution) vs written-out math."""
    head_id, O = ids(head)
    ys = rng.normal(0, 0.7, (9, O))
    resid_std, z_up = 0.8, -0.05
    mu, sigma, p_up = distributions(head_id, ys, resid_std, z_up)
    if head == "direction":
        np.testing.assert_allclose(p_up, np.exp(ys[:, 1]) / np.exp(ys).sum(axis=1), rtol=1e-13)
        assert np.isnan(mu).all() and np.isnan(sigma).all()
        return
    if head == "vol":  # mean 0, sigma = e^s relative to the EWMA sd
        want_mu, want_sigma = np.zeros(9), np.exp(ys[:, 0])
    else:
        want_mu = ys[:, 0]
        want_sigma = np.exp(ys[:, 1]) if head == "gaussian" else np.full(9, resid_std)
    np.testing.assert_allclose(mu, want_mu, rtol=0)
    np.testing.assert_allclose(sigma, want_sigma, rtol=1e-15)
    want_p = [
        0.5 * (1 + math.erf((m - z_up) / (s * math.sqrt(2))))
        for m, s in zip(mu, sigma, strict=True)
    ]
    np.testing.assert_allclose(p_up, want_p, rtol=1e-13)


def test_the_model_file_uses_the_kernels_layout():
    """checkpoint.PARAM_SHAPES (disk's) must say what kernels.rnn.param_shapes says, in order."""
    from forecast.model.checkpoint import PARAM_SHAPES

    for D, H, O in [(1, 32, 2), (3, 4, 1)]:
        assert list(PARAM_SHAPES(D, H, O).items()) == list(param_shapes(D, H, O).items())


@pytest.mark.parametrize("head", sorted(HEADS))
def test_burn_in_steps_give_no_loss_and_match_reference(head):
    """NaN targets on the first steps (the burn-in): the kernel skips them like the reference,
    the finite-difference gradient agrees, and changing a burn-in target changes nothing."""
    B, T, D, H = 3, 7, 2, 4
    params, xs, zs = make_batch(head, B, T, D, H, seed=2)
    zs[:, :3] = np.nan
    head_id, O = ids(head)
    theta = flatten_params(params)
    grad = np.zeros_like(theta)
    loss = loss_and_grad(theta, D, H, O, head_id, xs, zs, grad)
    loss_ref, grads_ref = reference_loss_and_grads(params, xs, zs, head)
    assert np.isfinite(loss) and loss == pytest.approx(loss_ref, rel=1e-12)
    got = unflatten_params(grad, D, H, O)
    for k in PARAM_NAMES:
        np.testing.assert_allclose(got[k], grads_ref["d" + k], rtol=1e-10, atol=1e-14, err_msg=k)
    numeric = numerical_gradient(lambda: batch_loss(theta, D, H, O, head_id, xs, zs), theta)
    analytic, numeric = unflatten_params(grad, D, H, O), unflatten_params(numeric, D, H, O)
    for k in PARAM_NAMES:
        assert_close(analytic[k], numeric[k], f"{head} burn-in d{k}", rtol=1e-6)
    full = zs.copy()
    full[:, :3] = 0.5  # a target on a burn-in step would change the loss
    assert batch_loss(theta, D, H, O, head_id, xs, full) != loss


@pytest.mark.parametrize("gates", [1, 3], ids=["elman", "gru"])
def test_vol_sampling_matches_a_plain_loop(gates, rng):
    """sample_vol against a per-path NumPy loop of the same recursion (every input updated)."""
    from forecast.model.kernels.rnn import LAM, sample_vol

    D, H, P, N = 6, 4, 3, 4
    params = init_params(D, H, 1, rng, gates)
    theta = flatten_params(params)
    codes = np.arange(6, dtype=np.int64)  # every input: RET, ABS, EWMA, RANGE, PARK, SEASON
    h0 = rng.normal(0, 0.5, (P, H))
    s0 = rng.normal(0, 0.2, P)
    v0 = rng.uniform(0.5, 2.0, P)
    vp0 = rng.uniform(0.5, 2.0, P)
    noise = rng.standard_normal((P, N))
    kp = 0.9
    season = rng.uniform(0.0, 3.0, (P, N))
    zs, var = sample_vol(theta, D, H, codes, h0, s0, v0, vp0, noise, kp, season)
    W = {k: params[k] for k in PARAM_NAMES}
    for p in range(P):
        h, s, v, vp = h0[p].copy(), s0[p], v0[p], vp0[p]
        for n in range(N):
            sig = math.exp(s)
            z = sig * noise[p, n]
            assert zs[p, n] == pytest.approx(z, rel=1e-12)
            assert var[p, n] == pytest.approx(sig * sig, rel=1e-12)
            v = LAM * v + (1 - LAM) * z * z
            vp = LAM * vp + (1 - LAM) * kp * sig * sig
            x = np.array(
                [
                    np.clip(z, -8, 8),
                    min(abs(z), 8) - 0.8,
                    0.5 * np.log(v),
                    np.log((sig + 0.1) / 1.1),
                    0.5 * np.log(vp + 1e-4),
                    season[p, n],  # given: it reads days before the origin
                ]
            )
            h = reference_step(W, x, h)
            s = 0.5 * np.log(v) + (W["Why"] @ h + W["by"])[0]
