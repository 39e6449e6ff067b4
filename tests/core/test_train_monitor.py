"""TrainingMonitor: the best epoch, plateau learning-rate cuts, early stopping and NaN epochs, without Keras."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from studio.core.train_callbacks import LR_FACTOR, MIN_LR, TrainingMonitor


def run(monitor: TrainingMonitor, rows: list[tuple[float | None, float | None]], lr: float = 1e-3) -> list:
    """Feed (loss, accuracy) per epoch, applying each learning-rate cut as the callback does."""
    out = []
    for epoch, (loss, acc) in enumerate(rows):
        d = monitor.update(epoch, loss, acc, lr)
        if d.learning_rate is not None:
            lr = d.learning_rate
        out.append(d)
        if d.stop:
            break
    return out


def test_best_is_lowest_loss_then_accuracy() -> None:
    m = TrainingMonitor(patience=0)
    ds = run(m, [(1.0, 0.5), (0.8, 0.4), (0.9, 0.9), (0.8, 0.6), (0.8, 0.6)])
    assert [d.best for d in ds] == [True, True, False, True, False]  # a tie in loss is won by accuracy only
    assert (m.best_epoch, m.best_loss, m.best_acc) == (4, 0.8, 0.6)
    assert not any(d.stop or d.learning_rate for d in ds)  # patience 0: no cuts, no stop


def test_first_epoch_is_best_even_when_nan_and_nan_never_wins_later() -> None:
    m = TrainingMonitor(patience=10)
    ds = run(m, [(math.nan, math.nan), (2.0, 0.3), (math.nan, 0.9), (None, None), (1.5, math.nan)])
    assert [d.best for d in ds] == [True, True, False, False, True]
    assert m.best_epoch == 5 and m.best_loss == 1.5 and m.best_acc == -1.0


def test_plateau_cuts_the_learning_rate_at_half_patience() -> None:
    m = TrainingMonitor(patience=6)  # plateau after 3 epochs without improvement
    ds = run(m, [(1.0, 0.5)] + [(1.0, 0.5)] * 8, lr=1e-3)
    cuts = [(i, d.learning_rate) for i, d in enumerate(ds) if d.learning_rate is not None]
    assert cuts == [(3, pytest.approx(1e-3 * LR_FACTOR)), (6, pytest.approx(1e-3 * LR_FACTOR**2))]
    assert ds[-1].stop and len(ds) == 7 and m.early_stopped  # stops 6 epochs after the last improvement


def test_improvement_resets_patience_and_plateau() -> None:
    m = TrainingMonitor(patience=4)  # plateau 2
    losses = [1.0, 1.0, 1.0, 0.9, 1.0, 1.0, 1.0, 1.0]
    ds = run(m, [(v, 0.5) for v in losses])
    assert [i for i, d in enumerate(ds) if d.learning_rate] == [2, 5, 7]  # half a patience after each cut
    assert [d.stop for d in ds] == [False] * 7 + [True]  # last improvement at epoch 3, stop at 3 + 4
    # a loss drop within 1e-4 is no improvement; an accuracy gain is one
    m = TrainingMonitor(patience=2)
    ds = run(m, [(1.0, 0.5), (0.99995, 0.5), (0.99991, 0.5)])
    assert ds[-1].stop and ds[1].best  # still the best epoch (lower loss), but not an improvement
    m = TrainingMonitor(patience=2)
    assert not any(d.stop for d in run(m, [(1.0, 0.5), (1.0, 0.6), (1.0, 0.7), (1.0, 0.8)]))


def test_small_patience_plateau_is_at_least_two_epochs_and_lr_has_a_floor() -> None:
    m = TrainingMonitor(patience=1)
    assert m.plateau == 2
    ds = run(m, [(1.0, 0.5), (1.0, 0.5)])
    assert ds[1].stop and ds[1].learning_rate is None  # stopped before any plateau
    m = TrainingMonitor(patience=20, min_lr=MIN_LR)
    ds = run(m, [(1.0, 0.5)] * 20, lr=2e-6)
    assert all(d.learning_rate is None for d in ds)  # 2e-6 * 0.3 < 1e-6: never cut below the floor


def test_nan_epochs_are_not_improvements_so_a_diverged_run_stops() -> None:
    m = TrainingMonitor(patience=3)
    ds = run(m, [(0.7, 0.6)] + [(math.nan, math.nan)] * 5)
    assert len(ds) == 4 and ds[-1].stop and m.best_epoch == 1


def test_the_monitor_needs_no_tensorflow() -> None:
    code = ("import sys, studio.core.train_callbacks as t; m = t.TrainingMonitor(3); m.update(0, 1.0, 0.5, 1e-3);"
            "print('tensorflow' in sys.modules, 'tf_keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
