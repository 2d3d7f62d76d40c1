"""Telemetry schema version 2: CMCD keys, session dimensions and the standard session outcomes.

``models/qoe/SCHEMA.md`` documents every field (a test holds its tables equal to the models here);
this module validates. Why a second version instead of growing v1: v1 could not say what real
players report (no ISP, CDN, app or player version, OS, connection type) and could only write an
exit before the first frame as a playback failure, so ordinary early exits polluted the
start-failure baseline. v1 events are still accepted and up-converted by :func:`parse_event`, so
old players and files keep working.

:func:`parse_event` is the one entry point (files, HTTP bodies and the durable stream all call it):
it returns a validated event or a refusal reason whose first clause is a stable counter key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import re
import types
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import msgspec
from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic.fields import FieldInfo

from streamlab.models.qoe.telemetry import EVENT_ADAPTER as V1_ADAPTER
from streamlab.models.qoe.telemetry import Arms
from streamlab.models.qoe.telemetry import Heartbeat as V1Heartbeat

SCHEMA_VERSION = 2
Token = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Kbps = Annotated[float, Field(ge=0.0, le=200_000.0, allow_inf_nan=False)]

REQUIRED_DIMENSIONS: tuple[str, ...] = ("title_id", "region", "edge", "device_class")
"""An event without one of these is refused: every detector view needs them."""
OPTIONAL_DIMENSIONS: tuple[str, ...] = ("content_type", "isp", "asn", "cdn", "pathway", "app_version", "player_version",
                                        "os", "device_model", "connection_type")
"""Missing ones group under ``unknown``."""
OUTCOMES: tuple[str, ...] = ("completed", "exited", "exit_before_video_start", "video_start_failure", "video_playback_failure")
STARTED_OUTCOMES = frozenset({"completed", "exited", "video_playback_failure"})
FAILURE_OUTCOMES = frozenset({"video_start_failure", "video_playback_failure"})
CMCD_KEYS: tuple[str, ...] = ("br", "bl", "bs", "cid", "d", "dl", "mtp", "nor", "ot", "pr", "rtp", "sf", "sid", "st", "su", "tb")


class Cmcd(BaseModel):
    """CTA-5004 keys as hls.js and Shaka send them; unknown keys are kept (CMCD grows)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    br: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    bl: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    bs: bool | None = None
    cid: Annotated[str, Field(max_length=64)] | None = None
    d: Annotated[int, Field(ge=0)] | None = None
    dl: Annotated[int, Field(ge=0)] | None = None
    mtp: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    nor: Annotated[str, Field(max_length=512)] | None = None
    ot: Literal["m", "a", "v", "av", "i", "c", "tt", "k", "o"] | None = None
    pr: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)] | None = None
    rtp: Annotated[int, Field(ge=0)] | None = None
    sf: Literal["d", "h", "s", "o"] | None = None
    sid: Annotated[str, Field(max_length=64)] | None = None
    st: Literal["v", "l"] | None = None
    su: bool | None = None
    tb: Annotated[int, Field(ge=0)] | None = None


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[2]
    event_id: Token | None = None
    seq: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    timestamp: NonNegative
    viewer_id: Token
    session_id: Token
    title_id: Token
    region: Token
    edge: Token
    device_class: Token
    content_type: Literal["live", "vod"] = "vod"
    isp: Token | None = None
    asn: Annotated[int, Field(ge=0, le=4_294_967_295)] | None = None
    cdn: Token | None = None
    pathway: Token | None = None
    app_version: Token | None = None
    player_version: Token | None = None
    os: Token | None = None
    device_model: Token | None = None
    connection_type: Token | None = None
    cmcd: Cmcd | None = None
    arms: Arms | None = None
    rebuffer_count: Count = 0
    rebuffer_s: NonNegative = 0.0
    bitrate_switches: Count = 0
    errors: Count = 0
    startup_s: NonNegative | None = None
    live_latency_s: NonNegative | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_cmcd(cls, data: Any) -> Any:
        """Fill top-level fields from CMCD when the player sent only CMCD (the edge log case)."""
        if not isinstance(data, dict) or not isinstance(data.get("cmcd"), dict):
            return data
        c = data["cmcd"]
        filled = dict(data)
        if data.get("kind", "heartbeat") == "heartbeat":
            if "bitrate_kbps" not in filled and isinstance(c.get("br"), (int, float)):
                filled["bitrate_kbps"] = c["br"]
            if "buffer_s" not in filled and isinstance(c.get("bl"), (int, float)):
                filled["buffer_s"] = c["bl"] / 1000.0
            if "throughput_kbps" not in filled and isinstance(c.get("mtp"), (int, float)):
                filled["throughput_kbps"] = c["mtp"]
        if "content_type" not in filled and c.get("st") in ("v", "l"):
            filled["content_type"] = "live" if c["st"] == "l" else "vod"
        return filled

    @model_validator(mode="after")
    def _consistent(self) -> _Common:
        if self.rebuffer_count == 0 and self.rebuffer_s > 0:
            raise ValueError(f"rebuffer_s={self.rebuffer_s} with rebuffer_count=0; a stall needs a count")
        if self.cmcd is not None:
            if self.cmcd.sid is not None and self.cmcd.sid != self.session_id:
                raise ValueError(f"cmcd.sid={self.cmcd.sid!r} differs from session_id={self.session_id!r}")
            if self.cmcd.cid is not None and self.cmcd.cid != self.title_id:
                raise ValueError(f"cmcd.cid={self.cmcd.cid!r} differs from title_id={self.title_id!r}")
        return self


class HeartbeatV2(_Common):
    """Alive beacon (and one at the first frame); counters cumulative since the session started."""

    kind: Literal["heartbeat"] = "heartbeat"
    playhead_s: NonNegative
    buffer_s: Annotated[float, Field(ge=0.0, le=600.0, allow_inf_nan=False)]
    bitrate_kbps: Kbps
    resolution_height: Annotated[int, Field(ge=0, le=8640)] | None = None
    rendition: Token | None = None
    throughput_kbps: Annotated[float, Field(ge=0.0, le=10_000_000.0, allow_inf_nan=False)] | None = None
    dropped_frames: Count = 0


class SessionEndV2(_Common):
    """Once per session, at its end; ``outcome`` is one of :data:`OUTCOMES`."""

    kind: Literal["session_end"] = "session_end"
    started_at: NonNegative
    outcome: Literal["completed", "exited", "exit_before_video_start", "video_start_failure", "video_playback_failure"]
    play_s: NonNegative
    rebuffering_ratio: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    avg_bitrate_kbps: Kbps | None = None
    avg_resolution_height: Annotated[float, Field(ge=0.0, le=8640.0)] | None = None
    rendition: Token | None = None
    failure_reason: Token | None = None
    chunk_qoe_mean: Annotated[float, Field(allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _outcome_consistent(self) -> SessionEndV2:
        if self.started_at > self.timestamp:
            raise ValueError(f"started_at={self.started_at} is after the end timestamp={self.timestamp}")
        started = self.outcome in STARTED_OUTCOMES
        if started and self.startup_s is None:
            raise ValueError(f"outcome={self.outcome} needs startup_s (the video started)")
        if not started and self.startup_s is not None:
            raise ValueError(f"outcome={self.outcome} means no first frame; startup_s must be null")
        failed = self.outcome in FAILURE_OUTCOMES
        if failed and self.failure_reason is None:
            raise ValueError(f"outcome={self.outcome} needs a failure_reason")
        if not failed and self.failure_reason is not None:
            raise ValueError(f"failure_reason given but outcome={self.outcome} is not a failure")
        return self

    @property
    def ratio(self) -> float:
        """Rebuffering ratio: the given one, else stalled / (played + stalled)."""
        if self.rebuffering_ratio is not None:
            return self.rebuffering_ratio
        total = self.play_s + self.rebuffer_s
        return self.rebuffer_s / total if total > 0 else 0.0


EventV2 = HeartbeatV2 | SessionEndV2
EVENT_V2_ADAPTER: TypeAdapter[EventV2] = TypeAdapter(Annotated[EventV2, Field(discriminator="kind")])


def dimension(event: EventV2, name: str) -> str:
    """The event's value for a dimension (``title`` is ``title_id``; a missing optional one is ``unknown``)."""
    value = getattr(event, "title_id" if name == "title" else name, None)
    return "unknown" if value is None else str(value)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p not in ("heartbeat", "session_end")]
        parts.append(f"{'.'.join(loc) or 'event'}: {err['msg']}")
    return "; ".join(parts)


def _upconvert(data: dict[str, Any]) -> EventV2:
    """A v1 event, validated by the v1 schema, rewritten as v2 (``device`` -> ``device_class``, outcomes)."""
    old = V1_ADAPTER.validate_python(data)
    common = {"schema_version": 2, "timestamp": old.timestamp, "viewer_id": old.viewer_id, "session_id": old.session_id,
              "title_id": old.title_id, "region": old.region, "edge": old.edge, "device_class": old.device,
              "rebuffer_count": old.rebuffer_count, "rebuffer_s": old.rebuffer_s,
              "bitrate_switches": old.bitrate_switches, "errors": old.errors, "startup_s": old.startup_s,
              "arms": old.arms}
    if isinstance(old, V1Heartbeat):
        return HeartbeatV2(**common, playhead_s=old.playhead_s, buffer_s=old.buffer_s, bitrate_kbps=old.bitrate_kbps,
                           throughput_kbps=old.throughput_kbps)
    outcome = ("video_start_failure" if old.startup_s is None else "video_playback_failure") if old.playback_failed else "exited"
    return SessionEndV2(**common, started_at=old.started_at, outcome=outcome, play_s=old.play_s,
                        avg_bitrate_kbps=old.avg_bitrate_kbps, failure_reason=old.failure_reason,
                        chunk_qoe_mean=old.chunk_qoe_mean)


def parse_event(raw: str | bytes | dict[str, Any] | EventV2) -> tuple[EventV2 | None, str | None]:
    """``(event, None)`` or ``(None, reason)``; the reason's text before ``:`` is its counter key."""
    if isinstance(raw, (HeartbeatV2, SessionEndV2)):
        return raw, None
    if isinstance(raw, (str, bytes)):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return None, f"invalid JSON: {exc}"
    else:
        data = raw
    if not isinstance(data, dict):
        return None, "not a JSON object: an event must be {...} with a kind"
    version = data.get("schema_version", 1)
    if version not in (1, 2) or isinstance(version, bool):
        return None, f"unknown schema_version: {version!r}; this detector reads versions 1 and 2"
    if data.get("kind") not in ("heartbeat", "session_end"):
        return None, "unknown kind: expected kind 'heartbeat' or 'session_end'"
    required = REQUIRED_DIMENSIONS if version == 2 else ("title_id", "region", "edge", "device")
    missing = [d for d in required if data.get(d) in (None, "")]
    if missing:
        return None, f"missing dimension: {', '.join(missing)}"
    if isinstance(data.get("timestamp"), float) and not math.isfinite(data["timestamp"]):
        return None, "invalid field: timestamp: must be a finite epoch-seconds value"
    try:
        if version == 1:
            return _upconvert({k: v for k, v in data.items() if k != "schema_version"}), None
        return EVENT_V2_ADAPTER.validate_python(data), None
    except ValidationError as exc:
        return None, f"invalid field: {_describe(exc)}"


# ---- the fast path: plain v2 events decoded by a compiled decoder -------------------------------------------------
#
# A day of telemetry is millions of events, and a pydantic model per event costs more than everything the detector
# does with it (issue 19: 50k events/s in batch). msgspec decodes a JSON line straight into a typed struct in C,
# with the models' types, ranges and lengths, refusing unknown keys. Its structs are derived here from the pydantic
# models themselves (:func:`_compiled`), so the two cannot drift apart; what msgspec cannot say (a token's pattern,
# the models' cross-field rules, the fields a model fills in from CMCD) :func:`fast_record` checks after it. Its
# answer is the event as a struct holding the validated model's fields and values, or ``None``: "not proven here",
# never a refusal. The caller then asks :func:`parse_event`, so refusals, their reasons and their counters stay
# exactly the validator's. It is conservative by construction: it may send a valid event to the validator (``3.0`` for an int,
# ``"true"`` for a bool, NaN, a lone surrogate, a number beyond 64 bits, an ``arms`` object), never accept one the
# models refuse or read a value differently (tests check both on mutated events and on whole days). The struct is
# handed on as it is (no dict is built): it has the model's fields as attributes, ``kind`` included, as the model
# does, and the detector reads either alike (:data:`EventRecord`).

_TOKEN = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_TOKEN_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
"""The pattern of :data:`Token`; the fast path matches it with :data:`_TOKEN` (lengths are msgspec's)."""
_TOKEN_CACHE_MAX = 1 << 16
_CMCD_FILLED = frozenset({"bitrate_kbps", "buffer_s", "throughput_kbps", "content_type"})
"""Fields the model fills from CMCD when absent (``_Common._from_cmcd``): absent with CMCD, the validator's work."""
_MODELS: dict[str, type[BaseModel]] = {"heartbeat": HeartbeatV2, "session_end": SessionEndV2}


def _meta(metadata: Iterable[Any]) -> tuple[dict[str, Any], str | None]:
    """msgspec ``Meta`` arguments and the regex pattern of a pydantic field's constraints.

    ``allow_inf_nan=False`` needs no check: msgspec's JSON reader yields neither (``NaN`` is no JSON, ``1e400`` is
    out of range), so both reach the validator. A constraint not known here fails at import, not silently.
    """
    kw: dict[str, Any] = {}
    pattern = None
    for m in metadata:
        if isinstance(m, FieldInfo):
            inner, inner_pattern = _meta(m.metadata)
            kw.update(inner)
            pattern = inner_pattern or pattern
        elif isinstance(m, (annotated_types.Ge, annotated_types.Le, annotated_types.MinLen, annotated_types.MaxLen)):
            kw.update(dataclasses.asdict(m))
        elif isinstance(m, AllowInfNan) and m.allow_inf_nan is False:
            pass
        elif type(m).__name__ == "_PydanticGeneralMetadata" and set(vars(m)) <= {"pattern", "allow_inf_nan"} and \
                vars(m).get("allow_inf_nan", False) is False:
            pattern = vars(m).get("pattern", pattern)
        else:
            raise TypeError(f"the compiled decoder has no check for {m!r}; teach schema_v2._meta it")
    return kw, pattern


def _compiled(tp: Any, metadata: Iterable[Any] = ()) -> tuple[Any, str | None]:
    """A pydantic field type as a msgspec type and its token pattern (``None``: no pattern)."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extra = get_args(tp)
        return _compiled(base, [*metadata, *extra])
    if origin in (Union, types.UnionType):
        parts = [_compiled(a) for a in get_args(tp)]
        patterns = {p for _, p in parts if p is not None}
        return Union[tuple(t for t, _ in parts)], (patterns.pop() if patterns else None)  # noqa: UP007
    if origin is Literal or tp is type(None):
        return tp, None
    if tp in (int, float, str, bool):
        kw, pattern = _meta(metadata)
        return (Annotated[tp, msgspec.Meta(**kw)] if kw else tp), pattern
    if tp is Cmcd:
        return _CMCD_STRUCT, None
    return type(None), None  # ``arms`` (a mapping of tokens): only ``null`` is plain; the validator reads the rest


def _struct(model: type[BaseModel], kind: str | None) -> tuple[type[msgspec.Struct], tuple[str, ...]]:
    """A msgspec struct of ``model``'s fields (``kind``: the tag of an event kind) and the names of its token fields.

    Defaults are the model's, except CMCD's (all :data:`msgspec.UNSET`: the keys sent, as the model dumps them,
    are :func:`msgspec.to_builtins` of it) and the fields CMCD fills in (unset tells "absent" from "sent as the
    default").
    """
    fields, tokens = [], []
    for name, info in model.model_fields.items():
        if name == "kind":
            continue
        tp, pattern = _compiled(info.annotation, info.metadata)
        if pattern is not None:
            if pattern != _TOKEN_PATTERN:
                raise TypeError(f"{model.__name__}.{name}: the compiled decoder matches only {_TOKEN_PATTERN!r}")
            tokens.append(name)
        if kind is None or (name in _CMCD_FILLED and not info.is_required()):
            fields.append((name, Union[tp, msgspec.UnsetType], msgspec.UNSET))  # noqa: UP007
        elif info.is_required():
            fields.append((name, tp))
        else:
            fields.append((name, tp, info.default))
    # ``kind`` is the tag msgspec reads, and a class attribute, so that the struct answers ``.kind`` as the model does.
    options: dict[str, Any] = {"tag_field": "kind", "tag": kind, "namespace": {"kind": kind}} if kind is not None else {}
    struct = msgspec.defstruct(f"{model.__name__}Struct", fields, kw_only=True, forbid_unknown_fields=True, gc=False,
                               **options)
    return struct, tuple(tokens)


_CMCD_STRUCT, _ = _struct(Cmcd, None)
_STRUCTS: dict[str, tuple[type[msgspec.Struct], tuple[str, ...]]] = {kind: _struct(m, kind) for kind, m in _MODELS.items()}
_DECODER = msgspec.json.Decoder(Union[tuple(struct for struct, _ in _STRUCTS.values())])  # noqa: UP007
_PLANS: dict[type, tuple[Callable[[Any], tuple[Any, ...]], tuple[tuple[str, Any], ...]]] = {
    struct: (operator.attrgetter(*(t for t in tokens if t != "event_id")),
             tuple((n, _MODELS[kind].model_fields[n].default) for n in struct.__struct_fields__
                   if n in _CMCD_FILLED and not _MODELS[kind].model_fields[n].is_required()))
    for kind, (struct, tokens) in _STRUCTS.items()}
"""Per struct: a getter of its token fields but ``event_id`` (new on every event: matched each time, never cached,
since caching it filled the token cache in 64k events and evicted the dimension values that do repeat), and its
fields CMCD fills in, with the model's defaults."""
_known_tokens: set[str | None] = {None}
"""Tokens already matched (dimension values repeat on every beat): a set lookup instead of a regex; bounded. ``None``
is in it: msgspec lets ``null`` through only where the model allows it."""
_UNSET = msgspec.UNSET
EventRecord = Any
"""A validated event as the detector reads it: a model (:data:`EventV2`) or the struct :func:`fast_record` decodes;
both have the model's fields and ``kind`` as attributes, with the same values (not typed more narrowly: the structs
are built at import)."""


_all_known = _known_tokens.issuperset
_token_match = _TOKEN.fullmatch
_decode = _DECODER.decode
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, ValueError)
"""What :data:`_DECODER` raises for a line it does not prove (``ValueError``: bytes that are not UTF-8). These four
are bound once: :func:`fast_record` runs for every event of a day."""


def _tokens_valid(values: tuple[Any, ...]) -> bool:
    """Each value (a ``str`` or ``None``, msgspec said so) matches :data:`Token`; new ones are remembered."""
    known = _known_tokens
    for v in values:
        if v not in known:
            if _TOKEN.fullmatch(v) is None:
                return False
            if len(known) >= _TOKEN_CACHE_MAX:
                known.clear()
                known.add(None)
            known.add(v)
    return True


def fast_record(raw: str | bytes) -> EventRecord | None:
    """A plain v2 event (a JSON line) as a struct with its validated model's fields and values, or ``None``.

    ``None`` is "not proven here", never a refusal: ask :func:`parse_event` (see the note above).
    """
    try:
        event = _decode(raw)
    except _DECODE_ERRORS:
        return None
    tokens, unset = _PLANS[type(event)]
    values = tokens(event)
    if not _all_known(values) and not _tokens_valid(values):
        return None
    event_id = event.event_id
    if event_id is not None and _token_match(event_id) is None:
        return None
    if event.rebuffer_count == 0 and event.rebuffer_s > 0:
        return None
    if event.kind == "session_end":
        started = event.outcome in STARTED_OUTCOMES
        if event.started_at > event.timestamp or started != (event.startup_s is not None) or \
                (event.outcome in FAILURE_OUTCOMES) != (event.failure_reason is not None):
            return None
    cmcd = event.cmcd
    for name, default in unset:
        if getattr(event, name) is _UNSET:
            if cmcd is not None:  # the model would fill it from CMCD: the validator's work
                return None
            setattr(event, name, default)
    if cmcd is not None:
        sid, cid = cmcd.sid, cmcd.cid
        if (sid is not None and sid is not _UNSET and sid != event.session_id) or \
                (cid is not None and cid is not _UNSET and cid != event.title_id):
            return None
    return event


def parse_record(raw: str | bytes) -> tuple[EventRecord | None, str | None]:
    """One JSON line to ``(event, None)`` or ``(None, reason)``: :func:`parse_event`'s answer, faster.

    The event is :func:`fast_record`'s struct, or the validated model when the validator had to decide (the
    detector reads both alike, :data:`EventRecord`).
    """
    record = fast_record(raw)
    if record is not None:
        return record, None
    return parse_event(raw)  # the line itself, read by json: the validator's exact answer and reason
