"""Sticky A/B assignment: a stable hash of the viewer id into arms with configurable splits.

Why a hash and not a stored table: the edge assigns on every request with no state and no round
trip, and the same viewer lands in the same arm on every device, session and edge node, forever,
as long as the experiment's salt and splits are unchanged. The salt is the experiment name, so a
viewer's arm in one experiment says nothing about their arm in another (no correlated exposure).

The bucket is the first 8 bytes of SHA-256(``salt:viewer_id``) modulo :data:`BUCKETS`; arms own
contiguous bucket ranges in declaration order. With 10,000 buckets a split is exact to 0.01 point.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from streamlab.streaming.experiment.errors import ExperimentError

BUCKETS = 10_000
"""Hash buckets; a split percentage maps to ``BUCKETS * pct / 100`` of them (splits in 0.01 steps)."""

ARM_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
"""Arm names travel as a request header and a telemetry dimension: short lowercase tokens."""


@dataclass(frozen=True)
class Arm:
    name: str
    percent: float
    buckets: int
    """How many of the :data:`BUCKETS` the arm owns (the share, rounded; the arms' buckets sum to BUCKETS)."""


def parse_arms(arms: str | Sequence[str], split: str | Sequence[float] | None = None) -> tuple[Arm, ...]:
    """``"champion,challenger"`` and ``"50/50"`` → arms; an even split when ``split`` is ``None``.

    Refused, with the offending value: fewer than two arms, a duplicate or malformed name, a split
    whose length differs from the arms', a negative share, or shares that do not sum to 100.
    """
    names = [a.strip() for a in arms.split(",")] if isinstance(arms, str) else [str(a).strip() for a in arms]
    if len(names) < 2 or any(not n for n in names):
        raise ExperimentError(f"an experiment needs at least two arms, comma-separated; got {arms!r}")
    for name in names:
        if not ARM_NAME.match(name):
            raise ExperimentError(f"arm name {name!r} is not a short lowercase token ([a-z0-9_.-], at most 32)")
    if len(set(names)) != len(names):
        raise ExperimentError(f"arm names repeat in {arms!r}")
    if split is None:
        shares = [100.0 / len(names)] * len(names)
    else:
        parts = split.split("/") if isinstance(split, str) else list(split)
        try:
            shares = [float(p) for p in parts]
        except (TypeError, ValueError):
            raise ExperimentError(f"split {split!r} is not numbers separated by '/' (e.g. 50/50)") from None
    if len(shares) != len(names):
        raise ExperimentError(f"split {split!r} has {len(shares)} shares for {len(names)} arms ({', '.join(names)})")
    if any(not 0 <= s <= 100 for s in shares):
        raise ExperimentError(f"split {split!r}: every share must be between 0 and 100")
    if abs(sum(shares) - 100.0) > 1e-6:
        raise ExperimentError(f"split {split!r} sums to {sum(shares):g}, not 100")
    counts = [round(s * BUCKETS / 100) for s in shares[:-1]]
    counts.append(BUCKETS - sum(counts))  # the last arm takes the rounding remainder (e.g. thirds)
    return tuple(Arm(n, s, c) for n, s, c in zip(names, shares, counts, strict=True))


def bucket(salt: str, viewer_id: str) -> int:
    """The viewer's bucket in ``0..BUCKETS-1``: the same for the same (salt, viewer id), everywhere."""
    if not viewer_id:
        raise ExperimentError("an empty viewer id cannot be assigned to an arm")
    digest = hashlib.sha256(f"{salt}:{viewer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(salt: str, arms: Sequence[Arm], viewer_id: str) -> str:
    """The arm ``viewer_id`` is in: the arm whose cumulative bucket range holds the viewer's bucket."""
    if not arms:
        raise ExperimentError("no arms to assign to")
    position = bucket(salt, viewer_id)
    upper = 0
    for arm in arms:
        upper += arm.buckets
        if position < upper:
            return arm.name
    raise ExperimentError(f"arms {[a.name for a in arms]} own {upper} of {BUCKETS} buckets (build them with parse_arms)")
