"""Committed small detector artifacts, so ``streamlab qoe detect`` works on a fresh machine.

One directory per detector (``rule``, ``zscore``, ``iforest``, ``sequence``), each written by
``streamlab qoe train --out models/qoe/weights``; ``sequence`` is the default.
"""

from pathlib import Path

DEFAULT = "sequence"


def default_dir() -> Path:
    return Path(__file__).resolve().parent / DEFAULT
