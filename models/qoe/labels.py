"""Ground-truth incident labels: the record a simulated day carries and the labels file beside its events.

The label *type* lives with the model family (not with the simulator that draws incidents) because
evaluation (:mod:`streamlab.models.qoe.evaluate`) judges alerts against it, and evaluation must not
depend on how the incidents were made. ``streamlab qoe simulate`` writes ``<events>.labels.json``;
``streamlab qoe evaluate`` reads it back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamlab.models.qoe.errors import IncidentSpecError


@dataclass(frozen=True)
class Incident:
    """One labelled incident: what broke (``kind``), where (``dimension=value``), and when (epoch seconds)."""

    id: str
    kind: str
    dimension: str
    value: str
    start_s: float
    end_s: float
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        return cls(**{k: data[k] for k in ("id", "kind", "dimension", "value", "start_s", "end_s")},
                   params=dict(data.get("params", {})))


def default_labels_path(events: Path) -> Path:
    """``<events stem>.labels.json`` beside the events file (``day.jsonl`` → ``day.labels.json``)."""
    events = Path(events)
    return events.with_name(events.name.split(".")[0] + ".labels.json")


def write_labels(path: Path, incidents: list[Incident], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**meta, "incidents": [i.to_dict() for i in incidents]}, indent=2) + "\n")


def read_labels(path: Path) -> tuple[list[Incident], dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise IncidentSpecError(f"labels file {path} not found")
    try:
        data = json.loads(path.read_text())
        return [Incident.from_dict(d) for d in data["incidents"]], {k: v for k, v in data.items() if k != "incidents"}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise IncidentSpecError(f"{path}: not a labels file written by `streamlab qoe simulate` ({exc})") from None
