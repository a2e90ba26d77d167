"""Adam with global gradient-norm clipping, one pass over the flat parameter vector.

    g    <- g * min(1, max_norm / ||g||)        clip to mitigate exploding gradients (BPTT)
    m    <- beta1 m + (1 - beta1) g             first moment
    v    <- beta2 v + (1 - beta2) g^2           second moment
    theta <- theta - lr * m_hat / (sqrt(v_hat) + eps),   m_hat = m / (1 - beta1^k), v_hat likewise

Clipping lives here, in the optimizer, not in the gradient kernel: the kernel's gradient must
stay the true derivative of the loss so finite differences can check it.
"""

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy", nogil=True)
def adam_step(theta, grad, m, v, step, lr, beta1, beta2, eps, max_norm):
    """Update theta, m, v in place (all shape (P,)); step k is 1-based. Returns ||g|| before clipping."""
    sq = 0.0
    for i in range(grad.shape[0]):  # a loop, not np.sum(grad * grad): a temporary less, and
        sq += grad[i] * grad[i]  # an array expression less to compile on the first run
    norm = np.sqrt(sq)
    clip = max_norm / norm if norm > max_norm else 1.0
    bc1 = 1.0 - beta1**step  # bias corrections
    bc2 = 1.0 - beta2**step
    for i in range(theta.shape[0]):
        g = grad[i] * clip
        m[i] = beta1 * m[i] + (1.0 - beta1) * g
        v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
        theta[i] -= lr * (m[i] / bc1) / (np.sqrt(v[i] / bc2) + eps)
    return norm
