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

import json
import math
import operator
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from streamlab.models.qoe.telemetry import EVENT_ADAPTER as V1_ADAPTER
from streamlab.models.qoe.telemetry import Arms
from streamlab.models.qoe.telemetry import Heartbeat as V1Heartbeat

try:  # a wheel; the JSON fast path only (``loads``), never a different answer
    import orjson as _orjson
except ImportError:  # pragma: no cover - the lock pins it
    _orjson = None  # type: ignore[assignment]

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


# ---- the fast path: plain v2 events without pydantic ---------------------------------------------------------------
#
# A day of telemetry is millions of events, and a pydantic model per event costs more than everything the detector
# does with it (issue 19: 50k events/s in batch). Most events are plain: every field of its declared JSON type, in
# range, no CMCD fill-in to do. :func:`fast_record` proves that much with a few type and range checks and returns the
# event as the dict a validated model would hold; for anything it cannot prove (a v1 event, a number given as a
# string, an unknown CMCD key, a refusal) it returns ``None`` and the caller asks :func:`parse_event`, so refusals,
# their reasons and their counters stay exactly the validator's. It is conservative by construction: it may send a
# valid event to the slow path, never accept one the models refuse (a test checks both against mutated events).

_TOKEN = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_INF = math.inf
_EXACT = float(2 ** 53)
"""Int JSON numbers the float conversion keeps exact; larger ones take the slow path."""
_TOKEN_CACHE_MAX = 1 << 16

# A rule is ``(check, optional, lo, hi)`` or ``(check, optional, allowed)``; checks are small ints so one
# ``if`` chain dispatches them (a closure call per field cost more than the rest of the event's handling).
_TOK, _NUM, _INT, _ENUM, _BOOL, _TEXT, _TWO, _DICT, _NONE, _ID = range(10)
"""``_ID``: a token new on every event (``event_id``): matched each time and never cached, since caching it filled
the token cache in 64k events and evicted the dimension values that do repeat."""
_Rule = tuple[Any, ...]


def _num(lo: float, hi: float, optional: bool = False) -> _Rule:
    return (_NUM, optional, lo, hi)


def _int(lo: float, hi: float, optional: bool = False) -> _Rule:
    return (_INT, optional, lo, min(hi, _EXACT - 1))


def _enum(*values: str) -> _Rule:
    return (_ENUM, False, frozenset(values))


_TOKEN_RULE: _Rule = (_TOK, False)
_OPT_TOKEN: _Rule = (_TOK, True)
_NONNEG = _num(0.0, _INF)
_COUNT = _int(0, 1_000_000)
_KBPS = (0.0, 200_000.0)
_COMMON_RULES: dict[str, _Rule] = {
    "schema_version": (_TWO, False), "event_id": (_ID, True), "seq": _int(0, 10_000_000, True), "timestamp": _NONNEG,
    "viewer_id": _TOKEN_RULE, "session_id": _TOKEN_RULE, "title_id": _TOKEN_RULE, "region": _TOKEN_RULE, "edge": _TOKEN_RULE,
    "device_class": _TOKEN_RULE, "content_type": _enum("live", "vod"),
    **{name: _OPT_TOKEN for name in ("isp", "cdn", "pathway", "app_version", "player_version", "os", "device_model",
                                     "connection_type")},
    "asn": _int(0, 4_294_967_295, True), "cmcd": (_DICT, True), "arms": (_NONE, True), "rebuffer_count": _COUNT,
    "rebuffer_s": _NONNEG, "bitrate_switches": _COUNT, "errors": _COUNT, "startup_s": _num(0.0, _INF, True),
    "live_latency_s": _num(0.0, _INF, True)}
_RULES: dict[str, dict[str, _Rule]] = {
    "heartbeat": {**_COMMON_RULES, "kind": _enum("heartbeat"), "playhead_s": _NONNEG, "buffer_s": _num(0.0, 600.0),
                  "bitrate_kbps": _num(*_KBPS), "resolution_height": _int(0, 8640, True), "rendition": _OPT_TOKEN,
                  "throughput_kbps": _num(0.0, 10_000_000.0, True), "dropped_frames": _COUNT},
    "session_end": {**_COMMON_RULES, "kind": _enum("session_end"), "started_at": _NONNEG, "outcome": _enum(*OUTCOMES),
                    "play_s": _NONNEG, "rebuffering_ratio": _num(0.0, 1.0, True), "avg_bitrate_kbps": _num(*_KBPS, True),
                    "avg_resolution_height": _num(0.0, 8640.0, True), "rendition": _OPT_TOKEN, "failure_reason": _OPT_TOKEN,
                    "chunk_qoe_mean": _num(-_INF, _INF, True)}}
_CMCD_RULES: dict[str, _Rule] = {
    "br": _int(0, 10_000_000, True), "bl": _int(0, 10_000_000, True), "bs": (_BOOL, True), "cid": (_TEXT, True, 64),
    "d": _int(0, _INF, True), "dl": _int(0, _INF, True), "mtp": _int(0, 100_000_000, True), "nor": (_TEXT, True, 512),
    "ot": (_ENUM, True, frozenset(("m", "a", "v", "av", "i", "c", "tt", "k", "o"))), "pr": _num(0.0, 100.0, True),
    "rtp": _int(0, _INF, True), "sf": (_ENUM, True, frozenset(("d", "h", "s", "o"))), "sid": (_TEXT, True, 64),
    "st": (_ENUM, True, frozenset(("v", "l"))), "su": (_BOOL, True), "tb": _int(0, _INF, True)}
_FLOATS: dict[str, tuple[str, ...]] = {
    "heartbeat": ("timestamp", "rebuffer_s", "startup_s", "live_latency_s", "playhead_s", "buffer_s", "bitrate_kbps",
                  "throughput_kbps"),
    "session_end": ("timestamp", "rebuffer_s", "startup_s", "live_latency_s", "started_at", "play_s", "rebuffering_ratio",
                    "avg_bitrate_kbps", "avg_resolution_height", "chunk_qoe_mean")}
"""Float fields: a JSON int there becomes a float, as pydantic makes it (``375`` -> ``375.0``)."""
_MODELS: dict[str, type[BaseModel]] = {"heartbeat": HeartbeatV2, "session_end": SessionEndV2}
_REQUIRED: dict[str, frozenset[str]] = {
    kind: frozenset(n for n, f in model.model_fields.items() if f.is_required()) for kind, model in _MODELS.items()}
_DEFAULTS: dict[str, dict[str, Any]] = {
    kind: {n: f.default for n, f in model.model_fields.items() if not f.is_required()} for kind, model in _MODELS.items()}
_CMCD_FILLED = frozenset({"bitrate_kbps", "buffer_s", "throughput_kbps"})
"""Heartbeat fields the model fills from CMCD when absent (``_Common._from_cmcd``)."""
_known_tokens: set[str] = set()
"""Tokens already matched (dimension values repeat on every beat): a set lookup instead of a regex; bounded."""


def _valid(rules: dict[str, _Rule], data: dict[str, Any]) -> bool:
    """Every field of ``data`` has a rule and passes it (see :func:`fast_record`)."""
    plan = _plans.get((id(rules), tuple(data))) or _plan(rules, data)
    return plan is not None and _valid_plan(plan, data)


def _valid_plan(plan: _Plan, data: dict[str, Any]) -> bool:
    """:func:`_valid` with the rules of ``data``'s key layout looked up already.

    Events of one producer carry the same keys in the same order, so the rules are looked up once per layout
    (:func:`_plan`): its token fields (dimension values, repeated on every beat) are proven at once by set lookups
    in C against the tokens already matched; only a layout's first event, a new value or a ``null`` checks them one
    by one, with the same rules.
    """
    tokens, others, every = plan[0], plan[1], plan[2]
    if tokens is not None:
        try:
            known = all(map(_known_tokens.__contains__, tokens(data)))  # ``issuperset`` would build a set first
        except TypeError:  # an unhashable value (a list or an object) is no token: the field by field check says so
            known = False
        if known:
            return _valid_fields(others, data)
    return _valid_fields(every, data)


_Plan = tuple[Any, ...]
"""``(token getter or None, rules of the other fields, every field's rule, required present, defaults missing,
float fields present)``; the last three for an event's layout only (:func:`fast_record`)."""
_plans: dict[tuple[int | str, tuple[str, ...]], _Plan] = {}
"""Keyed by the rules' ``id`` (a CMCD object) or an event's kind, and the keys in order."""
_PLANS_MAX = 256


def _plan(rules: dict[str, _Rule], data: dict[str, Any], kind: str | None = None) -> _Plan | None:
    """The rules of ``data``'s key layout (see :func:`_valid_plan`); ``None`` when a key has no rule (not plain).

    ``kind``: an event's kind, to note also whether its required fields are all there, the defaults it lacks and
    its float fields. Bounded: a producer sending ever new layouts clears it.
    """
    every = tuple((name, rules[name]) for name in data if name in rules)
    if len(every) != len(data):  # not cached: a layout of unknown keys is the validator's to refuse, every time
        return None
    tok = tuple(name for name, rule in every if rule[0] == _TOK)
    plan: _Plan = (operator.itemgetter(*tok) if len(tok) >= 2 else None,
                   tuple(item for item in every if len(tok) < 2 or item[1][0] != _TOK), every)
    if kind is not None:
        plan += (_REQUIRED[kind] <= data.keys(), {n: v for n, v in _DEFAULTS[kind].items() if n not in data},
                 tuple(n for n in _FLOATS[kind] if n in data))
    if len(_plans) >= _PLANS_MAX:
        _plans.clear()
    _plans[(id(rules) if kind is None else kind, tuple(data))] = plan
    return plan


def _valid_fields(rules: tuple[tuple[str, _Rule], ...], data: dict[str, Any]) -> bool:
    """Each ``(name, rule)``: ``data[name]`` passes its rule."""
    tokens = _known_tokens
    for name, rule in rules:
        v = data[name]
        if v is None:
            if rule[1]:
                continue
            return False
        check = rule[0]
        if check == _TOK:
            if type(v) is not str:
                return False
            if v not in tokens:
                if _TOKEN.fullmatch(v) is None:
                    return False
                if len(tokens) >= _TOKEN_CACHE_MAX:
                    tokens.clear()
                tokens.add(v)
        elif check == _NUM:
            t = type(v)
            if t is float:
                if not (rule[2] <= v <= rule[3] and -_INF < v < _INF):  # NaN fails every comparison
                    return False
            elif t is not int or not (rule[2] <= v <= rule[3] and -_EXACT < v < _EXACT):
                return False
        elif check == _INT:
            if type(v) is not int or not rule[2] <= v <= rule[3]:
                return False
        elif check == _ENUM:
            if type(v) is not str or v not in rule[2]:
                return False
        elif check == _BOOL:
            if type(v) is not bool:
                return False
        elif check == _TEXT:
            if type(v) is not str or len(v) > rule[2]:
                return False
        elif check == _TWO:
            if type(v) is not int or v != 2:
                return False
        elif check == _DICT:
            if type(v) is not dict:
                return False
        elif check == _ID:
            if type(v) is not str or _TOKEN.fullmatch(v) is None:
                return False
        else:  # _NONE: only null is plain (``arms`` takes the slow path)
            return False
    return True


def fast_record(data: Any) -> dict[str, Any] | None:
    """A plain v2 event as the field dict its validated model holds (defaults filled, floats as floats), or ``None``.

    ``None`` is "not proven here", never a refusal: ask :func:`parse_event` (see the note above).
    """
    if type(data) is not dict:
        return None
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _RULES:
        return None
    rules = _RULES[kind]
    layout = (kind, tuple(data))
    plan = _plans.get(layout) or _plan(rules, data, kind)
    if plan is None or not plan[3] or not _valid_plan(plan, data):
        return None
    cmcd = data.get("cmcd")
    if cmcd is not None:
        if not _valid(_CMCD_RULES, cmcd):
            return None
        # The model would fill these from CMCD (``_Common._from_cmcd``) or refuse a mismatch: the slow path's work.
        if "content_type" not in data or (kind == "heartbeat" and not _CMCD_FILLED <= data.keys()):
            return None
        sid, cid = cmcd.get("sid"), cmcd.get("cid")
        if (sid is not None and sid != data["session_id"]) or (cid is not None and cid != data["title_id"]):
            return None
    if data.get("rebuffer_count", 0) == 0 and data.get("rebuffer_s", 0.0) > 0:
        return None
    if kind == "session_end":
        started = data["outcome"] in STARTED_OUTCOMES
        if data["started_at"] > data["timestamp"] or started != (data.get("startup_s") is not None) or \
                (data["outcome"] in FAILURE_OUTCOMES) != (data.get("failure_reason") is not None):
            return None
    record = dict(data)  # the defaults of the fields it lacks last: the same fields and values as the model's
    record.update(plan[4])
    for name in plan[5]:  # a default float is a float already
        if type(record[name]) is int:
            record[name] = float(record[name])
    return record


def loads(raw: str | bytes) -> Any:
    """JSON text to Python, with orjson when it is installed (several times faster than :mod:`json` on events).

    Not always :mod:`json`'s answer: orjson refuses ``NaN`` and lone surrogates and reads an integer beyond
    64 bits as a float. :func:`parse_record` therefore trusts it only for events :func:`fast_record` proves
    plain (where neither can occur: ints there stay below 2**53), and hands everything else, as text, to
    :func:`parse_event`, which reads it with :mod:`json`.
    """
    if _orjson is not None:
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def parse_record(raw: str | bytes) -> tuple[dict[str, Any] | None, str | None]:
    """One JSON line to ``(field dict, None)`` or ``(None, reason)``: :func:`parse_event`'s answer, faster.

    The dict is :func:`fast_record`'s, or the validated model's own fields when the validator had to decide
    (:func:`streamlab.models.qoe.eb.fields` reads both alike).
    """
    try:
        record = fast_record(loads(raw))
    except ValueError:  # UnicodeDecodeError is one
        record = None
    if record is not None:
        return record, None
    event, reason = parse_event(raw)  # the line itself, read by json: the validator's exact answer and reason
    return (None if event is None else event.__dict__), reason
