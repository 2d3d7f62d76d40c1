"""The one policy interface: heuristics, planners, the oracle and learned models alike."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from streamlab.models.abr.simulator import Simulator
    from streamlab.models.abr.traces import Trace
    from streamlab.models.abr.video import Video


@dataclass(frozen=True)
class Observation:
    """What the player knows after a chunk: the reference state, in named units."""

    chunk_index: int
    """Chunks downloaded so far (= index of the next chunk)."""
    last_level: int
    buffer_s: float
    rebuffer_s: float
    delay_ms: float
    sleep_ms: float
    chunk_bytes: float
    next_sizes_bytes: np.ndarray
    chunks_remaining: int
    end_of_video: bool

    @property
    def throughput_kbps(self) -> float:
        """Measured throughput of the last chunk; the RTT counts in the time (reference quirk)."""
        return self.chunk_bytes * 8.0 / self.delay_ms


class Policy(ABC):
    """Pick the next chunk's level. ``start_session`` clears all memory; ``start_trace`` the per-trace part.

    ``start_trace`` also hands over the simulator; only the offline oracle may look into it.
    """

    name: ClassVar[str] = "policy"

    def start_session(self) -> None:  # noqa: B027 - a no-op hook; stateful policies override it
        """Forget everything (a new evaluation run)."""

    def start_trace(self, trace: Trace, video: Video, sim: Simulator) -> None:
        self.video = video

    @abstractmethod
    def select(self, obs: Observation) -> int:
        """The level (0 = lowest) of the next chunk."""
