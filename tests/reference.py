"""Slow, obviously correct plain-NumPy oracle for the Elman RNN, its three heads, BPTT and Adam.

Every Numba kernel in forecast/model/kernels/ is tested against these functions, so they favour
reading like the math over speed: vectorised over the batch, a plain Python loop over time.

Dimensions: B windows in a batch, T time steps, D input features, H hidden units, O outputs.

    h_0 = 0
    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)        Wxh (H,D)  Whh (H,H)  bh (H,)
    y_t = Why h_t + by                            Why (O,H)  by (O,)

Heads give a per-step loss l_t(y_t, z_t); a window's loss is the SUM over its T steps and the
batch loss is the MEAN over the B windows. Gradients are of the batch loss.

    "mse"       O=1  l_t = 0.5 (y_t - z_t)^2
    "gaussian"  O=2  y_t = (mu_t, s_t), s_t = log sigma_t
                     l_t = 0.5 log(2 pi) + s_t + 0.5 (z_t - mu_t)^2 exp(-2 s_t)
    "direction" O=2  y_t are logits, c_t = int(z_t) with z_t in {0.0, 1.0} (1 = up)
                     l_t = -log softmax(y_t)[c_t]
    "vol"       O=1  y_t = s_t, log sigma; mean 0
                     l_t = 0.5 log(2 pi) + s_t + 0.5 z_t^2 exp(-2 s_t)
A NaN target z_t (a burn-in step) has l_t = 0 and no gradient.

The gated cell (--cell gru) replaces the h_t line; its weights stack three blocks of rows
(r, u, n), so Wxh (3H,D), Whh (3H,H), bh (3H,), and the shapes say which cell a params dict is:

    r_t = sigmoid(Wxh_r x_t + Whh_r h_{t-1} + bh_r)
    u_t = sigmoid(Wxh_u x_t + Whh_u h_{t-1} + bh_u)
    n_t = tanh(Wxh_n x_t + r_t * (Whh_n h_{t-1}) + bh_n)
    h_t = (1 - u_t) * n_t + u_t * h_{t-1}
"""

import numpy as np

HEAD_OUTPUTS = {"mse": 1, "gaussian": 2, "direction": 2, "vol": 1}  # head -> O
PARAM_NAMES = ("Wxh", "Whh", "bh", "Why", "by")
LOG_2PI = np.log(2.0 * np.pi)


def init_params(D, H, O, rng, gates=1):
    """Small random weights and biases (N(0, 0.1^2)); biases nonzero so their gradients show.

    Returns a dict of float64 arrays: Wxh (GH,D), Whh (GH,H), bh (GH,), Why (O,H), by (O,)
    with G = gates (1: Elman, 3: gated).
    """
    G = gates
    return {
        "Wxh": rng.normal(0.0, 0.1, (G * H, D)),
        "Whh": rng.normal(0.0, 0.1, (G * H, H)),
        "bh": rng.normal(0.0, 0.1, G * H),
        "Why": rng.normal(0.0, 0.1, (O, H)),
        "by": rng.normal(0.0, 0.1, O),
    }


def flatten_params(params):
    """Concatenate the parameters in PARAM_NAMES order, each raveled in C order -> (P,).

    Only useful against a kernel whose flat `theta` uses this same layout.
    """
    return np.concatenate([np.ravel(params[k]) for k in PARAM_NAMES])


def unflatten_params(theta, D, H, O, gates=1):
    """Inverse of flatten_params: (P,) -> dict of copies with the shapes of init_params."""
    G = gates
    shapes = {"Wxh": (G * H, D), "Whh": (G * H, H), "bh": (G * H,), "Why": (O, H), "by": (O,)}
    out, i = {}, 0
    for k in PARAM_NAMES:
        n = int(np.prod(shapes[k]))
        out[k] = np.array(theta[i : i + n]).reshape(shapes[k])
        i += n
    assert i == theta.size, f"theta has {theta.size} elements, expected {i}"
    return out


def is_gated(params):
    """The gated cell's Whh is (3H, H); Elman's is square."""
    return params["Whh"].shape[0] != params["Whh"].shape[1]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_step(params, x, h):
    """One step of one window for either cell: x (D,), h (H,) = h_{t-1} -> h_t (H,)."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    if not is_gated(params):
        return np.tanh(Wxh @ x + Whh @ h + bh)
    H = Whh.shape[1]
    gx, gh = Wxh @ x + bh, Whh @ h
    r = sigmoid(gx[:H] + gh[:H])
    u = sigmoid(gx[H : 2 * H] + gh[H : 2 * H])
    n = np.tanh(gx[2 * H :] + r * gh[2 * H :])
    return (1.0 - u) * n + u * h


def gru_forward(params, xs):
    """The gated cell over a batch: xs (B,T,D) -> hs (B,T+1,H), ys (B,T,O) and, per step t,
    the gates (r, u, n) and Whh_n h_{t-1}, each (B,H), that backpropagation reuses."""
    Wxh, Whh, bh, Why, by = (params[k] for k in PARAM_NAMES)
    B, T, _ = xs.shape
    H, O = Whh.shape[1], Why.shape[0]
    hs = np.zeros((B, T + 1, H))
    ys = np.zeros((B, T, O))
    cache = []
    for t in range(T):
        gx = xs[:, t] @ Wxh.T + bh  # (B,3H): the three blocks' input parts
        gh = hs[:, t] @ Whh.T  # (B,3H): their recurrent parts
        r = sigmoid(gx[:, :H] + gh[:, :H])  # reset gate
        u = sigmoid(gx[:, H : 2 * H] + gh[:, H : 2 * H])  # update gate
        n = np.tanh(gx[:, 2 * H :] + r * gh[:, 2 * H :])  # candidate
        hs[:, t + 1] = (1.0 - u) * n + u * hs[:, t]  # h_t
        ys[:, t] = hs[:, t + 1] @ Why.T + by  # y_t
        cache.append((r, u, n, gh[:, 2 * H :]))
    return hs, ys, cache


def reference_forward(params, xs):
    """Run the RNN over a batch of windows.

    xs (B,T,D) -> hs (B,T+1,H) with hs[:, 0] = h_0 = 0, ys (B,T,O).
    """
    if is_gated(params):
        hs, ys, _ = gru_forward(params, xs)
        return hs, ys
    Wxh, Whh, bh, Why, by = (params[k] for k in PARAM_NAMES)
    B, T, _ = xs.shape
    H, O = Whh.shape[0], Why.shape[0]
    hs = np.zeros((B, T + 1, H))  # hs[:, t + 1] is h_t; hs[:, 0] is h_0
    ys = np.zeros((B, T, O))
    for t in range(T):
        hs[:, t + 1] = np.tanh(xs[:, t] @ Wxh.T + hs[:, t] @ Whh.T + bh)  # h_t = tanh(...)
        ys[:, t] = hs[:, t + 1] @ Why.T + by  # y_t = Why h_t + by
    return hs, ys


def head_loss_and_dys(ys, zs, head):
    """Batch loss and its gradient w.r.t. the outputs.

    ys (B,T,O), zs (B,T) -> (loss: float, dys (B,T,O)); dys already carries the 1/B of the mean.
    """
    B = ys.shape[0]
    burn = np.isnan(zs)  # burn-in steps: no loss
    zs = np.where(burn, 0.0, zs)
    if head == "mse":
        y = ys[..., 0]  # (B,T)
        loss = 0.5 * (y - zs) ** 2  # l_t
        dys = (y - zs)[..., None]
    elif head == "gaussian":
        mu, s = ys[..., 0], ys[..., 1]  # (B,T) each; s = log sigma
        r2 = (zs - mu) ** 2 * np.exp(-2.0 * s)  # squared standardised residual
        loss = 0.5 * LOG_2PI + s + 0.5 * r2  # l_t
        dmu = (mu - zs) * np.exp(-2.0 * s)  # d l_t / d mu_t
        ds = 1.0 - r2  # d l_t / d s_t
        dys = np.stack([dmu, ds], axis=-1)
    elif head == "direction":
        c = zs.astype(np.int64)  # (B,T) class: 1 = up
        shifted = ys - ys.max(axis=-1, keepdims=True)  # softmax is shift-invariant; avoids overflow
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # log softmax
        onehot = np.eye(ys.shape[-1])[c]  # (B,T,O)
        loss = -(logp * onehot).sum(axis=-1)  # l_t = -log p[c_t]
        dys = np.exp(logp) - onehot  # d l_t / d y_t = p - onehot(c_t)
    elif head == "vol":
        s = ys[..., 0]  # (B,T) log sigma, mean 0
        u = zs**2 * np.exp(-2.0 * s)
        loss = 0.5 * LOG_2PI + s + 0.5 * u  # l_t
        dys = (1.0 - u)[..., None]  # d l_t / d s_t
    else:
        raise ValueError(f"unknown head {head!r}; expected one of {sorted(HEAD_OUTPUTS)}")
    loss = np.where(burn, 0.0, loss)
    dys = np.where(burn[..., None], 0.0, dys)
    return float(loss.sum() / B), dys / B  # sum over t, mean over windows


def reference_loss(params, xs, zs, head):
    """Batch loss: per-step losses summed over t, averaged over the B windows. -> float"""
    _, ys = reference_forward(params, xs)
    loss, _ = head_loss_and_dys(ys, zs, head)
    return loss


def reference_loss_and_grads(params, xs, zs, head):
    """Batch loss and its gradients by backpropagation through time.

    xs (B,T,D), zs (B,T) -> (loss, grads) with grads keys dWxh dWhh dbh dWhy dby, each shaped
    like its parameter.
    """
    if is_gated(params):
        return gru_loss_and_grads(params, xs, zs, head)
    Wxh, Whh, bh, Why, by = (params[k] for k in PARAM_NAMES)
    hs, ys = reference_forward(params, xs)  # forward saves every h_t; backward needs them all
    loss, dys = head_loss_and_dys(ys, zs, head)
    B, T, _ = xs.shape
    dWxh, dWhh, dbh = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(bh)
    dWhy, dby = np.zeros_like(Why), np.zeros_like(by)
    dhnext = np.zeros((B, Whh.shape[0]))  # gradient flowing into h_t from step t+1
    for t in reversed(range(T)):
        dy = dys[:, t]  # (B,O)
        dWhy += dy.T @ hs[:, t + 1]  # backprop into Why
        dby += dy.sum(axis=0)  # backprop into by
        dh = dy @ Why + dhnext  # backprop into h: from y_t and from h_{t+1}
        dhraw = (1.0 - hs[:, t + 1] ** 2) * dh  # backprop through tanh
        dbh += dhraw.sum(axis=0)  # backprop into bh
        dWxh += dhraw.T @ xs[:, t]  # backprop into Wxh
        dWhh += dhraw.T @ hs[:, t]  # backprop into Whh
        dhnext = dhraw @ Whh  # backprop into h_{t-1}
    grads = {"dWxh": dWxh, "dWhh": dWhh, "dbh": dbh, "dWhy": dWhy, "dby": dby}
    return loss, grads


def gru_loss_and_grads(params, xs, zs, head):
    """reference_loss_and_grads for the gated cell: BPTT through the gates, step by step."""
    Wxh, Whh, bh, Why, by = (params[k] for k in PARAM_NAMES)
    hs, ys, cache = gru_forward(params, xs)
    loss, dys = head_loss_and_dys(ys, zs, head)
    B, T, _ = xs.shape
    dWxh, dWhh, dbh = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(bh)
    dWhy, dby = np.zeros_like(Why), np.zeros_like(by)
    dhnext = np.zeros((B, Whh.shape[1]))
    for t in reversed(range(T)):
        dy = dys[:, t]
        dWhy += dy.T @ hs[:, t + 1]
        dby += dy.sum(axis=0)
        dh = dy @ Why + dhnext  # into h_t: from y_t and from h_{t+1}
        r, u, n, an = cache[t]
        h_prev = hs[:, t]
        dn = dh * (1.0 - u) * (1.0 - n**2)  # into n's pre-activation (tanh)
        du = dh * (h_prev - n) * u * (1.0 - u)  # into u's pre-activation (sigmoid)
        dr = dn * an * r * (1.0 - r)  # into r's, through r * (Whh_n h_{t-1})
        dgx = np.concatenate([dr, du, dn], axis=1)  # into the input parts and bh
        dgh = np.concatenate([dr, du, dn * r], axis=1)  # into the recurrent parts
        dWxh += dgx.T @ xs[:, t]
        dbh += dgx.sum(axis=0)
        dWhh += dgh.T @ h_prev
        dhnext = dh * u + dgh @ Whh  # into h_{t-1}: directly and through the gates
    grads = {"dWxh": dWxh, "dWhh": dWhh, "dbh": dbh, "dWhy": dWhy, "dby": dby}
    return loss, grads


def reference_adam(params, grads, m, v, t, lr, beta1, beta2, eps, max_norm):
    """One Adam step with global gradient-norm clipping; updates params, m, v in place.

    params, m, v: dicts keyed by PARAM_NAMES; grads: keyed "d" + name (left unchanged).
    t is the 1-based step number used for bias correction.

    Clipping: g <- g * max_norm / ||g|| when ||g|| > max_norm, the norm taken over ALL
    parameters together (unlike torch's clip_grad_norm_, no +1e-6 in the denominator).
    Then m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr mhat / (sqrt(vhat) + eps).
    Returns params.
    """
    norm = np.sqrt(sum(float(np.sum(grads["d" + k] ** 2)) for k in PARAM_NAMES))  # ||g||
    scale = max_norm / norm if norm > max_norm else 1.0  # clip to mitigate exploding gradients
    for k in PARAM_NAMES:
        g = grads["d" + k] * scale
        m[k] *= beta1
        m[k] += (1.0 - beta1) * g  # first moment
        v[k] *= beta2
        v[k] += (1.0 - beta2) * g * g  # second moment
        mhat = m[k] / (1.0 - beta1**t)  # bias correction: m, v start at 0
        vhat = v[k] / (1.0 - beta2**t)
        params[k] -= lr * mhat / (np.sqrt(vhat) + eps)
    return params
