"""Throughput-history features, one definition for training data and for live decisions.

The quantity predicted is the *goodput* of the next chunk: bytes over (download time - RTT),
i.e. the payload rate the link gave the chunk. Features are log-ratios of recent goodputs to
their harmonic mean (scale-free, so a model trained on 0.2-6 Mbit/s traces transfers to faster
or slower links), plus the absolute level and its spread. The target is the log-ratio of the next
goodput to the same harmonic mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from streamlab.models.abr.simulator import LINK_RTT_MS

HISTORY = 8
"""Past chunk goodputs the model sees."""
HARMONIC_WINDOW = 5
"""Goodputs in the harmonic-mean anchor (the RobustMPC window)."""
FEATURES = HISTORY + 5


def transfer_ms(delay_ms: float) -> float:
    """A chunk's download time with the fixed RTT taken out (floored at 1 ms): the payload's time on the link."""
    return max(delay_ms - LINK_RTT_MS, 1.0)


def goodput_bytes_s(chunk_bytes: float, delay_ms: float) -> float:
    """Payload rate of one chunk: bytes over :func:`transfer_ms`."""
    return chunk_bytes / (transfer_ms(delay_ms) / 1000.0)


def harmonic_anchor(history: Sequence[float]) -> float:
    window = history[-HARMONIC_WINDOW:]
    return len(window) / sum(1.0 / g for g in window)


def feature_vector(history: Sequence[float], chunks_remaining: int, total_chunks: int = 48) -> tuple[np.ndarray, float]:
    """Features from the goodput history (oldest first, at least one entry) and the anchor (bytes/s)."""
    anchor = harmonic_anchor(history)
    log_anchor = math.log(anchor)
    recent = history[-HISTORY:]
    logs = [math.log(g) - log_anchor for g in recent]
    x = np.zeros(FEATURES)
    x[HISTORY - len(logs) : HISTORY] = logs
    x[HISTORY] = log_anchor - math.log(1e5)  # ~0.8 Mbit/s
    x[HISTORY + 1] = float(np.std(logs)) if len(logs) > 1 else 0.0
    x[HISTORY + 2] = len(recent) / HISTORY
    x[HISTORY + 3] = chunks_remaining / total_chunks
    x[HISTORY + 4] = min(logs[-HARMONIC_WINDOW:]) if logs else 0.0
    return x, anchor
