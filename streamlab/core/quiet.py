"""Library chatter a CLI run should not print: one place that knows which, and why."""

from __future__ import annotations

import logging
import warnings


def quiet_lightning() -> None:
    """Lightning's INFO banners (GPU available, model summary) and torch's ``LeafSpec`` FutureWarning.

    The warning comes from Lightning 2.x's own pytree copy calling a class torch 2.13 deprecated: it
    names neither our code nor anything a user can change, and printed once per training run.
    """
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning)
