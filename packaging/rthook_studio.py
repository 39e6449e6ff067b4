"""PyInstaller runtime hook: runs before any app code in the frozen bundle.

tensorflow-model-optimization needs Keras 2 (tf_keras); TensorFlow decides which Keras to use when it is first
imported, so the switch must be set before anything could import it. studio.core.tfenv sets it too; doing it
here as well covers any import path we did not foresee.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
