"""Elman RNN forward pass and backpropagation through time, with output heads, compiled by Numba.

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)       hidden state, h_0 = 0
    y_t = Why h_t + by                           head outputs
    E   = sum_t loss(y_t, z_t)                   a window's loss: summed over its time steps
    dW  = sum_t dE_t/dW                          shared weights: gradients summed over all steps

A gated cell (--cell gru, Cho et al. 2014, PyTorch's convention) replaces only the first line;
its update gate is u here, since z is the target:

    r_t = sigmoid(Wxh_r x_t + Whh_r h_{t-1} + bh_r)          reset gate
    u_t = sigmoid(Wxh_u x_t + Whh_u h_{t-1} + bh_u)          update gate
    n_t = tanh(Wxh_n x_t + r_t * (Whh_n h_{t-1}) + bh_n)     candidate state
    h_t = (1 - u_t) * n_t + u_t * h_{t-1}                    u_t -> 1 keeps the old state

Its parameters are the Elman ones with G = 3 blocks of rows stacked (r, u, n): Wxh (3H, D),
Whh (3H, H), bh (3H,). The kernels read the cell from those shapes (gates), so every entry
point below takes either cell's theta unchanged.

The same equations written plainly, one window and one step at a time, are in
tests/reference.py: the slow oracle every kernel here is tested against.

Heads (O outputs per step, z_t the target; forecast/model/heads.py says what each one means):
    mse        O=1  loss = 0.5 (y - z)^2
    gaussian   O=2  y = (mu, s), s = log sigma;  loss = 0.5 log(2 pi) + s + 0.5 (z - mu)^2 e^(-2s)
    direction  O=2  logits; p = softmax(y);  loss = -log p[c],  c = z in {0, 1} (1 = up)
    vol        O=1  y = s, the log-sigma correction; mu = 0;  loss = 0.5 log(2 pi) + s + 0.5 z^2 e^(-2s)
               (z is the return divided by the EWMA sd, so sigma = EWMA sd * e^s: see sample_vol)

A NaN target means "no loss at this step": burn-in steps at the start of a window, which have
seen too little history, contribute neither loss nor gradient (their outputs still feed h).

The head arrives as a small integer (HEAD_IDS); only the kernels and forecast/model/heads.py see it.
A batch's loss is the mean over its B windows of the window losses.

Shapes: B windows, T time steps, D input features, H hidden units, O outputs, P paths, N days
sampled. Arrays are time-major inside the kernels, (T, B, ...), so each step's slice is
contiguous for BLAS. All parameters travel as one flat float64 vector `theta` in the order of
PARAM_NAMES (layout helpers at the end of the file), so one Adam kernel updates them all.

Numba switches: cache=True because every CLI call is a fresh process; error_model="numpy"
so loops with divisions vectorise; no fastmath, so float64 gradient checks stay tight.
`chunks_grad` releases the GIL (nogil) so forecast/model/train.py can run chunks of a batch on
plain threads; callers pin BLAS to one thread (`single_threaded_blas`): those threads are the
parallel layer, and BLAS threads inside them oversubscribe the cores (30x slower, measured).
"""

import math

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  the BLAS Numba's np.dot calls; loaded now so callers can pin its threads
from numba import njit

MSE, GAUSSIAN, DIRECTION, VOL = 0, 1, 2, 3
HEAD_IDS = {"mse": MSE, "gaussian": GAUSSIAN, "direction": DIRECTION, "vol": VOL}  # --loss -> id
HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
CHUNK = 16  # windows per chunk: small enough that a chunk's saved states stay in cache

jit = njit(cache=True, error_model="numpy", nogil=True)  # nogil: ensemble members run on threads


# --- the cell: forward and backward side by side -----------------------------------------------


@jit
def rnn_forward(Wxh, Whh, bh, Why, by, xs):
    """Run the RNN over time-major inputs xs (T, B, D).

    Returns hs (T+1, B, H) with hs[0] = h_0 = 0 (saved for backward), and ys (T, B, O).
    """
    T, B, D = xs.shape
    H = Whh.shape[0]
    hs = np.zeros((T + 1, B, H))
    # input projection of every step at once: one matmul instead of T small ones
    xproj = np.dot(xs.reshape((T * B, D)), Wxh.T).reshape((T, B, H))
    WhhT = Whh.T  # F-contiguous view: BLAS reads it transposed, no copy
    a = np.empty((B, H))
    for t in range(T):
        np.dot(hs[t], WhhT, a)  # Whh h_{t-1}, for the whole batch
        for b in range(B):
            for j in range(H):
                hs[t + 1, b, j] = tanh(xproj[t, b, j] + a[b, j] + bh[j])  # h_t
    return hs, head_outputs(hs, Why, by)


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def head_outputs(hs, Why, by):
    """ys (T, B, O): y_t = Why h_t + by for the states hs (T+1, B, H) (hs[0] = h_0 has none)."""
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    O = Why.shape[0]
    ys = np.dot(hs[1:].reshape((T * B, H)), Why.T).reshape((T, B, O))
    for t in range(T):
        for b in range(B):
            for o in range(O):
                ys[t, b, o] += by[o]  # y_t
    return ys


@njit(cache=True, error_model="numpy", inline="always")
def sigmoid(x):
    """1 / (1 + e^-x), as 0.5 (1 + tanh(x/2)): the vectorisable tanh, no overflow for any x."""
    return 0.5 + 0.5 * tanh(0.5 * x)


@jit
def gru_forward(Wxh, Whh, bh, Why, by, xs):
    """rnn_forward for the gated cell (module docstring): xs (T, B, D) -> hs (T+1, B, H),
    ys (T, B, O) and gs (T, B, 4H), each step's r, u, n and Whh_n h_{t-1}, saved for backward."""
    T, B, D = xs.shape
    H = Whh.shape[1]
    hs = np.zeros((T + 1, B, H))
    gs = np.empty((T, B, 4 * H))
    xproj = np.dot(xs.reshape((T * B, D)), Wxh.T).reshape((T, B, 3 * H))  # (r, u, n) blocks
    WhhT = Whh.T
    a = np.empty((B, 3 * H))
    for t in range(T):
        np.dot(hs[t], WhhT, a)  # Whh h_{t-1}: the three blocks at once
        for b in range(B):
            for j in range(H):
                r = sigmoid(xproj[t, b, j] + a[b, j] + bh[j])
                u = sigmoid(xproj[t, b, H + j] + a[b, H + j] + bh[H + j])
                n = tanh(xproj[t, b, 2 * H + j] + r * a[b, 2 * H + j] + bh[2 * H + j])
                hs[t + 1, b, j] = (1.0 - u) * n + u * hs[t, b, j]  # h_t
                gs[t, b, j] = r
                gs[t, b, H + j] = u
                gs[t, b, 2 * H + j] = n
                gs[t, b, 3 * H + j] = a[b, 2 * H + j]
    return hs, head_outputs(hs, Why, by), gs


@jit
def rnn_backward(Wxh, Whh, Why, xs, hs, dys):
    """BPTT: gradients of sum_t E_t given dys = dE/dy_t (T, B, O) and the saved hs (T+1, B, H).

    Returns dWxh (H, D), dWhh (H, H), dbh (H,), dWhy (O, H), dby (O,), each summed over all
    steps and windows. Gradients of shared weights are taken as one matmul over all steps after
    the loop; only dh has to travel backwards step by step.
    """
    T, B, D = xs.shape
    H = Whh.shape[0]
    dWhy, dby, dhy = head_backward(Why, hs, dys)
    WhhTT = c_transpose(Whh).T
    dhraw = np.empty((T, B, H))
    dhnext = np.zeros((B, H))
    for t in range(T - 1, -1, -1):
        for b in range(B):
            for j in range(H):
                dh = dhy[t, b, j] + dhnext[b, j]  # backprop into h: from y_t and from h_{t+1}
                h = hs[t + 1, b, j]
                dhraw[t, b, j] = (1.0 - h * h) * dh  # backprop through tanh
        np.dot(dhraw[t], WhhTT, dhnext)  # Whh^T dhraw: into h_{t-1}
    dA = dhraw.reshape((T * B, H)).T
    dWhh = np.dot(dA, hs[:T].reshape((T * B, H)))  # sum_t dhraw_t h_{t-1}^T
    dWxh = np.dot(dA, xs.reshape((T * B, D)))  # sum_t dhraw_t x_t^T
    dbh = np.zeros(H)
    for t in range(T):
        for b in range(B):
            for j in range(H):
                dbh[j] += dhraw[t, b, j]  # sum_t dhraw_t
    return dWxh, dWhh, dbh, dWhy, dby


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def head_backward(Why, hs, dys):
    """The head's part of BPTT: dWhy (O, H), dby (O,) summed over steps, and dhy (T, B, H) =
    Why^T dy_t, the gradient into each h_t from its own output."""
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    O = Why.shape[0]
    dY = dys.reshape((T * B, O))
    Hs = hs[1:].reshape((T * B, H))
    dWhy = np.dot(dY.T, Hs)  # sum_t dy_t h_t^T
    dby = np.zeros(O)
    for i in range(T * B):  # sums as loops: .sum(axis=) alone took 1.3 s to compile
        for o in range(O):
            dby[o] += dY[i, o]  # sum_t dy_t
    # Why and Whh enter as the transposes of C copies of their transposes: every np.dot here
    # then has the operand layouts of rnn_forward's, and each layout pair is one more compile
    dhy = np.dot(dY, c_transpose(Why).T).reshape((T, B, H))  # Why^T dy_t: into h from the head
    return dWhy, dby, dhy


@jit
def gru_backward(Wxh, Whh, Why, xs, hs, gs, dys):
    """rnn_backward for the gated cell, from gru_forward's saved hs and gs (T, B, 4H).

    Per step, with dh the gradient into h_t (from y_t and from h_{t+1}):
        dn = dh (1 - u) (1 - n^2)      into n's pre-activation
        du = dh (h_{t-1} - n) u (1 - u)
        dr = dn (Whh_n h_{t-1}) r (1 - r)
        dh_{t-1} = dh u + Whh^T (dr, du, dn r)     (dn r: r multiplies Whh_n h_{t-1})
    dWxh and dbh sum (dr, du, dn) x_t^T and (dr, du, dn); dWhh sums (dr, du, dn r) h_{t-1}^T.
    """
    T, B, D = xs.shape
    H = Whh.shape[1]
    dWhy, dby, dhy = head_backward(Why, hs, dys)
    WhhTT = c_transpose(Whh).T
    dA = np.empty((T, B, 3 * H))  # pre-activation gradients: Wxh and bh read these
    dAh = np.empty((T, B, 3 * H))  # ... and Whh these (n's block times r)
    dhnext = np.zeros((B, H))
    keep = np.empty((B, H))
    for t in range(T - 1, -1, -1):
        for b in range(B):
            for j in range(H):
                dh = dhy[t, b, j] + dhnext[b, j]
                r, u = gs[t, b, j], gs[t, b, H + j]
                n, an = gs[t, b, 2 * H + j], gs[t, b, 3 * H + j]
                dn = dh * (1.0 - u) * (1.0 - n * n)
                du = dh * (hs[t, b, j] - n) * u * (1.0 - u)
                dr = dn * an * r * (1.0 - r)
                dA[t, b, j] = dr
                dA[t, b, H + j] = du
                dA[t, b, 2 * H + j] = dn
                dAh[t, b, j] = dr
                dAh[t, b, H + j] = du
                dAh[t, b, 2 * H + j] = dn * r
                keep[b, j] = dh * u  # through h_t = ... + u h_{t-1}
        np.dot(dAh[t], WhhTT, dhnext)  # Whh^T (dr, du, dn r): into h_{t-1}
        for b in range(B):
            for j in range(H):
                dhnext[b, j] += keep[b, j]
    dWhh = np.dot(dAh.reshape((T * B, 3 * H)).T, hs[:T].reshape((T * B, H)))
    dWxh = np.dot(dA.reshape((T * B, 3 * H)).T, xs.reshape((T * B, D)))
    dbh = np.zeros(3 * H)
    for t in range(T):
        for b in range(B):
            for k in range(3 * H):
                dbh[k] += dA[t, b, k]
    return dWxh, dWhh, dbh, dWhy, dby


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def cell_forward(Wxh, Whh, bh, Why, by, xs, gated):
    """The cell's forward pass: hs, ys and the gates gs (empty for Elman). gated is None for
    the Elman cell (see `cell`: Numba then compiles only this branch)."""
    if gated is None:
        hs, ys = rnn_forward(Wxh, Whh, bh, Why, by, xs)
        return hs, ys, np.empty((0, 0, 0))
    return gru_forward(Wxh, Whh, bh, Why, by, xs)


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def cell_backward(Wxh, Whh, Why, xs, hs, gs, dys, gated):
    """The cell's BPTT, chosen like cell_forward."""
    if gated is None:
        return rnn_backward(Wxh, Whh, Why, xs, hs, dys)
    return gru_backward(Wxh, Whh, Why, xs, hs, gs, dys)


# --- heads: loss and its gradient at every step ----------------------------------------------


@jit
def head_loss(head, ys, zs):
    """Summed loss over all steps and windows, and dys = dE/dy_t (T, B, O), for targets zs (T, B)."""
    T, B, O = ys.shape
    dys = np.empty_like(ys)
    E = 0.0
    for t in range(T):
        for b in range(B):
            z = zs[t, b]
            if z != z:  # NaN: a burn-in step, no loss
                for o in range(O):
                    dys[t, b, o] = 0.0
            elif head == MSE:
                e = ys[t, b, 0] - z
                E += 0.5 * e * e
                dys[t, b, 0] = e
            elif head == GAUSSIAN:
                mu = ys[t, b, 0]
                s = ys[t, b, 1]  # log sigma
                inv_var = np.exp(-2.0 * s)
                e = z - mu
                E += HALF_LOG_2PI + s + 0.5 * e * e * inv_var
                dys[t, b, 0] = -e * inv_var  # dE/dmu
                dys[t, b, 1] = 1.0 - e * e * inv_var  # dE/ds
            elif head == VOL:
                s = ys[t, b, 0]  # log sigma correction; mu = 0
                u = z * z * np.exp(-2.0 * s)
                E += HALF_LOG_2PI + s + 0.5 * u
                dys[t, b, 0] = 1.0 - u  # dE/ds
            else:
                y0 = ys[t, b, 0]
                y1 = ys[t, b, 1]
                m = max(y0, y1)  # stable log-sum-exp
                lse = m + np.log(np.exp(y0 - m) + np.exp(y1 - m))
                p1 = np.exp(y1 - lse)
                c = 1.0 if z > 0.5 else 0.0
                E += lse - (y1 if c == 1.0 else y0)  # -log p[c]
                dys[t, b, 0] = (1.0 - p1) - (1.0 - c)  # p - onehot(c)
                dys[t, b, 1] = p1 - c
    return E, dys


@njit(cache=True, error_model="numpy", inline="always")
def step_distribution(head, y0, y1, resid_std, z_up):
    """One step's predictive distribution from its head outputs y = (y0, y1), in scaled units.

    Returns (mu, sigma, p_up): the mean and std of the next scaled return (gaussian and mse;
    mse has no spread of its own and uses resid_std), and P(return > 0), i.e. P(z > z_up).
    For the direction head mu and sigma are NaN and p_up = softmax(y)[up].
    """
    if head == DIRECTION:
        return np.nan, np.nan, 1.0 / (1.0 + np.exp(y0 - y1))  # softmax over {down, up}
    if head == VOL:  # mu = 0; sigma relative to the EWMA sd (the caller multiplies it in)
        return 0.0, np.exp(y0), 0.5 * (1.0 + math.erf(-z_up / (np.exp(y0) * np.sqrt(2.0))))
    sigma = np.exp(y1) if head == GAUSSIAN else resid_std
    return y0, sigma, 0.5 * (1.0 + math.erf((y0 - z_up) / (sigma * np.sqrt(2.0))))


@jit
def distributions(head, ys, resid_std, z_up):
    """step_distribution for every row of ys (B, O): mu, sigma, p_up, each (B,)."""
    B = ys.shape[0]
    mu, sigma, p_up = np.empty(B), np.empty(B), np.empty(B)
    for b in range(B):
        y1 = ys[b, 1] if ys.shape[1] > 1 else 0.0
        mu[b], sigma[b], p_up[b] = step_distribution(head, ys[b, 0], y1, resid_std, z_up)
    return mu, sigma, p_up


# --- training and evaluation entry points ------------------------------------------------------
#
# Each entry point below is a plain function that reads the cell from theta's length (`cell`)
# and calls its jitted body (the same name with a leading underscore) with gated = None for
# the Elman cell or 3 for the gated one. An `is None` test on an argument is decided when
# Numba compiles, so the Elman cell's kernels hold no gated code: a branch on the shapes
# instead compiled both cells into every kernel and doubled the first run's compile time.


def cell(theta: np.ndarray, D: int, H: int, O: int) -> int | None:
    """The kernels' gated argument for theta (n_params,): None for the Elman cell, G = 3 for
    the gated one; a length that fits neither is a ValueError (a wrong D, H or O)."""
    n = theta.shape[-1]
    for G in GATES.values():
        if n == n_params(D, H, O, G):
            return None if G == 1 else G
    raise ValueError(f"theta has {n} values: no cell has that many for D={D}, H={H}, O={O}")


@jit
def _chunk_grad(theta, D, H, O, head, xs, zs, grad, scale, gated):
    """Add scale * gradient of one chunk's summed loss into grad; return scale * its loss."""
    Wxh, Whh, bh, Why, by = unpack(theta, D, H, O)
    hs, ys, gs = cell_forward(Wxh, Whh, bh, Why, by, xs, gated)
    E, dys = head_loss(head, ys, zs)
    dWxh, dWhh, dbh, dWhy, dby = cell_backward(Wxh, Whh, Why, xs, hs, gs, dys, gated)
    k = 0  # grad is laid out like theta: the five gradients one after another
    for g in (dWxh.ravel(), dWhh.ravel(), dbh, dWhy.ravel(), dby):
        for i in range(g.shape[0]):
            grad[k] += scale * g[i]
            k += 1
    return scale * E


def chunks_grad(theta, D, H, O, head, xs, zs, rows, first, last, parts, losses):
    """Chunks first..last-1 of the batch rows (b,), window numbers in xs (N, T, D) and zs
    (N, T), cut into CHUNK windows: parts[c] = chunk c's share of the mean-loss gradient,
    losses[c] its loss. forecast/model/train.py runs runs of chunks on threads; each gathers its
    own windows, so no part of a step but the sum of the parts runs on one thread."""
    gated = cell(theta, D, H, O)
    _chunks_grad(theta, D, H, O, head, xs, zs, rows, first, last, parts, losses, gated)


@njit(cache=True, error_model="numpy", nogil=True)
def _chunks_grad(theta, D, H, O, head, xs, zs, rows, first, last, parts, losses, gated):
    B = rows.shape[0]
    for c in range(first, last):
        xs_c, zs_c = time_major(xs, zs, rows[c * CHUNK : min(B, (c + 1) * CHUNK)])
        losses[c] = _chunk_grad(theta, D, H, O, head, xs_c, zs_c, parts[c], 1.0 / B, gated)


def chunks_loss(theta, D, H, O, head, xs, zs, first, last, losses):
    """Chunks first..last-1 of windows xs (B, T, D), zs (B, T) cut into CHUNK windows:
    losses[c] = chunk c's summed window loss, no gradient (validation, on threads)."""
    _chunks_loss(theta, D, H, O, head, xs, zs, first, last, losses, cell(theta, D, H, O))


@njit(cache=True, error_model="numpy", nogil=True)
def _chunks_loss(theta, D, H, O, head, xs, zs, first, last, losses, gated):
    Wxh, Whh, bh, Why, by = unpack(theta, D, H, O)
    B = xs.shape[0]
    for c in range(first, last):
        xs_c, zs_c = time_major(xs, zs, np.arange(c * CHUNK, min(B, (c + 1) * CHUNK)))
        _, ys, _ = cell_forward(Wxh, Whh, bh, Why, by, xs_c, gated)
        losses[c], _ = head_loss(head, ys, zs_c)


def batch_loss(theta, D, H, O, head, xs, zs):
    """Mean window loss of a batch, no gradient: xs (B, T, D), zs (B, T)."""
    return _batch_loss(theta, D, H, O, head, xs, zs, cell(theta, D, H, O))


@jit
def _batch_loss(theta, D, H, O, head, xs, zs, gated):
    Wxh, Whh, bh, Why, by = unpack(theta, D, H, O)
    xs_t, zs_t = time_major(xs, zs, np.arange(xs.shape[0]))
    _, ys, _ = cell_forward(Wxh, Whh, bh, Why, by, xs_t, gated)
    E, _ = head_loss(head, ys, zs_t)
    return E / xs.shape[0]


def last_outputs(theta, D, H, O, xs):
    """Final hidden state hT (B, H) and head output yT (B, O) after reading windows xs (B, T, D)."""
    return _last_outputs(theta, D, H, O, xs, cell(theta, D, H, O))


@jit
def _last_outputs(theta, D, H, O, xs, gated):
    Wxh, Whh, bh, Why, by = unpack(theta, D, H, O)
    xs_t, _ = time_major(xs, np.zeros(xs.shape[:2]), np.arange(xs.shape[0]))
    hs, ys, _ = cell_forward(Wxh, Whh, bh, Why, by, xs_t, gated)
    return hs[-1].copy(), ys[-1].copy()


# --- multi-step forecasts by ancestral sampling ------------------------------------------------


def sample_returns(theta, D, H, O, head, h0, y0, noise, mags, r_mean, r_std, resid_std):
    """Sample P paths of N future log returns, feeding each sampled return back as the next input.

    h0 (P, H), y0 (P, O): state and head output after reading the history (one row per path).
    noise (P, N): standard normals (gaussian/mse heads) or uniforms (direction head), drawn by
    the caller with a seeded generator so Numba's own RNG never enters.
    mags (P, N): |log return| draws for the direction head (unused otherwise).
    Returns rs (P, N) raw log returns and ps (P, N), each step's P(up) under the model.
    Future values of features other than the return are unknown; they enter at their
    training mean, which is 0 after scaling. All paths advance together, one BLAS call a step.
    """
    args = (h0, y0, noise, mags, r_mean, r_std, resid_std, cell(theta, D, H, O))
    return _sample_returns(theta, D, H, O, head, *args)


@jit
def _sample_returns(theta, D, H, O, head, h0, y0, noise, mags, r_mean, r_std, resid_std, gated):
    Wxh, Whh, bh, Why, by = unpack(theta, D, H, O)
    P, N = noise.shape
    rs = np.empty((P, N))
    ps = np.empty((P, N))
    h = h0.copy()
    y = y0.copy()
    GH = Whh.shape[0]  # H, or 3H for the gated cell
    a = np.empty((P, GH))
    xp = np.empty((P, GH))
    x0 = np.empty(P)
    z_up = -r_mean / r_std  # r > 0  <=>  z > z_up
    for n in range(N):
        for p in range(P):
            y1 = y[p, 1] if O > 1 else 0.0
            mu, sigma, pu = step_distribution(head, y[p, 0], y1, resid_std, z_up)
            if head == DIRECTION:
                r = mags[p, n] if noise[p, n] < pu else -mags[p, n]
            else:
                r = r_mean + r_std * (mu + sigma * noise[p, n])  # z ~ N(mu, sigma^2)
            rs[p, n] = r
            ps[p, n] = pu
            x0[p] = (r - r_mean) / r_std  # the sampled return becomes tomorrow's input
        np.dot(h, Whh.T, a)  # Whh h_{t-1}, every path at once
        for p in range(P):
            for k in range(GH):
                xp[p, k] = Wxh[k, 0] * x0[p]  # Wxh x_t; other features: 0
        cell_step(h, xp, a, bh, gated)  # h_t
        np.dot(h, Why.T, y)
        for p in range(P):
            for o in range(O):
                y[p, o] += by[o]  # y_t
    return rs, ps


# --- the vol head's inputs, and its forecasts by sampling ----------------------------------------
#
# The vol head reads inputs in units of sd, the training part's return std (forecast/model/features.py
# builds them from prices; the codes below are their kernel ids):
#     RET    r/sd clipped to +-8                 ABS   min(|r|/sd, 8) - 0.8
#     EWMA   e = 0.5 log v,  v <- LAM v + (1 - LAM) (r/sd)^2       the EWMA log-sd forecast
#     RANGE  log((hl/m_hl + 0.1) / 1.1),  hl = log(High/Low), m_hl its training mean
#     PARK   0.5 log(vp + 1e-4),  vp <- LAM vp + (1 - LAM) hl^2 / (4 ln 2) / sd^2   (Parkinson)
#     SEASON the largest move beyond 2 EWMA sds 1-4 quarters before the day forecast; read
#            from the past, so the caller gives its future values (sample_vol's `season`)
# and predicts log sigma of the next r/sd as e + s, s the head output: the RNN corrects EWMA.

RET, ABS, EWMA, RANGE, PARK, SEASON = 0, 1, 2, 3, 4, 5
LAM = 0.94  # RiskMetrics' daily EWMA decay
CLIP = 8.0  # |r|/sd beyond this is clipped: one crash day must not saturate every unit
ABS_CENTER = 0.8  # E|z| for z ~ N(0, 1) is 0.798: |r|/sd - 0.8 is centred
RANGE_FLOOR = 0.1  # log((hl/m + 0.1)/1.1): finite on days with High = Low
PARK_FLOOR = 1e-4


def sample_vol(theta, D, H, codes, h0, s0, v0, vp0, noise, kp, season):
    """Sample P paths of N future returns from the vol head, every input fed from the sample.

    h0 (P, H) state after the history, s0 (P,) day 1's log sigma (EWMA offset + correction),
    v0 (P,) and vp0 (P,) the EWMA and Parkinson variances at the origin; noise (P, N) standard
    normals; kp the training mean of the Parkinson variance (units of sd^2); codes (D,) the
    input ids above; season (P, N) the SEASON input after day n + 1 (it reads days before the
    origin, so no sample changes it). Future ranges are unknown: they enter at their expected
    value given sigma (range log((sigma + 0.1)/1.1), Parkinson variance kp sigma^2).
    Returns zs (P, N) sampled r/sd and var (P, N) sigma_k^2, the model's variance of each day.
    """
    gated = cell(theta, D, H, 1)
    return _sample_vol(theta, D, H, codes, h0, s0, v0, vp0, noise, kp, season, gated)


@jit
def _sample_vol(theta, D, H, codes, h0, s0, v0, vp0, noise, kp, season, gated):
    Wxh, Whh, bh, Why, by = unpack(theta, D, H, 1)
    P, N = noise.shape
    zs = np.empty((P, N))
    var = np.empty((P, N))
    h = h0.copy()
    s = s0.copy()
    v = v0.copy()
    vp = vp0.copy()
    x = np.empty((P, D))
    a = np.empty((P, Whh.shape[0]))  # (P, H), or (P, 3H) for the gated cell
    for n in range(N):
        for p in range(P):
            sig = np.exp(s[p])
            z = sig * noise[p, n]  # r/sd ~ N(0, sigma^2)
            zs[p, n] = z
            var[p, n] = sig * sig
            v[p] = LAM * v[p] + (1.0 - LAM) * z * z
            vp[p] = LAM * vp[p] + (1.0 - LAM) * kp * sig * sig
            for d in range(D):
                c = codes[d]
                if c == RET:
                    x[p, d] = min(max(z, -CLIP), CLIP)
                elif c == ABS:
                    x[p, d] = min(abs(z), CLIP) - ABS_CENTER
                elif c == EWMA:
                    x[p, d] = 0.5 * np.log(v[p])
                elif c == RANGE:
                    x[p, d] = np.log((sig + RANGE_FLOOR) / (1.0 + RANGE_FLOOR))
                elif c == SEASON:
                    x[p, d] = season[p, n]
                else:
                    x[p, d] = 0.5 * np.log(vp[p] + PARK_FLOOR)
        np.dot(h, Whh.T, a)  # Whh h_{t-1}, every path at once
        xproj = np.dot(x, Wxh.T)  # Wxh x_t
        cell_step(h, xproj, a, bh, gated)  # h_t
        for p in range(P):
            y = by[0]
            for j in range(H):
                y += Why[0, j] * h[p, j]
            s[p] = 0.5 * np.log(v[p]) + y  # next day's log sigma: EWMA offset + correction
    return zs, var


@jit
def cell_step(h, xp, a, bh, gated):
    """One step of every path: h (P, H) <- h_t in place, from xp = Wxh x_t and a = Whh h_{t-1}
    (P, H), or (P, 3H) for the gated cell; the same arithmetic as rnn_forward / gru_forward."""
    P, H = h.shape
    if gated is None:
        for p in range(P):
            for j in range(H):
                h[p, j] = tanh(a[p, j] + xp[p, j] + bh[j])
        return
    for p in range(P):
        for j in range(H):
            r = sigmoid(xp[p, j] + a[p, j] + bh[j])
            u = sigmoid(xp[p, H + j] + a[p, H + j] + bh[H + j])
            n = tanh(xp[p, 2 * H + j] + r * a[p, 2 * H + j] + bh[2 * H + j])
            h[p, j] = (1.0 - u) * n + u * h[p, j]


# --- the nonlinearity -------------------------------------------------------------------------
#
# tanh in plain float64 arithmetic, so Numba can vectorise the loops that call it.
#
# np.tanh inside @njit is a scalar libm call (about 10 ns an element here) that LLVM cannot
# vectorise without Intel's SVML, and it was about a third of a training step. This version is
# the Cephes formulation, written without branches:
#
#     |x| < 0.625:  tanh x = x (1 + x^2 P(x^2) / Q(x^2))     (rational minimax, Cephes tanh.c)
#     otherwise:    tanh x = sign(x) (1 - 2 / (e^{2|x|} + 1))
#     e^y = 2^k e^r,  k = round(y / ln 2),  r = y - k ln 2,  |r| <= ln(2)/2
#     e^r by its Taylor series to r^13 (truncation < 1e-17 relative); 2^k from k's bits
#
# Measured against np.tanh: at most a few ulp (tests/test_kernels.py), so float64 gradient
# checks stay at 1e-6 and the Numba kernels agree with the NumPy reference to ~1e-15.

LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two so k * LN2_HI is exact
LN2_LO = 1.90821492927058770002e-10
X_SATURATE = 19.1  # tanh(19.1) rounds to 1.0 in float64
P0, P1, P2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
Q0, Q1, Q2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3


@njit(cache=True, error_model="numpy", inline="always")
def tanh(x):
    """tanh(x) to within 2 ulp of np.tanh, in vectorisable arithmetic (see the section note)."""
    a = min(abs(x), X_SATURATE)
    # large |x|: via e^{2a}
    y = 2.0 * a
    k = np.floor(y * LOG2E + 0.5)
    r = (y - k * LN2_HI) - k * LN2_LO
    p = 1.0 / 6227020800.0  # Horner, 1/13! down to 1/0!
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0  # e^r
    ki = np.int64(k)  # 0 <= k <= 56: 2^k as a product over its bits, exact and branch-free
    two_k = (
        (2.0 if ki & 1 else 1.0)
        * (4.0 if ki & 2 else 1.0)
        * (16.0 if ki & 4 else 1.0)
        * (256.0 if ki & 8 else 1.0)
        * (65536.0 if ki & 16 else 1.0)
        * (4294967296.0 if ki & 32 else 1.0)
    )
    big = 1.0 - 2.0 / (two_k * p + 1.0)
    # small |x|: rational approximation, odd in x, no cancellation near 0 (keeps -0.0 too)
    z = x * x
    small = x * (1.0 + z * (((P0 * z + P1) * z + P2) / (((z + Q0) * z + Q1) * z + Q2)))
    return small if a < 0.625 else (big if x >= 0.0 else -big)


# --- layout: an explicit loop, because Numba's 3-d transpose + copy took 4.5 s to compile ---


@jit
def time_major(xs, zs, rows):
    """Windows `rows` (b,) of xs (N, T, D), zs (N, T) -> C-contiguous (T, b, D) and (T, b)."""
    _, T, D = xs.shape
    xs_t = np.empty((T, rows.shape[0], D))
    zs_t = np.empty((T, rows.shape[0]))
    for b in range(rows.shape[0]):
        i = rows[b]
        for t in range(T):
            zs_t[t, b] = zs[i, t]
            for d in range(D):
                xs_t[t, b, d] = xs[i, t, d]
    return xs_t, zs_t


@jit
def c_transpose(A):
    """A.T (n, m) as a new C-contiguous array, for A (m, n)."""
    m, n = A.shape
    out = np.empty((n, m))
    for i in range(m):
        for j in range(n):
            out[j, i] = A[i, j]
    return out


# --- the parameter layout: one flat vector, in this order --------------------------------------

PARAM_NAMES = ("Wxh", "Whh", "bh", "Why", "by")


GATES = {"elman": 1, "gru": 3}  # --cell -> G, the blocks of rows in Wxh, Whh and bh


def param_shapes(D: int, H: int, O: int, gates: int = 1) -> dict[str, tuple[int, ...]]:
    """Each parameter's shape for D inputs, H hidden units, O outputs and G = gates blocks
    (1: Elman, 3: gated), in PARAM_NAMES order."""
    G = gates
    return {"Wxh": (G * H, D), "Whh": (G * H, H), "bh": (G * H,), "Why": (O, H), "by": (O,)}


def n_params(D, H, O, gates=1):
    return sum(math.prod(s) for s in param_shapes(D, H, O, gates).values())


@jit
def unpack(theta, D, H, O):
    """Views into theta (n_params,), the shapes of param_shapes: Wxh, Whh, bh, Why, by. The
    cell's G is what theta's length leaves after the head: G H (D + H + 1) + O H + O."""
    GH = (theta.shape[0] - O * H - O) // (D + H + 1)  # G * H
    i = 0
    Wxh = theta[i : i + GH * D].reshape((GH, D))
    i += GH * D
    Whh = theta[i : i + GH * H].reshape((GH, H))
    i += GH * H
    bh = theta[i : i + GH]
    i += GH
    Why = theta[i : i + O * H].reshape((O, H))
    i += O * H
    by = theta[i : i + O]
    return Wxh, Whh, bh, Why, by


def to_params(theta: np.ndarray, D: int, H: int, O: int) -> dict[str, np.ndarray]:
    """theta (n_params,) -> named copies {Wxh (GH, D), Whh (GH, H), bh (GH,), Why (O, H), by (O,)},
    G = 1 for the Elman cell, 3 for the gated one (a length that fits neither: ValueError)."""
    cell(theta, D, H, O)
    return {k: a.copy() for k, a in zip(PARAM_NAMES, unpack(theta, D, H, O), strict=True)}


def from_params(params: dict[str, np.ndarray]) -> tuple[np.ndarray, int, int, int]:
    """Named parameters -> (theta (n_params,), D, H, O); the inverse of to_params."""
    D, H = params["Wxh"].shape[1], params["Whh"].shape[1]
    O = params["Why"].shape[0]
    theta = np.concatenate([np.asarray(params[k], np.float64).ravel() for k in PARAM_NAMES])
    return theta, D, H, O


def from_member_params(params: dict[str, np.ndarray]) -> tuple[np.ndarray, int, int, int]:
    """from_params, also for an ensemble's parameters (each with a leading member axis M):
    (theta (M, n_params) or (n_params,), D, H, O)."""
    if params["Wxh"].ndim != 3:
        return from_params(params)
    rows = [from_params({k: a[m] for k, a in params.items()}) for m in range(len(params["Wxh"]))]
    _, D, H, O = rows[0]
    return np.stack([r[0] for r in rows]), D, H, O


def init_theta(D, H, O, seed, gates=1):
    """Seeded initial parameters: Xavier-scaled inputs, a contracting recurrence, zero biases
    (G = gates blocks of rows for the cell: every block drawn like Elman's one)."""
    rng = np.random.default_rng(seed)
    theta = np.zeros(n_params(D, H, O, gates))
    Wxh, Whh, bh, Why, by = unpack(theta, D, H, O)
    Wxh[:] = rng.normal(0.0, 1.0 / np.sqrt(D + H), (gates * H, D))
    # spectral radius ~0.5: the state forgets old days instead of exploding through 60 steps
    Whh[:] = rng.normal(0.0, 0.5 / np.sqrt(H), (gates * H, H))
    Why[:] = rng.normal(0.0, 1.0 / np.sqrt(H), (O, H))
    return theta


def single_threaded_blas():
    """Context manager pinning every loaded BLAS (SciPy's, which Numba calls, too) to one thread."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
