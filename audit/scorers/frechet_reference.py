"""Frechet distances of many groups to one reference Gaussian (a sweep: one per cell), exact.

The costly term is Tr sqrt(C_r C). For any K with K K^T = C_r, K^T C K is symmetric positive
semi-definite with the eigenvalues of C_r C, so

    Tr sqrt(C_r C) = sum_i sqrt(eig_i(K^T C K)).

`FrechetReference` factors the reference once (K = its Cholesky factor L, kept as L^-1 so
that K^T C K is two triangular solves; the symmetric square root when C_r is singular), and
each group then costs those two solves plus one symmetric eigenvalue problem, instead of
scipy's sqrtm of a general d x d matrix (a Schur decomposition). At d = 2048 on this
project's 2-core machine that is about 1 s per group against 10-50 s (`t2i-audit bench fid`).

The eigenvalues run on one thread on CPU: LAPACK's tridiagonal reduction synchronises once
per column, and with a second thread it ran 3-20x slower whenever another process held a
core (measured here side by side), while one thread loses little when the machine is idle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np


def _device(device: str | None) -> str:
    """Dense linear algebra runs on CUDA when asked, else on the CPU (float64 throughout)."""
    return device if device is not None and device.startswith("cuda") else "cpu"


@contextlib.contextmanager
def _eigen_threads(device: str) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if device == "cpu" and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _symmetric_sqrt(cov: Any) -> Any:
    """C^(1/2) of a symmetric PSD tensor (negative rounding eigenvalues -> 0)."""
    import torch

    w, v = torch.linalg.eigh(cov)
    return (v * w.clamp(min=0).sqrt()) @ v.mT


class FrechetReference:
    """A reference Gaussian (mean, covariance) factored once for many Frechet distances."""

    def __init__(self, mu: np.ndarray, cov: np.ndarray, *, device: str | None = None) -> None:
        import torch

        self.device = _device(device)
        self.mu = np.asarray(mu, np.float64)
        cov = np.asarray(cov, np.float64)
        self.dim = cov.shape[0]
        self.trace = float(np.trace(cov))
        c = torch.as_tensor(cov, device=self.device)
        self._inv_l: Any = None  # L^-1, lower triangular (C_r = L L^T)
        self._inv_lt: Any = None  # (L^-1)^T, upper triangular
        self._sqrt: Any = None  # C_r^(1/2), when C_r has no Cholesky factor
        factor, info = torch.linalg.cholesky_ex(c)
        # A rank-deficient C_r can still factor with rounding-sized pivots, whose inverse
        # would amplify rounding: below 1e-12 of the largest variance, take the other route.
        pivots = factor.diagonal()
        if int(info) == 0 and float(pivots.min()) ** 2 > 1e-12 * float(c.diagonal().max()):
            eye = torch.eye(self.dim, dtype=torch.float64, device=self.device)
            inv = torch.linalg.solve_triangular(factor, eye, upper=False)
            if bool(torch.isfinite(inv).all()):
                self._inv_l, self._inv_lt = inv, inv.mT.contiguous()
        if self._inv_l is None:  # singular (fewer reference images than dimensions)
            self._sqrt = _symmetric_sqrt(c)

    @property
    def method(self) -> str:
        return "cholesky" if self._inv_l is not None else "symmetric-sqrt"

    def _similar(self, cov: Any) -> Any:
        """K^T C K: symmetric, with the eigenvalues of C_r C."""
        import torch

        if self._inv_l is None:
            return self._sqrt @ cov @ self._sqrt
        # X L^-1 = C  ->  X = C L;  L^-T Y = X  ->  Y = L^T C L. Two triangular solves cost
        # half of the two general products L^T (C L).
        cl = torch.linalg.solve_triangular(self._inv_l, cov, upper=False, left=False)
        return torch.linalg.solve_triangular(self._inv_lt, cl, upper=True)

    def trace_sqrt(self, cov: np.ndarray) -> float:
        """Tr sqrt(C_r C) for a group's covariance C."""
        import torch

        c = torch.as_tensor(np.asarray(cov, np.float64), device=self.device)
        if c.shape != (self.dim, self.dim):
            raise ValueError(f"expected a {self.dim}-square covariance, got {tuple(c.shape)}")
        m = self._similar(c)
        with _eigen_threads(self.device):
            eig = torch.linalg.eigvalsh(m)  # reads the lower triangle only
        return float(eig.clamp(min=0).sqrt().sum())

    def distance(self, mu: np.ndarray, cov: np.ndarray) -> float:
        """||mu - mu_r||^2 + Tr(C + C_r - 2 sqrt(C_r C))."""
        diff = np.asarray(mu, np.float64) - self.mu
        tr = self.trace_sqrt(cov)
        return float(diff @ diff + np.trace(cov) + self.trace - 2.0 * tr)
