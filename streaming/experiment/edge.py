"""What the edge's viewer-request hook needs from experiments: every running arm of a viewer, as a header.

The hook (device class, region, A/B group) calls :func:`assignments` per request with the
definitions it loaded once (:func:`running`); the result travels to the origin and into telemetry
as one header, ``X-Streamlab-Arms: <experiment>=<arm>;...``, so a single request can be in several
experiments (their salts differ, so their arms are independent). Stateless and sticky: the same
viewer id gives the same header on every edge node.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamlab.streaming.experiment.definition import Experiment, experiments_dir, load

ARMS_HEADER = "X-Streamlab-Arms"


def running() -> list[Experiment]:
    """Every experiment started under the state dir, by name."""
    return [load(path.parent.name) for path in sorted(experiments_dir().glob("*/experiment.json"))]


def assignments(viewer_id: str, experiments: Sequence[Experiment]) -> dict[str, str]:
    """``{experiment: arm}`` for the viewer; an empty viewer id is refused (never routed to a default arm)."""
    return {e.name: e.assign(viewer_id).name for e in experiments}


def header_value(assigned: dict[str, str]) -> str:
    return ";".join(f"{name}={arm}" for name, arm in sorted(assigned.items()))


def parse_header(value: str) -> dict[str, str]:
    """The origin's and telemetry's side: ``exp=arm;...`` back to a mapping (malformed pairs are dropped)."""
    pairs = (item.partition("=") for item in value.split(";") if item.strip())
    return {name.strip(): arm.strip() for name, sep, arm in pairs if sep and name.strip() and arm.strip()}
