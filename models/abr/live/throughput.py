"""Throughput measurement for low-latency delivery, one definition for the live rules.

With chunked / blocking delivery a download's wall time includes the time its request waited for
the media to be produced, so bytes over wall time measures the *encoder*, not the link (the
problem LoL's and LoL+'s chunk-aware measurement solves: Bentaleb et al., MMSys 2020; IEEE TMM
2021). :func:`segment_throughput_kbps` therefore divides bytes by transfer time only (wait
excluded, and the round trip, which dominates a 0.33 s part at low rungs), over the parts of the last ``parts`` downloads.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamlab.models.abr.live.base import PartSample


def segment_throughput_kbps(samples: Sequence[PartSample], parts: int) -> float | None:
    """kbit/s over the last ``parts`` part downloads (bytes over transfer time); ``None`` before any."""
    recent = samples[-parts:]
    if not recent:
        return None
    transfer_ms = sum(s.transfer_ms for s in recent)
    return sum(s.bytes for s in recent) * 8.0 / max(transfer_ms, 1e-6)
