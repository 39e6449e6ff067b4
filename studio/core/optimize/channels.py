"""Channel (structured) pruning, part 1: which channels of a functional Keras model may be removed together.

Magnitude pruning zeroes weights and leaves every tensor as wide as it was: the .tflite a device flashes, its
TFLite-Micro arena and its latency do not change. Removing whole filters makes the model genuinely narrower,
but a filter's output channel is read by every layer downstream, so channels must be removed consistently:

- a **channel space** is a set of channels that must be kept or removed together. Each producer (Conv, Dense,
  SeparableConv, Conv-transpose) creates one for its outputs; element-wise layers (batch norm, activations,
  pooling, dropout, padding, depthwise convolutions with multiplier 1) pass their input's space through;
- ``Add`` / ``Multiply`` / ``Subtract`` / ``Average`` / ``Maximum`` / ``Minimum`` *unify* their inputs' spaces
  (a residual block's shortcut and its branch keep the same channels); ``Concatenate`` on the channel axis lays
  its inputs' spaces side by side; ``Flatten`` repeats its input's space once per spatial position;
- spaces that touch the model's input or output, a layer used twice, a layer that mixes channels in a way not
  listed here (Reshape, Permute, LayerNormalization, softmax, RNNs, custom layers, nested models...) are
  **frozen**: never pruned. So an unknown layer can make pruning less effective but never wrong.

The walk is over the model's own graph (``Functional`` nodes), not over any architecture's code: every
registry architecture, present or future, is handled by the same rules. :mod:`.rebuild` turns the result
into a narrower model and copies the surviving weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

# Layers whose output channels are chosen freely (their config key) and which read every input channel.
PRODUCERS = {
    "Conv1D": "filters", "Conv2D": "filters", "Conv3D": "filters", "Dense": "units",
    "SeparableConv1D": "filters", "SeparableConv2D": "filters",
    "Conv1DTranspose": "filters", "Conv2DTranspose": "filters", "Conv3DTranspose": "filters",
}
# Layers that act on each channel separately: output channels = input channels.
PASSTHROUGH = {
    "BatchNormalization", "ReLU", "LeakyReLU", "ELU", "PReLU", "ThresholdedReLU", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
    "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "ZeroPadding1D",
    "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D",
    "UpSampling3D", "Activation", "DepthwiseConv2D", "DepthwiseConv1D",
}
MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
# Activations that mix channels (normalize across them): an Activation layer with one of these is frozen.
MIXING_ACTIVATIONS = {"softmax", "log_softmax"}


@dataclass(frozen=True)
class Seg:
    """One run of channels from one space."""

    space: int
    size: int


@dataclass(frozen=True)
class Tile:
    """``reps`` copies of an inner map side by side (what Flatten makes of ``[..., positions, channels]``)."""

    reps: int
    inner: tuple["Seg | Tile", ...]

    @property
    def size(self) -> int:
        return self.reps * sum(s.size for s in self.inner)


CMap = tuple[Union[Seg, Tile], ...]


def map_size(cmap: CMap) -> int:
    return sum(s.size for s in cmap)


@dataclass
class LayerRecord:
    """What the walk learned about one layer: its channel maps in and out, and its role."""

    index: int
    name: str
    cls: str
    role: str  # "producer" | "passthrough" | "merge" | "concat" | "flatten" | "input" | "frozen"
    inputs: list[CMap] = field(default_factory=list)
    output: CMap = ()
    space: int | None = None  # the space a producer created
    bn: str | None = None  # the batch norm reading this producer's output directly (for BN-scale ranking)


class ChannelGraph:
    """Channel spaces of a model (union-find), with the maps of every layer's inputs and output.

    A space can be *split* into consecutive sub-spaces when it must line up with a concatenation (an
    InceptionTime-style shortcut conv added to a concat of branches): the producer then keeps a few channels of
    each part, so every part stays aligned with its branch. Maps keep naming the original space; ``leaves``
    resolves it to the current parts.
    """

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.sizes: list[int] = []
        self.frozen: list[bool] = []
        self.children: dict[int, list[int]] = {}
        self.why: dict[int, str] = {}
        self.layers: dict[str, LayerRecord] = {}
        self.order: list[str] = []

    # ------------------------------------------------------------------ union-find
    def new_space(self, size: int, frozen: bool = False, why: str = "") -> CMap:
        return (Seg(self._space(size, frozen, why), int(size)),)

    def _space(self, size: int, frozen: bool = False, why: str = "") -> int:
        self.parent.append(len(self.parent))
        self.sizes.append(int(size))
        self.frozen.append(bool(frozen))
        if frozen:
            self.why[len(self.parent) - 1] = why
        return len(self.parent) - 1

    def find(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def leaves(self, s: int) -> list[int]:
        """The unsplit spaces (roots) that make up space ``s``, in channel order."""
        r = self.find(s)
        if r not in self.children:
            return [r]
        return [leaf for c in self.children[r] for leaf in self.leaves(c)]

    def _union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            if self.frozen[rb] and not self.frozen[ra]:
                self.frozen[ra] = True
                self.why[ra] = self.why.get(rb, "")

    def _split(self, root: int, first: int) -> tuple[int, int]:
        size = self.sizes[root]
        kids = [self._space(first, self.frozen[root], self.why.get(root, "")),
                self._space(size - first, self.frozen[root], self.why.get(root, ""))]
        self.children[root] = kids
        return kids[0], kids[1]

    def freeze_space(self, s: int, why: str) -> None:
        for r in self.leaves(s):
            if not self.frozen[r]:
                self.frozen[r] = True
                self.why[r] = why

    def freeze(self, cmap: CMap, why: str) -> None:
        for seg in cmap:
            if isinstance(seg, Tile):
                self.freeze(seg.inner, why)
            else:
                self.freeze_space(seg.space, why)

    def _flat(self, cmap: CMap) -> list[Any]:
        out: list[Any] = []
        for seg in cmap:
            out += [seg] if isinstance(seg, Tile) else [Seg(r, self.sizes[r]) for r in self.leaves(seg.space)]
        return out

    def unify(self, a: CMap, b: CMap, why: str) -> None:
        """Tie two maps of the same tensor width channel by channel, splitting spaces to line them up; freeze
        both when they cannot be lined up (e.g. a Flatten against a plain space)."""
        xs, ys = self._flat(a), self._flat(b)
        i = j = 0
        while i < len(xs) and j < len(ys):
            x, y = xs[i], ys[j]
            if isinstance(x, Tile) or isinstance(y, Tile):
                if not (isinstance(x, Tile) and isinstance(y, Tile) and x.reps == y.reps and x.size == y.size):
                    self.freeze(a, why)
                    self.freeze(b, why)
                    return
                self.unify(x.inner, y.inner, why)
            elif x.size == y.size:
                self._union(x.space, y.space)
            elif x.size > y.size:
                head, tail = self._split(self.find(x.space), y.size)
                xs[i : i + 1] = [Seg(head, y.size), Seg(tail, x.size - y.size)]
                continue
            else:
                head, tail = self._split(self.find(y.space), x.size)
                ys[j : j + 1] = [Seg(head, x.size), Seg(tail, y.size - x.size)]
                continue
            i, j = i + 1, j + 1
        if i < len(xs) or j < len(ys):  # widths differ: cannot happen for a valid graph, but never guess
            self.freeze(a, why)
            self.freeze(b, why)

    # ------------------------------------------------------------------ queries
    def producer_parts(self, rec: LayerRecord) -> list[tuple[int, int, int]]:
        """(leaf space, offset, size) of each part of a producer's output channels."""
        parts, offset = [], 0
        for leaf in self.leaves(rec.space):  # type: ignore[arg-type]
            parts.append((leaf, offset, self.sizes[leaf]))
            offset += self.sizes[leaf]
        return parts

    def prunable_spaces(self) -> list[int]:
        leaves = {leaf for r in self.producers() for leaf, _, _ in self.producer_parts(r)}
        return sorted(leaf for leaf in leaves if not self.frozen[leaf])

    def producers(self) -> list[LayerRecord]:
        return [self.layers[n] for n in self.order if self.layers[n].space is not None]

    def producers_of(self, leaf: int) -> list[tuple[LayerRecord, int]]:
        """(producer, offset of this leaf in its output) for every producer that writes space ``leaf``."""
        return [(rec, off) for rec in self.producers() for lf, off, _ in self.producer_parts(rec) if lf == leaf]

    def indices(self, cmap: CMap, kept: dict[int, np.ndarray]) -> np.ndarray:
        """Positions (in the original tensor's last axis) of the channels ``kept`` leaves in ``cmap``."""
        out: list[np.ndarray] = []
        offset = 0
        for seg in cmap:
            if isinstance(seg, Tile):
                inner = self.indices(seg.inner, kept)
                width = map_size(seg.inner)
                out += [offset + p * width + inner for p in range(seg.reps)]
                offset += seg.size
                continue
            for leaf in self.leaves(seg.space):
                keep = kept.get(leaf)
                out.append(offset + (np.arange(self.sizes[leaf]) if keep is None else np.asarray(keep)))
                offset += self.sizes[leaf]
        return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)


# ---------------------------------------------------------------------------------------------- the walk
def _last_dim(shape: Any) -> int:
    return int(tuple(shape)[-1])


def _output_shapes(layer: Any) -> list[tuple]:
    shape = layer.output_shape
    return list(shape) if isinstance(shape, list) else [shape]


def analyze(model: Any) -> ChannelGraph:
    """Walk ``model``'s graph once and return its channel spaces (see the module docstring)."""
    g = ChannelGraph()
    maps: dict[tuple[str, int, int], CMap] = {}
    network_nodes = getattr(model, "_network_nodes", None)
    for index, layer in enumerate(model.layers):
        cls = type(layer).__name__
        nodes = [i for i, _ in enumerate(layer._inbound_nodes)
                 if network_nodes is None or f"{layer.name}_ib-{i}" in network_nodes]
        rec = LayerRecord(index, layer.name, cls, "frozen")
        g.layers[layer.name] = rec
        g.order.append(layer.name)
        if len(nodes) != 1:  # shared layer (or not reached): its weights serve several inputs
            for i in nodes:
                for t in layer._inbound_nodes[i].keras_inputs:
                    g.freeze(maps[_key(t)], f"{layer.name} is used twice")
                for k, shape in enumerate(_output_shapes(layer)):
                    maps[(layer.name, i, k)] = g.new_space(_last_dim(shape), True, f"{layer.name} is used twice")
            continue
        node = layer._inbound_nodes[nodes[0]]
        inputs = [maps[_key(t)] for t in node.keras_inputs]
        rec.inputs = inputs
        rec.output = _visit(g, layer, cls, rec, inputs)
        maps[(layer.name, nodes[0], 0)] = rec.output
    for t in model.outputs:
        g.freeze(maps[_key(t)], "model output")
    _link_batchnorms(g)
    return g


def _key(tensor: Any) -> tuple[str, int, int]:
    h = tensor._keras_history
    return (h.layer.name, int(h.node_index), int(h.tensor_index))


def _visit(g: ChannelGraph, layer: Any, cls: str, rec: LayerRecord, inputs: list[CMap]) -> CMap:
    """The output map of one layer; sets ``rec.role`` and freezes what the layer does not allow."""
    out_shapes = _output_shapes(layer)
    width = _last_dim(out_shapes[0])
    if cls == "InputLayer":
        rec.role = "input"
        return g.new_space(width, True, "model input")
    if len(out_shapes) == 1 and inputs:
        role = _role(layer, cls, inputs, width)
        if role == "producer":
            rec.role, out = role, g.new_space(width)
            rec.space = out[0].space  # type: ignore[union-attr]
            return out
        if role == "passthrough":
            rec.role = role
            return inputs[0]
        if role == "merge":
            rec.role = role
            full = [m for m in inputs if map_size(m) == width]
            for m in inputs:
                if map_size(m) != width:  # broadcast operand (e.g. a 1-channel gate): keep it whole
                    g.freeze(m, f"{layer.name} broadcasts it")
            for m in full[1:]:
                g.unify(full[0], m, f"{layer.name} joins inputs of different layouts")
            return full[0]
        if role == "concat":
            rec.role = role
            return tuple(seg for m in inputs for seg in m)
        if role == "flatten":
            rec.role = role
            reps = width // max(1, map_size(inputs[0]))
            return inputs[0] if reps == 1 else (Tile(reps, tuple(inputs[0])),)
    rec.role = "frozen"
    for m in inputs:
        g.freeze(m, f"{layer.name} ({cls}) mixes channels")
    return g.new_space(width, True, f"{layer.name} ({cls}) mixes channels")


def _role(layer: Any, cls: str, inputs: list[CMap], width: int) -> str:
    if layer.weights and getattr(layer, "trainable", True) is False and cls not in PASSTHROUGH:
        return "frozen"  # fixed (non-trainable) kernels, e.g. random-feature transforms: keep them whole
    if cls in PRODUCERS and len(inputs) == 1:
        if int(getattr(layer, "groups", 1) or 1) != 1:
            return "frozen"
        if cls.startswith("SeparableConv") and int(getattr(layer, "depth_multiplier", 1)) != 1:
            return "frozen"
        return "producer"
    if cls in PASSTHROUGH and len(inputs) == 1 and map_size(inputs[0]) == width:
        if cls.startswith("DepthwiseConv") and int(getattr(layer, "depth_multiplier", 1)) != 1:
            return "frozen"
        if cls == "Activation" and getattr(layer.activation, "__name__", "") in MIXING_ACTIVATIONS:
            return "frozen"
        if cls == "BatchNormalization" and _axis(layer) not in (-1, len(layer.input_shape) - 1):
            return "frozen"
        return "passthrough"
    if cls in MERGES and len(inputs) >= 2:
        return "merge"
    if cls == "Concatenate" and _axis(layer) in (-1, len(layer.input_shape[0]) - 1):
        return "concat" if sum(map_size(m) for m in inputs) == width else "frozen"
    if cls == "Reshape" and len(inputs) == 1 and map_size(inputs[0]) == width:
        return "passthrough"  # only the positions move (e.g. [1, 1, C] <-> [C]); channels stay last
    if cls == "Flatten" and len(inputs) == 1 and width % max(1, map_size(inputs[0])) == 0:
        return "flatten"
    return "frozen"


def _axis(layer: Any) -> int:
    axis = getattr(layer, "axis", -1)
    if isinstance(axis, (list, tuple)):
        return int(axis[0]) if len(axis) == 1 else -999
    return int(axis)


def _link_batchnorms(g: ChannelGraph) -> None:
    """Remember which batch norm reads each producer's output directly (its scales rank the filters)."""
    by_space = {rec.space: rec for rec in g.layers.values() if rec.space is not None}
    for rec in g.layers.values():
        if rec.cls == "BatchNormalization" and rec.role == "passthrough" and rec.inputs:
            m = rec.inputs[0]
            if len(m) == 1 and isinstance(m[0], Seg) and m[0].space in by_space:
                by_space[m[0].space].bn = rec.name
