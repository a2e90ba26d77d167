"""Numba-compiled numerical kernels: the only place with @njit."""
