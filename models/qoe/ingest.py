"""Read telemetry files (JSONL or parquet), validate every event, and account for every reject.

Nothing is dropped silently: a line that is not JSON, not an object, of an unknown kind or with a
bad field becomes a :class:`Reject` carrying its 1-based line (or row) number, the reason and the
raw text, and :meth:`IngestResult.summary` counts them by reason. ``streamlab qoe detect`` writes
the rejects beside its output so an operator can see what the detector did not look at.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from streamlab.models.qoe.errors import TelemetryError
from streamlab.models.qoe.telemetry import EVENT_ADAPTER, Heartbeat, SessionSummary

HEARTBEAT_COLUMNS: tuple[str, ...] = tuple(Heartbeat.model_fields)
SUMMARY_COLUMNS: tuple[str, ...] = tuple(SessionSummary.model_fields)


@dataclass(frozen=True)
class Reject:
    """One event that failed validation: where it was, why, and what it said."""

    line: int
    reason: str
    raw: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "raw": self.raw}


@dataclass
class IngestResult:
    heartbeats: list[Heartbeat] = field(default_factory=list)
    summaries: list[SessionSummary] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.heartbeats) + len(self.summaries)

    def summary(self) -> dict[str, Any]:
        """Counts: accepted by kind, rejected in total and by reason (the reason's first clause)."""
        reasons = Counter(r.reason.split(":", 1)[0] for r in self.rejects)
        return {
            "accepted": self.accepted,
            "heartbeats": len(self.heartbeats),
            "session_ends": len(self.summaries),
            "rejected": len(self.rejects),
            "rejected_by_reason": dict(reasons.most_common()),
        }

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(heartbeats, session ends) as data frames with the schema's columns, in input order."""
        hb = pd.DataFrame([e.__dict__ for e in self.heartbeats], columns=list(HEARTBEAT_COLUMNS))
        se = pd.DataFrame([e.__dict__ for e in self.summaries], columns=list(SUMMARY_COLUMNS))
        return hb, se


def describe_error(exc: ValidationError) -> str:
    """``field: message; field: message`` with the discriminator tag stripped from locations."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p not in ("heartbeat", "session_end")]
        parts.append(f"{'.'.join(loc) or 'event'}: {err['msg']}")
    return "; ".join(parts)


def _accept(result: IngestResult, event: Heartbeat | SessionSummary) -> None:
    (result.heartbeats if isinstance(event, Heartbeat) else result.summaries).append(event)


def parse_lines(lines: Iterable[str], first_line: int = 1) -> IngestResult:
    """Validate JSONL lines; blank lines are skipped (they carry no event), everything else is judged."""
    result = IngestResult()
    for number, raw in enumerate(lines, start=first_line):
        text = raw.strip()
        if not text:
            continue
        try:
            _accept(result, EVENT_ADAPTER.validate_json(text))
        except ValidationError as exc:
            result.rejects.append(Reject(number, _json_reason(exc, text), text[:2000]))
    return result


def _json_reason(exc: ValidationError, text: str) -> str:
    kinds = {err["type"] for err in exc.errors()}
    if "json_invalid" in kinds:
        return f"invalid JSON: {exc.errors()[0]['msg']}"
    if kinds & {"model_attributes_type", "model_type"} or not text.startswith("{"):
        return "not a JSON object: an event must be {...} with a kind"
    if "union_tag_invalid" in kinds or "union_tag_not_found" in kinds:
        return "unknown kind: expected kind 'heartbeat' or 'session_end'"
    return f"invalid field: {describe_error(exc)}"


def parse_records(records: Iterable[Mapping[str, Any]], first_line: int = 1) -> IngestResult:
    """Validate already-decoded events (parquet rows, HTTP bodies); ``None`` values count as absent."""
    result = IngestResult()
    for number, record in enumerate(records, start=first_line):
        if not isinstance(record, Mapping):
            result.rejects.append(Reject(number, "not a JSON object: an event must be {...} with a kind", repr(record)[:2000]))
            continue
        cleaned = {k: v for k, v in record.items() if v is not None and not (isinstance(v, float) and v != v and k != "timestamp")}
        try:
            _accept(result, EVENT_ADAPTER.validate_python(cleaned))
        except ValidationError as exc:
            kinds = {err["type"] for err in exc.errors()}
            reason = ("unknown kind: expected kind 'heartbeat' or 'session_end'"
                      if kinds & {"union_tag_invalid", "union_tag_not_found"} else f"invalid field: {describe_error(exc)}")
            result.rejects.append(Reject(number, reason, json.dumps(cleaned, default=str)[:2000]))
    return result


def read_events(path: Path) -> IngestResult:
    """Read ``.jsonl``/``.json`` (one event per line) or ``.parquet``; unreadable files raise."""
    path = Path(path)
    if not path.is_file():
        raise TelemetryError(f"{path}: events file not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a non-parquet file
            raise TelemetryError(f"{path}: not a readable parquet file ({exc})") from None
        return parse_records(frame.to_dict("records"))
    if suffix not in (".jsonl", ".json", ".ndjson"):
        raise TelemetryError(f"{path}: unknown events format {suffix!r}; use .jsonl (one event per line) or .parquet")
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return parse_lines(handle)


def iter_jsonl(path: Path) -> Iterator[str]:
    with Path(path).open("r", encoding="utf-8", errors="replace") as handle:
        yield from handle


def write_events(events: Sequence[Heartbeat | SessionSummary], path: Path) -> None:
    """Write validated events as JSONL or parquet (by suffix), nulls omitted in JSONL."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        pd.DataFrame([e.model_dump() for e in events]).to_parquet(path, index=False)
        return
    with path.open("w") as handle:
        for event in events:
            handle.write(event.model_dump_json(exclude_none=True) + "\n")


def write_rejects(result: IngestResult, path: Path) -> dict[str, Any]:
    """Write every reject as a JSONL line and return the ingest summary (also useful to print)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for reject in result.rejects:
            handle.write(json.dumps(reject.to_dict()) + "\n")
    return result.summary()
