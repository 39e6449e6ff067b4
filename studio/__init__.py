"""Small Model Studio: build, shrink and export small neural networks without writing code.

Importing this package must stay cheap: it never imports TensorFlow or Qt. TensorFlow is loaded on
demand through :func:`studio.core.tfenv.load_tf`.
"""

__version__ = "0.1.0"
