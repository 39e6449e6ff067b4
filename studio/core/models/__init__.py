"""Architecture registry and builders: every model Studio trains is an id plus parameters, rebuilt on demand.

``registry`` is plain data (listing architectures never imports TensorFlow); ``image``, ``sensor`` and
``minirocket`` hold the builders; ``cost`` counts parameters, MACs and sizes for the model cards.
"""

from __future__ import annotations

from typing import Any

from studio.core.errors import ConfigError

from .cost import (ModelEstimate, count_macs, default_input_shape, describe_architectures, estimate)
from .image import _build_compact_cnn, _build_mobilenetv2, mobilenet_base
from .minirocket import build_minirocket
from .registry import REGISTRY, ArchSpec, check_input_shape, get_spec, resolve_params
from .sensor import _build_cnn1d, _build_dense, _build_fcn, _build_inception, _build_resnet1d

__all__ = [
    "REGISTRY", "ArchSpec", "ModelEstimate", "build_model", "check_input_shape", "count_macs",
    "default_input_shape", "describe_architectures", "estimate", "get_spec", "mobilenet_base", "resolve_params",
    "sensor_archs",
]

BUILDERS = {
    "mobilenetv2": _build_mobilenetv2,
    "compact_cnn": _build_compact_cnn,
    "cnn1d": _build_cnn1d,
    "dense": _build_dense,
    "fcn": _build_fcn,
    "resnet1d": _build_resnet1d,
    "inception": _build_inception,
    "minirocket": build_minirocket,
}


def build_model(arch_id: str, input_shape: tuple[int, ...], n_classes: int, **params: Any) -> Any:
    """A freshly initialised flat functional tf_keras model; outputs softmax probabilities.

    ``params`` are the architecture's parameters (see ``REGISTRY[arch_id].allowed``); missing ones take the
    defaults. Pretrained weights are loaded by the caller (:func:`studio.core.weights.load_imagenet`), and
    MiniRocket's biases and head by :func:`studio.core.models.minirocket.fit`, so a model rebuilt from
    ``model.json`` never reaches for the network.
    """
    input_shape = tuple(int(v) for v in input_shape)
    check_input_shape(arch_id, input_shape)
    if n_classes < 2:
        raise ConfigError(f"a classifier needs at least 2 classes, got {n_classes}")
    p = resolve_params(arch_id, **params)
    return BUILDERS[arch_id](input_shape, int(n_classes), p)


def sensor_archs() -> list[str]:
    return [s.id for s in REGISTRY.values() if s.task == "sensor"]
