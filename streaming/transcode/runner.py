"""Run a title's encodes: in parallel as Ray tasks, or one after another in-process.

Ray is the default (one task per rendition, so a cluster spreads a ladder over machines that
share the media filesystem); the serial mode exists for debugging and as the benchmark's baseline.

Why the dearest encodes go first: Ray starts tasks in the order they are submitted, and a ladder
lists its rungs by codec and size, so the AV1 top rung (several times an H.264 rung's CPU) used
to start last and run alone while the other cores idled. Longest-processing-time-first ordering
keeps every core busy until the end; results still come back in job order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from streamlab.core.progress import track
from streamlab.core.ray_runtime import map_tasks
from streamlab.streaming.transcode.encode import EncodeJob, EncodeResult, encode

CODEC_COST: dict[str, float] = {"h264": 1.0, "hevc": 3.0, "av1": 4.0}
"""Rough CPU per pixel relative to H.264 at the stack's presets; it only orders the queue."""


def estimated_cost(job: EncodeJob) -> float:
    """A job's relative CPU: pixels x the codec's cost for video (shot-based rungs alike); audio is the cheapest."""
    if job.kind != "video" or job.rung is None:
        return 0.0
    return job.rung.width * job.rung.height * CODEC_COST.get(job.rung.codec, 1.0)


def submission_order(jobs: Sequence[EncodeJob]) -> list[int]:
    """Job indices, the dearest first (ties keep their ladder order)."""
    return sorted(range(len(jobs)), key=lambda i: -estimated_cost(jobs[i]))


def run_encodes(jobs: Sequence[EncodeJob], mode: Literal["ray", "serial"], description: str) -> list[EncodeResult]:
    """Encode every job; results in job order. The first failure is raised with its own type."""
    if mode == "serial":
        return [encode(job) for job in track(jobs, description)]
    order = submission_order(jobs)
    done = dict(zip(order, map_tasks(encode, [jobs[i] for i in order], description), strict=True))
    return [done[i] for i in range(len(jobs))]
