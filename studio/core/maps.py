"""Why-map arithmetic on plain numpy arrays (scale to 0..1, resize, find the peak): no TensorFlow, so the
window's why-map view (through :mod:`studio.core.overlay`) and :mod:`studio.core.attribution` share it."""

from __future__ import annotations

import numpy as np


def normalize01(m: np.ndarray) -> np.ndarray:
    """Shift and scale to 0..1 (all zeros when the map is flat: nothing stood out)."""
    m = np.asarray(m, dtype=np.float32)
    lo, hi = float(m.min()), float(m.max())
    if hi - lo < 1e-12:
        return np.zeros_like(m)
    return (m - lo) / (hi - lo)


def upsample(m: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bilinear resize of a 2-D map to ``(h, w)`` (or linear of a 1-D map to ``(n,)``), pixel centres aligned:
    feature cell *i* of *k* covers input pixels ``[i*n/k, (i+1)*n/k)``, which is how strided convs and
    pooling see the input."""
    m = np.asarray(m, dtype=np.float32)
    out = m
    for axis, n in enumerate(shape):
        k = out.shape[axis]
        if k == n:
            continue
        pos = (np.arange(n) + 0.5) * k / n - 0.5
        pos = np.clip(pos, 0, k - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, k - 1)
        frac = (pos - lo).astype(np.float32)
        a = np.take(out, lo, axis=axis)
        b = np.take(out, hi, axis=axis)
        shape_f = [1] * out.ndim
        shape_f[axis] = n
        out = a + (b - a) * frac.reshape(shape_f)
    return out.astype(np.float32)


def peak(m: np.ndarray, level: float = 0.95) -> tuple[float, ...]:
    """Where the map is highest, as (x, y) for a 2-D map (column, row) or (t,) for a 1-D map, in cell units
    (cell centres are at .0; a peak between two cells lands between them).

    Maps made of overlapping patches have flat tops; ``argmax`` would pick a flat top's first (top-left) cell,
    so the peak is the centroid of the connected cells within ``level`` of the maximum around it.
    """
    m = np.asarray(m, dtype=np.float64)
    start = np.unravel_index(int(np.argmax(m)), m.shape)
    top = m >= m[start] * level if m[start] > 0 else m >= m[start]
    # flood fill from the maximum over the "top" cells (4-/2-connected)
    seen = np.zeros(m.shape, dtype=bool)
    stack = [start]
    seen[start] = True
    cells = []
    while stack:
        cur = stack.pop()
        cells.append(cur)
        for axis in range(m.ndim):
            for step in (-1, 1):
                nxt = list(cur)
                nxt[axis] += step
                nxt = tuple(nxt)
                if 0 <= nxt[axis] < m.shape[axis] and not seen[nxt] and top[nxt]:
                    seen[nxt] = True
                    stack.append(nxt)
    centre = np.asarray(cells, dtype=np.float64).mean(axis=0)
    return (float(centre[1]), float(centre[0])) if m.ndim == 2 else (float(centre[0]),)
