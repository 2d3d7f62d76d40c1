"""Shared by packaging tests in other folders: a copy of configs/ with ``packaging:`` overridden.

``package_title`` reads configs/streaming.yaml itself, so tests choose packaging options the way a
deployment does: through ``STREAMLAB_CONFIG_DIR``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from streamlab.core.config import config_dir

WITH_TRICK_AND_THUMBNAILS = {"trick_play_factor": 1,
                             "thumbnails": {"enabled": True, "interval_s": 2.0, "width": 160, "columns": 5, "rows": 5}}


def packaging_configs(tmp: Path, **packaging: object) -> Path:
    """A copy of configs/ under ``tmp`` with ``packaging:`` keys replaced by ``packaging``."""
    out = tmp / "configs"
    shutil.copytree(config_dir(), out)
    streaming = yaml.safe_load((out / "streaming.yaml").read_text())
    streaming["packaging"].update(packaging)
    (out / "streaming.yaml").write_text(yaml.safe_dump(streaming))
    return out
