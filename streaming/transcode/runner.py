"""Run a title's encodes: in parallel as Ray tasks, or one after another in-process.

Ray is the default (one task per rendition, so a cluster spreads a ladder over machines that
share the media filesystem); the serial mode exists for debugging and as the benchmark's baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from streamlab.core.progress import track
from streamlab.core.ray_runtime import map_tasks
from streamlab.streaming.transcode.encode import EncodeJob, EncodeResult, encode


def run_encodes(jobs: Sequence[EncodeJob], mode: Literal["ray", "serial"], description: str) -> list[EncodeResult]:
    """Encode every job; results in job order. The first failure is raised with its own type."""
    if mode == "serial":
        return [encode(job) for job in track(jobs, description)]
    return map_tasks(encode, jobs, description)
