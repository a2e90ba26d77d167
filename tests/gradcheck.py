"""Central-difference gradient checks: a numerical gradient and a comparison with a stated rule."""

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar f() with respect to every element of x.

    f takes no arguments and must read x (it closes over it); each element of x is perturbed
    in place by +-eps and restored exactly, so x is unchanged on return (also if f raises).
    Truncation error is O(eps^2 f'''); round-off, about 1e-16 |f| / eps, dominates: measured on
    the reference RNN with eps = 1e-6, |analytic - numeric| reaches 4e-10 for a loss of ~2 and
    3e-9 for a loss of ~30, hence the floor in relative_error.

    x: contiguous float64 array of any shape -> gradient with x's shape.
    """
    assert x.dtype == np.float64, "finite differences need float64 to reach 1e-6 relative"
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: writing flat writes x
    assert np.shares_memory(flat, x), "x must be contiguous so it can be perturbed in place"
    for i in range(flat.size):
        old = flat[i]
        try:
            flat[i] = old + eps
            fplus = f()
            flat[i] = old - eps
            fminus = f()
        finally:
            flat[i] = old
        gflat[i] = (fplus - fminus) / (2.0 * eps)
    return grad


def relative_error(analytic, numeric, floor=1e-2):
    """Per-element |a - n| / max(|a|, |n|, floor).

    The floor stops gradients near 0, whose finite differences are mostly round-off (~1e-9),
    from reading as huge relative errors: below the floor the check becomes an absolute one,
    |a - n| <= rtol * floor. A real bug makes an error comparable to the gradient itself, so it
    is still caught on any element larger than rtol * floor (1e-8 with the defaults).
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)


def assert_close(analytic, numeric, name, rtol=1e-6, floor=1e-2):
    """Assert relative_error(analytic, numeric, floor) <= rtol for every element.

    Rule: |a - n| <= rtol * max(|a|, |n|, floor) elementwise; with the defaults that is 1e-6
    relative for gradients above 1e-2 and 1e-8 absolute below. Keep gradient-check losses of
    order 1-30 (small B and T) so finite-difference round-off stays ~5x under this bound.
    On failure the message names the worst element: its index, analytic and numeric values,
    relative error, and the largest absolute difference (llm.c's maxdiff).
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    assert a.shape == n.shape, f"{name}: shape {a.shape} (analytic) != {n.shape} (numeric)"
    if a.size == 0:
        return
    err = relative_error(a, n, floor)
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    assert err[worst] <= rtol, (
        f"{name}: worst element {tuple(int(i) for i in worst)}: analytic {a[worst]:.12e}, "
        f"numeric {n[worst]:.12e}, relative error {err[worst]:.3e} > rtol {rtol:.1e} "
        f"(maxdiff {np.max(np.abs(a - n)):.3e}, floor {floor:.0e})"
    )
