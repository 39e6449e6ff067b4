"""The one place TensorFlow is imported.

tensorflow-model-optimization only works with Keras 2, so ``TF_USE_LEGACY_KERAS=1`` must be set before
TensorFlow is first imported. Every core module gets TensorFlow and Keras from :func:`load_tf`, called inside
functions, never at module import: ``import tensorflow`` takes ~7 s and must stay off the start-up path.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

_lock = threading.Lock()
_loaded: tuple[ModuleType, ModuleType] | None = None


def _prepare_environment() -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # bit-stable results across runs on CPU


def load_tf() -> tuple[ModuleType, ModuleType]:
    """Return ``(tensorflow, tf_keras)``, importing them on first use (thread-safe)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            _prepare_environment()
            import tensorflow as tf
            import tf_keras

            tf.get_logger().setLevel("ERROR")
            _loaded = (tf, tf_keras)
    return _loaded


def load_tfmot() -> ModuleType:
    """Return tensorflow_model_optimization (after TensorFlow was set up for Keras 2)."""
    load_tf()
    import tensorflow_model_optimization as tfmot

    return tfmot


def is_loaded() -> bool:
    return _loaded is not None


