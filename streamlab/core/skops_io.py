"""``skops.io`` (the safe format of our scikit-learn models), imported without importing torch.

Why: ``skops.io`` lists its trusted types at import with scikit-learn's ``all_estimators()``, whose package walk
imports every subpackage of scikit-learn on the way, ``sklearn.externals.array_api_compat.torch`` included, and that
imports torch when it is installed (it is: the recommender and the QoE sequence detector use it). Every process that
loads only scikit-learn models (an ingest or a live channel predicting its ladder, ``streamlab ladder optimize
--method predicted``) paid ~2 s and ~180 MB of memory for a library it never calls. The walk skips a subpackage whose import fails with ``ImportError``, and that one defines no estimator, so
torch is made unimportable for the duration of that one import only; a process that already has torch is left alone.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from types import ModuleType


class _NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"{name} is not imported while skops.io lists its trusted types")
        return None


def skops_io() -> ModuleType:
    """The ``skops.io`` module; its first import in a process without torch does not import torch."""
    if "skops.io" in sys.modules or "torch" in sys.modules:
        return importlib.import_module("skops.io")
    blocker = _NoTorch()
    sys.meta_path.insert(0, blocker)
    try:
        return importlib.import_module("skops.io")
    finally:
        sys.meta_path.remove(blocker)
