"""streamlab: recommenders, per-title encoding, learned ABR and QoE anomaly detection, with a real
streaming stack that calls them.

One importable namespace. The repository's top-level folders install as subpackages
(``models/`` is :mod:`streamlab.models`, ``streaming/`` is :mod:`streamlab.streaming`, ...); this
folder holds what stands under and over them: the ground floor :mod:`streamlab.core` (errors,
paths, config loading, Ray runtime, progress, MLflow tracking and the model registry) and the
command line :mod:`streamlab.cli`. Imports run one way; ``lint-imports`` checks the layers
declared in ``pyproject.toml``.
"""

from importlib import metadata

try:
    __version__ = metadata.version("streamlab")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
