"""Ridge regression classifier in closed form with leave-one-out alpha selection (pure numpy).

The same method as scikit-learn's ``RidgeClassifierCV`` (targets +-1 per class, efficient leave-one-out over
an eigendecomposition of the Gram matrix), written here because scikit-learn is not a runtime dependency. The
leave-one-out predictions come for free and are what Studio's model selection scores MiniRocket by when a
dataset has too few recordings for a separate validation split to mean anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 10))
TEMPERATURES = tuple(float(t) for t in np.logspace(-0.5, 2, 21))
MAX_DUAL = 4000  # above this many samples the fit uses a stratified subset (an n x n eigendecomposition)


@dataclass
class RidgeFit:
    """``scores = ((x - mean) / scale) @ coef + intercept``; ``temperature`` turns scores into probabilities."""

    coef: np.ndarray  # [features, classes]
    intercept: np.ndarray  # [classes]
    mean: np.ndarray  # [features]
    scale: np.ndarray  # [features]
    alpha: float
    temperature: float
    loo_scores: np.ndarray  # [n, classes], leave-one-out scores of the samples it was fitted on
    fitted_on: np.ndarray  # indices of those samples

    def loo_accuracy(self, y: np.ndarray) -> float:
        y = np.asarray(y)[self.fitted_on]
        return float((self.loo_scores.argmax(1) == y).mean()) if len(y) else 0.0

    def scores(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.coef + self.intercept


def _subset(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """A stratified random subset of at most ``limit`` indices (all of them when there are fewer)."""
    n = len(y)
    if n <= limit:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for c in np.unique(y):
        idx = np.nonzero(y == c)[0]
        k = max(1, int(round(limit * len(idx) / n)))
        keep += list(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.asarray(keep))


def _log_loss(scores: np.ndarray, y: np.ndarray, t: float) -> float:
    z = scores * t
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def fit_ridge(x: np.ndarray, y: np.ndarray, n_classes: int, alphas: tuple[float, ...] = ALPHAS,
              seed: int = 0, min_scale: float = 1e-12) -> RidgeFit:
    """Standardize features, choose alpha by leave-one-out squared error, fit, and pick the softmax temperature
    that minimises the leave-one-out log-loss (so averaged window probabilities are calibrated, not just
    argmax-correct). ``min_scale`` floors the standardization: a feature that barely varies would otherwise get
    a weight hundreds of times the others, which an int8 head (one scale per tensor) cannot represent."""
    y = np.asarray(y, dtype=np.int64)
    idx = _subset(y, MAX_DUAL, seed)
    xs, ys = np.asarray(x, np.float64)[idx], y[idx]
    n = len(ys)
    mean = xs.mean(0)
    scale = xs.std(0)
    scale = np.maximum(scale, min_scale) if min_scale > 1e-12 else np.where(scale > 1e-12, scale, 1.0)
    a = (xs - mean) / scale
    targets = -np.ones((n, n_classes))
    targets[np.arange(n), ys] = 1.0
    intercept = targets.mean(0)
    t = targets - intercept
    lam, u = np.linalg.eigh(a @ a.T)
    lam = np.clip(lam, 0.0, None)
    ut = u.T @ t
    best = None
    for alpha in alphas:
        g = lam / (lam + alpha)
        fitted = u @ (g[:, None] * ut)
        h = (u * u) @ g + 1.0 / n
        loo = t - (t - fitted) / np.clip(1.0 - h, 1e-9, None)[:, None]
        err = float(((t - loo) ** 2).sum())
        if best is None or err < best[0] - 1e-12:
            best = (err, alpha, loo)
    _, alpha, loo = best
    dual = u @ ((1.0 / (lam + alpha))[:, None] * ut)  # (K + alpha I)^-1 t
    coef = a.T @ dual
    loo_scores = loo + intercept
    temperature = min(TEMPERATURES, key=lambda tt: _log_loss(loo_scores, ys, tt))
    return RidgeFit(coef, intercept, mean, scale, float(alpha), float(temperature), loo_scores, idx)
