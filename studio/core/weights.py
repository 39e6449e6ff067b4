"""Finding ImageNet weights for MobileNetV2 without ever hanging on a network that is not there.

Lookup order: a local ``.h5`` path the user gave; the app's bundled ``resources/weights/``; Keras's own cache
(``~/.keras/models``, or ``$KERAS_HOME/models``); and only then a download, and only after a 3-second socket
HEAD request says the download host answers. Offline with nothing found raises :class:`WeightsUnavailableError`
within seconds, naming the file to put where.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from studio.core.errors import WeightsUnavailableError
from studio.resources import resource_path

BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
ROWS = (96, 128, 160, 192, 224)
CONNECT_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 60.0


def weights_filename(alpha: float, rows: int) -> str:
    """Keras's standard no-top file name, e.g. ``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5``."""
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{int(rows)}_no_top.h5"


def nearest_rows(input_size: int) -> list[int]:
    """Trained resolutions ordered by closeness to ``input_size`` (any of them loads: no-top weights are
    size-independent, the nearest one was simply trained on the most similar scale)."""
    return sorted(ROWS, key=lambda r: (abs(r - int(input_size)), r))


def keras_cache_dir() -> Path:
    base = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(base) / "models"


def search_dirs() -> list[Path]:
    return [resource_path("weights"), keras_cache_dir()]


def find_local(alpha: float, input_size: int) -> Path | None:
    """A local no-top weights file for ``alpha`` (the nearest resolution first), or None. Never uses the network."""
    for rows in nearest_rows(input_size):
        name = weights_filename(alpha, rows)
        for folder in search_dirs():
            candidate = folder / name
            if candidate.is_file() and candidate.stat().st_size > 0:
                return candidate
    return None


def imagenet_available(alpha: float, input_size: int = 96) -> bool:
    """True when ImageNet weights for ``alpha`` are on this machine (defaults only pick pretrained then)."""
    return find_local(alpha, input_size) is not None


def is_online(url: str | None = None, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """A bounded reachability check: one HTTP HEAD of the weights URL (DNS, connect and reply within
    ``timeout``). A bare TCP connect is not enough: proxies and captive networks accept any connection."""
    if os.environ.get("STUDIO_OFFLINE"):
        return False
    import urllib.error
    import urllib.request

    url = url or BASE_URL + weights_filename(0.35, 96)
    previous = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(timeout)
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as reply:
            return 200 <= int(reply.status) < 400
    except (OSError, ValueError, urllib.error.URLError):
        return False
    finally:
        socket.setdefaulttimeout(previous)


def _download(alpha: float, rows: int) -> Path:
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    name = weights_filename(alpha, rows)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # get_file has no timeout of its own
    try:
        return Path(keras.utils.get_file(name, BASE_URL + name, cache_subdir="models"))
    except Exception as exc:  # noqa: BLE001 - any network/HTTP failure means the same thing to the user
        raise WeightsUnavailableError(
            f"downloading ImageNet weights failed ({exc})",
            hint=f"put {name} in {keras_cache_dir()} or pass --pretrained PATH, or use --pretrained none",
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)


def resolve_weights(pretrained: str, alpha: float, input_size: int, allow_download: bool = True) -> Path | None:
    """The weights file for a ``pretrained`` setting ("none", "imagenet" or a path), or None for "none"."""
    if not pretrained or pretrained == "none":
        return None
    if pretrained != "imagenet":
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError("weights file not found", path=path, hint="give the path of an .h5 file")
        if path.suffix.lower() not in (".h5", ".hdf5"):
            raise WeightsUnavailableError("weights must be a Keras .h5 file", path=path)
        return path
    local = find_local(alpha, input_size)
    if local is not None:
        return local
    rows = nearest_rows(input_size)[0]
    name = weights_filename(alpha, rows)
    if not allow_download or not is_online():
        raise WeightsUnavailableError(
            f"ImageNet weights for MobileNetV2 width {alpha} are not on this machine and there is no network",
            hint=f"copy {name} into {keras_cache_dir()}, pass --pretrained PATH, or use --pretrained none",
        )
    return _download(alpha, rows)


def load_imagenet(model: Any, path: Path, width: float) -> int:
    """Load MobileNetV2 no-top weights from ``path`` into the base layers of a Studio ``mobilenetv2`` model.

    Matched by layer name (the base keeps Keras's names), so the head stays freshly initialised. Returns the
    number of layers loaded; a file that does not fit raises WeightsUnavailableError.
    """
    import h5py

    loaded = 0
    try:
        with h5py.File(path, "r") as fh:
            group = fh["model_weights"] if "model_weights" in fh else fh
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("layer_names", [])]
            by_name = {layer.name: layer for layer in model.layers}
            for lname in names:
                layer = by_name.get(lname)
                g = group[lname]
                wnames = [n.decode() if isinstance(n, bytes) else n for n in g.attrs.get("weight_names", [])]
                if not wnames:
                    continue
                if layer is None:
                    continue
                current = layer.get_weights()
                # Shapes from the metadata first: a damaged or hostile file may declare a huge dataset.
                shapes = [tuple(g[w].shape) for w in wnames]
                if len(shapes) != len(current) or any(a != b.shape for a, b in zip(shapes, current)):
                    raise WeightsUnavailableError(
                        f"weights for layer {lname!r} do not fit MobileNetV2 width {width} "
                        f"(the file has shapes {shapes})",
                        path=path,
                        hint="use a no-top MobileNetV2 file of the same width, with 3-channel input",
                    )
                layer.set_weights([g[w][()] for w in wnames])
                loaded += 1
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise WeightsUnavailableError(f"cannot read the weights file ({exc})", path=path) from exc
    if loaded == 0:
        raise WeightsUnavailableError("no MobileNetV2 layers found in the weights file", path=path)
    return loaded
