"""The window detector's second score and the choice between scorers, by measurement on the project's data.

* The **shape residual** (:class:`~.layers.ShapeResidual`): how far a window's shape (the standardized raw
  piece of its features) lies from the principal shapes of the normal windows (PCA reconstruction error, 90 %
  of the variance kept), in units of a typical validation good window's. It is what the PCA baseline measures,
  and it wins on aligned series (one beat, one gesture or one vowel per recording), where a nearest normal
  window can be misled by one close neighbour.
* **The default blend** is the nearest-window score plus a quarter of the shape residual: on the 30 development
  one-class splits (the exported graph in float, IF / OC-SVM / PCA on raw values in the same run) above the
  best baseline on 21 (nearest window alone: 18), mean AUROC 0.904 for both; half the residual 21 / 0.901,
  the whole 21 / 0.894, the residual alone 5 / 0.804.
* **Choosing** (like the classifier's :mod:`studio.core.selection`): when the validation split holds defect
  recordings, every candidate is scored by its per-recording validation AUROC and the default is left only for
  a gain the validation set can vouch for (:func:`gain_needed`: :data:`Z_GAIN` standard errors of the paired
  AUROC difference, DeLong's, and at least :data:`MARGIN`); without defect examples the default stays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

VARIANCE = 0.9  # share of the normal shapes' variance the principal shapes keep
RESIDUAL_CLIP = 8.0  # each residual coordinate clipped at 8 normal spreads (int8: its range fixed by a RELU6)
MARGIN = 0.02  # the least validation AUROC gain over the default that chooses a candidate (any validation size)
# Runs fitted since 2026-12-02 also need the gain to exceed Z_GAIN standard errors of the paired AUROC difference
# (DeLong): one-sided 5 % after the three candidates tried against the default (Bonferroni, z of 1 - 0.05 / 3).
# A fixed 0.02 took the residual on 16 defect and 6 good validation recordings (0.990 vs 0.958; SE of the
# difference ~0.03) and lost on test (JapaneseVowels class 1: 0.985 -> 0.970).
Z_GAIN = 2.128
MIN_DEFECTS = 2  # defect recordings needed in validation before the choice is measured
CANDIDATES = (  # (name, plain words, (nearest-window weight, shape-residual weight)); DEFAULT is one of them
    ("nearest+residual/4", "the nearest normal window plus a quarter of the shape residual", (1.0, 0.25)),
    ("nearest", "the nearest normal window alone (shape, spectrum, statistics)", (1.0, 0.0)),
    ("nearest+residual", "the nearest normal window plus the whole shape residual", (1.0, 1.0)),
    ("residual", "the shape residual alone (how far the shape is from the normal shapes)", (0.0, 1.0)),
)
DEFAULT = "nearest+residual/4"
MIXES = {name: mix for name, _, mix in CANDIDATES}


def principal_residual(z: np.ndarray, variance: float = VARIANCE) -> tuple[np.ndarray, np.ndarray]:
    """(mean, residual projector I - V V^T) of the rows of ``z``, V the principal axes keeping ``variance``."""
    z = np.asarray(z, dtype=np.float64)
    m = z.mean(axis=0)
    _, sv, vt = np.linalg.svd(z - m, full_matrices=False)
    share = np.cumsum(sv ** 2) / max(float((sv ** 2).sum()), 1e-12)
    k = int(np.searchsorted(share, variance) + 1) if len(sv) else 0
    v = vt[: min(k, len(sv))].T
    return m, np.eye(z.shape[1]) - v @ v.T


def residual_energy(z: np.ndarray, m: np.ndarray, proj: np.ndarray, spread: np.ndarray,
                    clip: float = RESIDUAL_CLIP) -> np.ndarray:
    """numpy twin of ShapeResidual before its normalization: sum of squared residual coordinates, each clipped
    at ``clip`` normal spreads."""
    r = (np.asarray(z, dtype=np.float64) - m) @ proj
    return ((np.clip(r / spread, -clip, clip) * spread) ** 2).sum(axis=1)


def fit_residual(model: Any, z_train: np.ndarray, z_holdout: np.ndarray | None, zclip: float,
                 cap: float) -> dict[str, Any]:
    """Set ShapeResidual's constants (layer "residual") from the standardized, clipped shape pieces."""
    from .detector import int8_columns, layer, set_consts

    m, proj = principal_residual(z_train)
    ref = z_train if z_holdout is None or not len(z_holdout) else np.concatenate([z_train, z_holdout])
    r = (ref - m) @ proj
    spread = np.sqrt((r * r).mean(axis=0))
    spread = np.maximum(spread, 1e-2 * (float(spread.mean()) + 1e-9))
    typical_on = z_train if z_holdout is None or not len(z_holdout) else z_holdout
    typical = max(float(np.median(residual_energy(typical_on, m, proj, spread))), 1e-9)
    c = RESIDUAL_CLIP
    # u = z * 3 / zclip + 3 in, relu6(3 * r / (c * spread) + 3) out (see ShapeResidual)
    w = (zclip / c) * proj / spread[None, :]
    b = -(3.0 / c) * ((zclip + m) @ proj) / spread + 3.0
    # the weights as the device stores them (int8, one scale per output), the rounding's share at the normal
    # windows' mean shape moved into the bias: u sits near 3 in all of its hundreds of inputs, so the rounding of
    # each small weight, times 3, summed to about a third of a normal spread per output; the int8 residual read
    # twice the float one, all but flat (BasicMotions-Walking series s0: correlation 0.32 with float)
    wq = int8_columns(w)
    b = b + (3.0 + 3.0 * m / zclip) @ (w - wq)
    w = wq
    set_consts(layer(model, "residual"), proj=w, bias=b,
               weight=((c / 3.0) ** 2 * spread ** 2 * 6.0 / (cap * typical))[:, None])
    set_consts(layer(model, "mix"), mix=np.array(MIXES[DEFAULT]))
    kept = int(round(float(np.trace(np.eye(len(proj)) - proj))))
    return {"components": kept, "dims": int(len(proj)), "typical": typical,
            "typical_on": "validation good windows" if typical_on is not z_train else "training windows"}


def _placements(scores: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: per defect unit the share of good units it outscores (ties half), and
    per good unit the share of defect units that outscore it."""
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = s[bad], s[~bad]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def paired_auroc_se(a: np.ndarray, b: np.ndarray, bad: np.ndarray) -> float | None:
    """Standard error of AUROC(a) - AUROC(b), two scorers of the same units (DeLong, DeLong & Clarke-Pearson
    1988); None with fewer than 2 defect or 2 good units."""
    bad = np.asarray(bad, dtype=bool)
    m, n = int(bad.sum()), int((~bad).sum())
    if m < 2 or n < 2:
        return None
    (a10, a01), (b10, b01) = _placements(a, bad), _placements(b, bad)
    d10, d01 = a10 - b10, a01 - b01  # the difference's components: its variance is theirs, over m and n
    return float(np.sqrt(d10.var(ddof=1) / m + d01.var(ddof=1) / n))


def gain_needed(se: float | None) -> float | None:
    """The validation AUROC gain over the default that chooses a candidate: Z_GAIN standard errors of the paired
    difference, at least MARGIN; None (never chosen) when the error cannot be estimated."""
    return None if se is None else max(MARGIN, Z_GAIN * se)


def pick(unit_scores: dict[str, np.ndarray], bad: np.ndarray) -> tuple[str, str, dict[str, float | None],
                                                                        dict[str, float | None]]:
    """(chosen candidate, why, validation AUROC of each, gain each needed) from per-unit validation scores."""
    from .metrics import auroc

    bad = np.asarray(bad, dtype=bool)
    scores: dict[str, float | None] = {name: auroc(u, bad) for name, u in unit_scores.items()}
    needed: dict[str, float | None] = {}
    if int(bad.sum()) < MIN_DEFECTS or scores[DEFAULT] is None:
        return DEFAULT, f"fewer than {MIN_DEFECTS} defect recordings in validation: the default stays", scores, needed
    base = float(scores[DEFAULT])
    passed = {}
    for name, u in unit_scores.items():
        if name == DEFAULT or scores[name] is None:
            continue
        needed[name] = gain_needed(paired_auroc_se(u, unit_scores[DEFAULT], bad))
        if needed[name] is not None and float(scores[name]) - base > float(needed[name]):
            passed[name] = float(scores[name])
    if passed:
        best = max(passed, key=lambda k: passed[k])
        return best, (f"its validation AUROC {scores[best]:.3f} beats the default's {base:.3f} by more than the "
                      f"{needed[best]:.3f} these validation recordings can vouch for"), scores, needed
    best = max((k for k in needed if scores[k] is not None), key=lambda k: float(scores[k]), default=None)
    if best is None or float(scores[best]) <= base:
        return DEFAULT, f"no candidate beats the default's validation AUROC ({base:.3f})", scores, needed
    if needed[best] is None:
        return DEFAULT, ("too few good recordings in validation to tell a gain from chance: the default "
                         f"({base:.3f}) stays"), scores, needed
    return DEFAULT, (f"the best gain over the default's validation AUROC {base:.3f} ({scores[best]:.3f}) is "
                     f"within what chance gives on these recordings (needs {needed[best]:.3f})"), scores, needed


def choose_blend(model: Any, x_val: np.ndarray, labels: list[str], recordings: list[str], normal: str,
                 reporter: Any = None) -> dict[str, Any]:
    """Score every candidate on the validation recordings, set the chosen blend in ``model``'s "mix" layer and
    return the record (the choice, why, and each candidate's validation AUROC)."""
    from studio.core.tfenv import load_tf

    from .detector import layer, set_consts
    from .fitting import predict
    from .scoring import Scored

    _, keras = load_tf()
    parts = keras.Model(model.input, [layer(model, "nearest").output, layer(model, "residual").output])
    near, res = (np.asarray(v, dtype=np.float64).ravel() for v in predict(parts, x_val, reporter=reporter))
    # per recording, as everywhere: its highest window (Scored.units)
    units = {name: Scored(a * near + b * res, None, labels, recordings, None, normal, recordings).units()
             for name, _, (a, b) in CANDIDATES}
    bad = np.array([lab != normal for lab in units[DEFAULT]["labels"]], dtype=bool)
    chosen, why, scores, needed = pick({name: u["scores"] for name, u in units.items()}, bad)
    set_consts(layer(model, "mix"), mix=np.array(MIXES[chosen]))
    return {"chosen": chosen, "default": DEFAULT, "why": why, "mix": list(MIXES[chosen]), "val_auroc": scores,
            "gain_needed": needed, "rule": "delong",
            "described": {n: words for n, words, _ in CANDIDATES},
            "n_val_defect_recordings": int(bad.sum()), "n_val_good_recordings": int((~bad).sum())}


def default_record(n_good: int) -> dict[str, Any]:
    """The record of a run whose validation holds no defect recordings: the default blend, unmeasured."""
    return {"chosen": DEFAULT, "default": DEFAULT, "mix": list(MIXES[DEFAULT]), "val_auroc": {},
            "why": "no defect examples in validation: the default (best across the development data)",
            "described": {n: words for n, words, _ in CANDIDATES},
            "n_val_defect_recordings": 0, "n_val_good_recordings": int(n_good)}


def apply_mix(model: Any, spec: Any, mix: Any) -> tuple[Any, Any]:
    """The detector scoring with the blend ``mix`` (nearest window, shape residual): the nearest window alone (no
    residual weight) drops the residual from the graph; any other blend is set in the "mix" layer."""
    from .detector import layer, set_consts

    if float(mix[1]) == 0.0:
        return without_residual(model, spec)
    set_consts(layer(model, "mix"), mix=np.asarray(mix, dtype=float))
    return model, spec


def without_residual(model: Any, spec: Any) -> tuple[Any, Any]:
    """The same detector without the shape residual (when the nearest window alone was chosen)."""
    from .detector import DetectorSpec, build_detector

    params = {k: v for k, v in spec.params.items() if k != "residual"}
    out_spec = DetectorSpec(spec.kind, spec.input_shape, params)
    out = build_detector(out_spec)
    for name in ("features", "nearest"):
        out.get_layer(name).set_weights(model.get_layer(name).get_weights())
    return out, out_spec


def selection_text(record: dict[str, Any] | None) -> str:
    """The choice in plain words for the Train page ('' for detectors without one)."""
    if not record or record.get("chosen") not in MIXES:
        return ""
    words = dict((n, w) for n, w, _ in CANDIDATES)
    text = f"Scorer: {words[record['chosen']]}"
    scores = {k: v for k, v in (record.get("val_auroc") or {}).items() if v is not None}
    if not scores:
        return text + " (the default: no defect examples in validation to compare the scorers on)."
    listed = ", ".join(f"{words.get(k, k)} {float(v):.3f}" for k, v in scores.items())
    return text + f" — {record.get('why', '')}. Validation AUROC of each: {listed}."
