"""The player telemetry schema: heartbeats during playback and one summary per session.

Fields follow the design (viewer, session, title, timestamp, device, region, edge, startup time,
rebuffer count and duration, bitrate switches, average bitrate, errors, playback failures) plus the
buffer level and measured throughput that the ABR decision sees. Counters in heartbeats are
*cumulative since session start* (as Conviva/Mux-style beacons send them), so a lost heartbeat
loses no stall or error: the next one carries the total.

Times are epoch seconds (UTC, float) in ``timestamp``: cheap to validate and window, unambiguous.
Identifiers are short tokens (``[A-Za-z0-9_.:-]``) so they can be group keys and file names.
Every model forbids unknown fields: a misspelt field is a reject with a reason, not a silent drop.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

TOKEN_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
Token = Annotated[str, Field(min_length=1, max_length=64, pattern=TOKEN_PATTERN)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]

MAX_ARMS = 16
Arms = Annotated[dict[Token, Token], Field(max_length=MAX_ARMS)]
"""``{experiment: arm}``: the A/B arms the edge's viewer-request hook put the session in (its
``X-Streamlab-Arms`` header). A claim, not a fact: an experiment report believes it only when it is
the viewer's own arm by the assignment hash (``streamlab.pipelines.experiment.outcomes``)."""

DIMENSIONS: tuple[str, ...] = ("region", "edge", "title", "device")
"""The group dimensions detection runs over; ``title`` is the ``title_id`` field."""


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    viewer_id: Token
    session_id: Token
    title_id: Token
    timestamp: NonNegative
    """Epoch seconds, UTC."""
    device: Token
    region: Token
    edge: Token
    arms: Arms | None = None
    """The session's experiment arms, as the edge stated them (absent: in no experiment)."""

    @field_validator("timestamp")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("timestamp must be a finite epoch-seconds value")
        return value


class Heartbeat(_Event):
    """Sent every few seconds while a session is alive; counters are cumulative since start."""

    kind: Literal["heartbeat"] = "heartbeat"
    playhead_s: NonNegative
    buffer_s: Annotated[float, Field(ge=0.0, le=600.0, allow_inf_nan=False)]
    bitrate_kbps: Annotated[float, Field(ge=0.0, le=200_000.0, allow_inf_nan=False)]
    throughput_kbps: Annotated[float, Field(ge=0.0, le=10_000_000.0, allow_inf_nan=False)]
    startup_s: NonNegative | None = None
    """Join time; ``None`` until the first frame is shown."""
    rebuffer_count: Count = 0
    rebuffer_s: NonNegative = 0.0
    bitrate_switches: Count = 0
    errors: Count = 0

    @model_validator(mode="after")
    def _stalls_consistent(self) -> Heartbeat:
        if self.rebuffer_count == 0 and self.rebuffer_s > 0:
            raise ValueError(f"rebuffer_s={self.rebuffer_s} with rebuffer_count=0; a stall needs a count")
        return self


class SessionSummary(_Event):
    """Sent once when a session ends (normally, by abandonment or by failure); ``timestamp`` is the end."""

    kind: Literal["session_end"] = "session_end"
    started_at: NonNegative
    startup_s: NonNegative | None = None
    """``None`` when the session failed before the first frame (a startup failure)."""
    play_s: NonNegative
    rebuffer_count: Count = 0
    rebuffer_s: NonNegative = 0.0
    bitrate_switches: Count = 0
    avg_bitrate_kbps: Annotated[float, Field(ge=0.0, le=200_000.0, allow_inf_nan=False)]
    errors: Count = 0
    playback_failed: bool = False
    failure_reason: Token | None = None
    chunk_qoe_mean: Annotated[float, Field(allow_inf_nan=False)] | None = None
    """Mean per-chunk QoE (:func:`streamlab.models.abr.qoe.chunk_qoe`) over the chunks played, if any."""

    @model_validator(mode="after")
    def _consistent(self) -> SessionSummary:
        if self.started_at > self.timestamp:
            raise ValueError(f"started_at={self.started_at} is after the end timestamp={self.timestamp}")
        if self.playback_failed and self.failure_reason is None:
            raise ValueError("playback_failed=true needs a failure_reason")
        if not self.playback_failed and self.failure_reason is not None:
            raise ValueError(f"failure_reason={self.failure_reason!r} given but playback_failed=false")
        if self.startup_s is None and not self.playback_failed:
            raise ValueError("startup_s is null but the session did not fail; a played session has a startup time")
        if self.rebuffer_count == 0 and self.rebuffer_s > 0:
            raise ValueError(f"rebuffer_s={self.rebuffer_s} with rebuffer_count=0; a stall needs a count")
        return self


Event = Annotated[Heartbeat | SessionSummary, Field(discriminator="kind")]
EVENT_ADAPTER: TypeAdapter[Heartbeat | SessionSummary] = TypeAdapter(Event)
EVENT_KINDS: tuple[str, ...] = ("heartbeat", "session_end")
