"""Small helpers shared by the architecture builders (TensorFlow is loaded inside functions only)."""

from __future__ import annotations

from typing import Any


def _filters(base: int, width: float) -> int:
    return max(4, int(round(base * width / 4.0)) * 4)


def _head(keras: Any, x: Any, n_classes: int, dropout: float) -> Any:
    L = keras.layers
    if dropout > 0:
        x = L.Dropout(dropout, name="head_dropout")(x)
    return L.Dense(n_classes, activation="softmax", name="predictions")(x)


def _tf() -> tuple[Any, Any]:
    from studio.core.tfenv import load_tf

    return load_tf()
