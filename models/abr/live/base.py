"""The live policy interface: before every part the player asks for a rung and a playback rate.

The rung only takes effect at a segment boundary (``obs.segment_start``; LL-HLS switches at an
independent part, which is a segment's first); the playback rate applies until the next part
arrives. Heuristics, the baselines re-implemented from their papers and the learned planner all
sit behind this one interface, as the VOD policies do behind
:class:`~streamlab.models.abr.policies.base.Policy`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from streamlab.models.abr.live.settings import LiveSettings


@dataclass(frozen=True)
class PartSample:
    """One finished part download as the player measured it."""

    bytes: float
    transfer_ms: float
    """First byte to last byte received: the link's time for the payload (what hls.js keeps after
    subtracting its TTFB, and what chunk-aware measurement times)."""
    ttfb_ms: float
    """Request sent to first byte: the round trip plus any wait for the part to be published."""


@dataclass(frozen=True)
class LiveObservation:
    """The player's state before the next part: what every live rule reads."""

    segment_index: int
    """Segment of the next part (0-based within the session)."""
    part_index: int
    """The next part's index within its segment; 0 = a segment boundary, where the rung may change."""
    buffer_s: float
    latency_s: float
    """Live edge minus playhead (s)."""
    playback_rate: float
    last_level: int
    playing: bool
    """False before startup and during a stall."""
    samples: tuple[PartSample, ...]
    """Every part downloaded so far, oldest first."""
    next_sizes_bytes: np.ndarray
    """``[level, segment]`` sizes of the next segments from this one (a few ahead, for planners)."""
    bitrates_kbps: tuple[int, ...]
    segments_remaining: int
    settings: LiveSettings

    @property
    def segment_start(self) -> bool:
        return self.part_index == 0


@dataclass(frozen=True)
class LiveAction:
    level: int
    playback_rate: float = 1.0


class LivePolicy(ABC):
    """``start_trace`` forgets a session's state; :meth:`act` chooses the next part's rung and rate."""

    name: ClassVar[str] = "live-policy"

    def start_trace(self) -> None:  # noqa: B027 - a no-op hook; stateful policies override it
        """A new session (players keep no memory across sessions)."""

    @abstractmethod
    def act(self, obs: LiveObservation) -> LiveAction:
        """The rung (used at a segment boundary only) and the playback rate until the next part."""
