"""The one ABR decision: player state in (:class:`AbrDecideRequest`), rendition out (:class:`AbrDecision`).

This is the family's wire contract and its decision, in one place: the simulator's learned policy
(:class:`~streamlab.models.abr.policies.learned.LearnedPolicy`), the ``abr/decide`` endpoint, the
headless player and the registered pyfunc all call :func:`decide`; :func:`decide_bola` is the
heuristic a player (and the server, without a model) falls back to.

A request carries everything a decision needs (the title's ladder with any rung count, per-title
bitrates, the next chunks' sizes or the manifest's bandwidths, and the session's recent downloads),
so :func:`decide` runs the policy's pieces (its quantile net, scenario weights and planner)
statelessly and is safe from many threads at once. The planner is
:func:`~streamlab.models.abr.policies.planner.tree_plan_scores`, bit-for-bit the reference planner's
scores at about a third of the CPU (``tests/abr/test_decide_recorded.py`` replays recorded requests
and compares against the reference planner).

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
from collections.abc import Sequence
from itertools import pairwise
from types import SimpleNamespace
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

from streamlab.models.abr.policies.base import Observation
from streamlab.models.abr.policies.bola import Bola
from streamlab.models.abr.policies.planner import affordable_free_steps, plan_table, tree_plan_scores
from streamlab.models.abr.simulator import CHUNK_MS

if TYPE_CHECKING:
    from streamlab.models.abr.policies.learned import LearnedPolicy
    from streamlab.models.abr.video import Video

PLANNER_CHUNK_S = CHUNK_MS / 1000.0

MAX_SAMPLES = 64
"""Recent downloads :func:`decide` reads by default (the model's features use the last 8)."""

MAX_LADDER_RUNGS = 64
"""Most rungs a request may carry: the wire's hard cap, so validation refuses a huge ladder before any
work (issue 20: 10,000 rungs once reached the planner). A server may allow fewer
(``configs/serving.yaml`` ``abr.max_ladder_rungs``, at most this); the planner's own work is
bounded separately (:data:`~streamlab.models.abr.policies.planner.MAX_PLANS`)."""
MAX_SAMPLES_ON_WIRE = 256
"""Most recent downloads a request may carry (a player keeps the last few; decisions read ``MAX_SAMPLES``)."""
MAX_CHUNK_SIZES = 64
"""Most upcoming chunk sizes per rung (the planner looks at most a few chunks ahead)."""
MAX_HORIZON = 5
"""Default cap on the planner's look-ahead: the serving latency budget (``configs/serving.yaml``
``abr.horizon_chunks``). The simulator and the pyfunc pass ``None`` to plan as far as the policy was tuned."""


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
        max_length=MAX_CHUNK_SIZES,
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
    samples: list[ThroughputSample] = Field(
        default_factory=list, max_length=MAX_SAMPLES_ON_WIRE, description="recent downloads, oldest first"
    )
    ladder: list[Rung] = Field(
        min_length=1, max_length=MAX_LADDER_RUNGS, description="the title's rungs, lowest bitrate first"
    )
    session_id: str | None = Field(None, max_length=128)
    mode: Literal["vod", "live"] = Field("vod", description="live: a low-latency stream; send latency_s too")
    latency_s: float | None = Field(None, ge=0, le=3600, description="live: live edge minus playhead")
    target_latency_s: float | None = Field(
        None, gt=0, le=60, description="live: the latency to steer to (default: the policy's configured target)"
    )
    playback_rate: float = Field(1.0, ge=0.25, le=4.0, description="live: the current playback rate")
    part_duration_s: float | None = Field(
        None, gt=0, le=10, description="live: LL-HLS part / LL-DASH chunk duration (default: the policy's)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> AbrDecideRequest:
        if self.mode == "live" and self.latency_s is None:
            raise ValueError("a live request needs latency_s (live edge minus playhead, in seconds)")
        if self.mode == "live" and self.part_duration_s is not None and self.part_duration_s > self.segment_duration_s:
            raise ValueError(
                f"part_duration_s {self.part_duration_s} exceeds segment_duration_s {self.segment_duration_s}"
            )
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
    """``model``: the learned policy decided; ``fallback``: BOLA did (no model, or it failed)."""
    model_version: str | None = None
    """The registered version that decided, when a server answers from the registry."""
    playback_rate: float | None = None
    """Live requests: the playback rate to play at until the next decision (catch-up above 1, slow-down below)."""


def title_request(
    video: Video,
    chunk_index: int,
    buffer_s: float,
    last_level: int,
    samples: list[ThroughputSample],
    horizon: int,
) -> AbrDecideRequest:
    """The request a player of ``video`` sends before chunk ``chunk_index``: the title's ladder with
    the sizes of the next ``horizon`` chunks (the simulator's policy and the pyfunc decide this way)."""
    return AbrDecideRequest(
        buffer_s=buffer_s,
        last_rung=last_level,
        chunks_remaining=video.total_chunks - chunk_index,
        segment_duration_s=PLANNER_CHUNK_S,
        samples=samples[-MAX_SAMPLES_ON_WIRE:],
        ladder=[
            Rung(bitrate_kbps=rate, chunk_sizes_bytes=[round(s) for s in sizes.tolist()])
            for rate, sizes in zip(video.bitrates_kbps, video.sizes_bytes[:, chunk_index : chunk_index + horizon], strict=True)
        ],
    )


def size_matrix(request: AbrDecideRequest, horizon: int) -> np.ndarray:
    """``sizes[rung, step]`` for the next ``horizon`` chunks; missing sizes from bitrate x duration."""
    rows = []
    for rung in request.ladder:
        nominal = rung.bitrate_kbps * 1000.0 / 8.0 * request.segment_duration_s
        given = [float(s) for s in (rung.chunk_sizes_bytes or [])][:horizon]
        rows.append(given + [given[-1] if given else nominal] * (horizon - len(given)))
    return np.asarray(rows, dtype=float)


def _median(values: Sequence[float]) -> float:
    """``np.median`` of a few values without its overhead (same value: mean of the middle two when even)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def decide_bola(request: AbrDecideRequest) -> AbrDecision:
    """BOLA-BASIC on the request's ladder: the players' fallback (``streaming/player/static/abr.js`` mirrors it)."""
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
    return AbrDecision(
        rung=rung,
        bitrate_kbps=request.ladder[rung].bitrate_kbps,
        reason=f"bola: buffer {request.buffer_s:.1f} s",
        source="fallback",
    )


def decide(
    policy: LearnedPolicy,
    request: AbrDecideRequest,
    *,
    max_samples: int = MAX_SAMPLES,
    max_horizon: int | None = MAX_HORIZON,
) -> AbrDecision:
    """The learned policy's choice for ``request``, without touching the policy's own state.

    ``max_horizon`` caps the planner's look-ahead (``None``: the policy's own horizon); a long ladder
    gets fewer free steps, so the plans never exceed :data:`~streamlab.models.abr.policies.planner.MAX_PLANS`
    (a 6-rung ladder keeps all its free steps); with no throughput measured yet the answer is the lowest rung.
    """
    if not request.samples:
        return AbrDecision(rung=0, bitrate_kbps=request.ladder[0].bitrate_kbps,
                           reason="learned: no throughput measured yet, lowest rung", source="model")
    scale = PLANNER_CHUNK_S / request.segment_duration_s  # request seconds -> planner seconds
    history = [s.bytes / (s.download_ms / 1000.0) for s in request.samples[-max_samples:]]
    knobs = policy.knobs
    reach = knobs.horizon if max_horizon is None else min(knobs.horizon, max_horizon)
    horizon = max(1, min(reach, request.chunks_remaining))
    goodputs = policy.goodput_scenarios(request.chunks_remaining, horizon, history)
    rates = tuple(int(round(r.bitrate_kbps)) for r in request.ladder)
    free_steps = affordable_free_steps(len(rates), min(knobs.free_steps, horizon))
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
        smooth_weight=knobs.smooth_weight,
    )
    plans = plan_table(len(rates), horizon, free_steps)
    plan = plans[_chosen_plan(scores, len(rates), request.last_rung, knobs.switch_margin)]
    rung = int(plan[0])
    median_kbps = _median(goodputs[:, 0].tolist()) * 8 / 1000
    if not math.isfinite(median_kbps):
        raise ValueError("the model produced a non-finite throughput forecast")
    return AbrDecision(
        rung=rung,
        bitrate_kbps=request.ladder[rung].bitrate_kbps,
        reason=f"learned: forecast {median_kbps:.0f} kbit/s, buffer {request.buffer_s:.1f} s, plan {plan.tolist()}",
        source="model",
    )


def _chosen_plan(scores: np.ndarray, levels: int, last_rung: int, switch_margin: float) -> int:
    """Index of the plan to follow: the best one, unless it starts *above* ``last_rung`` and beats the best
    plan that stays there by no more than ``switch_margin``
    (:attr:`~streamlab.models.abr.policies.learned.PlannerKnobs.switch_margin`).

    Only a step up waits for the margin: a step down is the planner protecting the buffer, and holding
    a rung the link no longer carries is how a drop turns into a stall (a symmetric margin raised the
    rebuffer ratio in cross-validation on the training traces). Plans come in ``itertools.product``
    order, so those starting on one rung are one contiguous block.
    """
    best = int(np.argmax(scores))
    block = len(scores) // levels
    if switch_margin <= 0.0 or best // block <= last_rung:
        return best
    start = last_rung * block
    stay = start + int(np.argmax(scores[start : start + block]))
    return stay if scores[best] - scores[stay] <= switch_margin else best
