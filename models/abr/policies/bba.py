"""BBA, the buffer-based policy (Huang et al., SIGCOMM 2014), as in Pensieve's ``bb.py``."""

from __future__ import annotations

import math

from streamlab.models.abr.policies.base import Observation, Policy

RESERVOIR_S = 5.0
"""Below this buffer, fetch the lowest level (Pensieve ``RESEVOIR``)."""
CUSHION_S = 10.0
"""Over this span above the reservoir the level ramps linearly to the top (Pensieve ``CUSHION``)."""


class BufferBased(Policy):
    """Level = floor((levels-1) x (buffer - reservoir) / cushion), clamped to the ladder."""

    name = "bba"

    def select(self, obs: Observation) -> int:
        top = len(obs.next_sizes_bytes) - 1
        level = math.floor(top * (obs.buffer_s - RESERVOIR_S) / CUSHION_S)
        return min(max(level, 0), top)
