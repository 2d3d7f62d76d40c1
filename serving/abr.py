"""``abr/decide``: player state in, rendition out, for any ladder the stack produces.

The learned policy (:mod:`streamlab.models.abr.policies.learned`) was trained on the benchmark's fixed
six-rung ladder held inside a ``Video`` object and keeps its goodput history on the policy
object. A server needs neither: every request carries the title's ladder (any rung count,
per-title bitrates, the next chunks' sizes or the manifest's bandwidths) and the session's
recent downloads, so :func:`decide_learned` calls the policy's pieces (its quantile net, scenario
weights and planner) statelessly and is safe from many threads at once. The planner is
:func:`~streamlab.models.abr.policies.planner.tree_plan_scores`: the policy's own planner as a walk over the plan tree,
bit-for-bit the same scores at about a third of the CPU (``tests/serving/test_abr_recorded.py``
replays recorded requests and compares against the reference planner).

Units: the planner's player model uses 4 s chunks (:data:`streamlab.models.abr.simulator.CHUNK_MS`); a
title with another segment duration is mapped onto it by stretching time by
``4 / segment_duration_s``: the buffer and the chunk sizes are multiplied by that factor, so the
buffer counts the same number of chunks and each download takes the same share of a chunk's
duration, while the goodput the throughput model sees stays the link's real rate (its features
include the absolute level, so scaling it would misstate the link). Only the fixed 80 ms RTT
of the planner is not stretched.
"""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

from streamlab.models.abr.policies.base import Observation
from streamlab.models.abr.policies.bola import Bola
from streamlab.models.abr.policies.learned import LearnedPolicy, load_checkpoint
from streamlab.models.abr.policies.planner import plan_table, tree_plan_scores
from streamlab.models.abr.simulator import CHUNK_MS

PLANNER_CHUNK_S = CHUNK_MS / 1000.0


class ThroughputSample(BaseModel):
    """One finished segment download as the player measured it (request sent → last byte)."""

    bytes: int = Field(gt=0, le=10**10)
    download_ms: float = Field(gt=0, le=3_600_000)


class Rung(BaseModel):
    bitrate_kbps: float = Field(
        gt=0, le=1_000_000, description="the manifest's BANDWIDTH (or AVERAGE-BANDWIDTH) / 1000"
    )
    chunk_sizes_bytes: list[int] | None = Field(
        None,
        description="sizes of the next chunks from the one to decide on; default bitrate x duration",
    )

    @field_validator("chunk_sizes_bytes")
    @classmethod
    def _positive(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is not None and (not sizes or min(sizes) <= 0):
            raise ValueError("chunk_sizes_bytes must be a non-empty list of positive byte counts")
        return sizes


class AbrDecideRequest(BaseModel):
    buffer_s: float = Field(ge=0, le=3600, description="media buffered ahead of the playhead")
    last_rung: int = Field(ge=0, description="index (lowest bitrate first) of the previous chunk's rung")
    chunks_remaining: int = Field(ge=1, le=100_000, description="chunks left including the one to decide on")
    segment_duration_s: float = Field(4.0, gt=0, le=60)
    samples: list[ThroughputSample] = Field(default_factory=list, description="recent downloads, oldest first")
    ladder: list[Rung] = Field(min_length=1, description="the title's rungs, lowest bitrate first")
    session_id: str | None = Field(None, max_length=128)

    @model_validator(mode="after")
    def _consistent(self) -> AbrDecideRequest:
        rates = [r.bitrate_kbps for r in self.ladder]
        if any(b <= a for a, b in pairwise(rates)):
            raise ValueError(f"ladder bitrates must increase strictly, lowest first; got {rates}")
        if self.last_rung >= len(self.ladder):
            raise ValueError(
                f"last_rung {self.last_rung} is not a rung of this {len(self.ladder)}-rung ladder (0..{len(self.ladder) - 1})"
            )
        return self


class AbrDecision(BaseModel):
    rung: int
    bitrate_kbps: float
    reason: str
    source: Literal["model", "fallback"]
    model_version: str | None = None


def load_abr_policy(directory: Path) -> LearnedPolicy:
    """The registry loader: the checkpoint inside a downloaded ``abr-policy`` version."""
    return load_checkpoint(Path(directory))


def size_matrix(request: AbrDecideRequest, horizon: int) -> np.ndarray:
    """``sizes[rung, step]`` for the next ``horizon`` chunks; missing sizes from bitrate x duration."""
    rows = []
    for rung in request.ladder:
        nominal = rung.bitrate_kbps * 1000.0 / 8.0 * request.segment_duration_s
        given = [float(s) for s in (rung.chunk_sizes_bytes or [])][:horizon]
        rows.append(given + [given[-1] if given else nominal] * (horizon - len(given)))
    return np.asarray(rows, dtype=float)


def _median(values: np.ndarray) -> float:
    """``np.median`` of a few values without its overhead (same value: mean of the middle two when even)."""
    ordered = sorted(values.tolist())
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def decide_bola(request: AbrDecideRequest) -> tuple[int, str]:
    """BOLA-BASIC on the request's ladder: the player's fallback (and the local heuristic)."""
    policy = Bola()
    policy.video = SimpleNamespace(bitrates_kbps=tuple(r.bitrate_kbps for r in request.ladder))
    sizes = size_matrix(request, 1)[:, 0]
    obs = Observation(
        chunk_index=0,
        last_level=request.last_rung,
        buffer_s=request.buffer_s,
        rebuffer_s=0.0,
        delay_ms=1.0,
        sleep_ms=0.0,
        chunk_bytes=0.0,
        next_sizes_bytes=sizes,
        chunks_remaining=request.chunks_remaining,
        end_of_video=False,
    )
    rung = policy.select(obs)
    return rung, f"bola: buffer {request.buffer_s:.1f} s"


def decide_learned(
    policy: LearnedPolicy, request: AbrDecideRequest, max_samples: int = 64, max_horizon: int = 5
) -> tuple[int, str]:
    """The learned policy's choice for the request, without touching the policy's own state."""
    if not request.samples:
        return 0, "learned: no throughput measured yet, lowest rung"
    scale = PLANNER_CHUNK_S / request.segment_duration_s  # request seconds -> planner seconds
    history = [s.bytes / (s.download_ms / 1000.0) for s in request.samples[-max_samples:]]
    knobs = policy.knobs
    horizon = max(1, min(knobs.horizon, max_horizon, request.chunks_remaining))
    goodputs = policy.goodput_scenarios(request.chunks_remaining, horizon, history)
    rates = tuple(int(round(r.bitrate_kbps)) for r in request.ladder)
    levels = len(rates)
    free_steps = min(knobs.free_steps, horizon)
    scores = tree_plan_scores(
        request.buffer_s * scale,
        request.last_rung,
        size_matrix(request, horizon) * scale,
        rates,
        goodputs,
        policy.weights,
        knobs.buffer_value_per_s,
        knobs.buffer_value_cap_s,
        at_end=horizon >= request.chunks_remaining,
        free_steps=free_steps,
    )
    best = int(np.argmax(scores))
    plan = plan_table(levels, horizon, free_steps)[best]
    rung = int(plan[0])
    median_kbps = _median(goodputs[:, 0]) * 8 / 1000
    if not math.isfinite(median_kbps):
        raise ValueError("the model produced a non-finite throughput forecast")
    return rung, f"learned: forecast {median_kbps:.0f} kbit/s, buffer {request.buffer_s:.1f} s, plan {plan.tolist()}"
