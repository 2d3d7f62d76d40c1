"""An experiment's definition and its records under the state dir, one folder per experiment.

``<state>/experiments/<name>/experiment.json`` is the definition, fixed at ``start``: the arms,
their splits, and each arm's target *pinned* (a model alias is resolved to a version then, so a
later promotion cannot silently change what an arm serves mid-test). Beside it, ``exposures.jsonl``
records which session played which arm (the join key of the beacons), and ``beacons.jsonl`` is the
default beacon file of the experiment's viewers.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from streamlab.core import project
from streamlab.streaming.experiment.assign import Arm, assign, parse_arms
from streamlab.streaming.experiment.errors import ExperimentError
from streamlab.streaming.experiment.settings import METRICS, ExperimentSettings, Target

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class ArmDefinition(BaseModel):
    name: str
    percent: float
    buckets: int
    target: Target
    version: str | None = None
    """The model version the arm's alias resolved to at start (``None`` for a heuristic policy)."""

    @property
    def label(self) -> str:
        t = self.target
        return f"policy:{t.policy}" if t.policy else f"models:/{t.model}/{self.version}"


class Experiment(BaseModel):
    name: str
    arms: list[ArmDefinition] = Field(min_length=2)
    metric: str = "qoe"
    started_at: float
    """Epoch seconds: beacons before it are the pre-period (the CUPED covariate)."""

    def arm_names(self) -> list[str]:
        return [a.name for a in self.arms]

    def arm(self, name: str) -> ArmDefinition:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise ExperimentError(f"experiment {self.name!r} has no arm {name!r}; its arms: {', '.join(self.arm_names())}")

    def assign(self, viewer_id: str) -> ArmDefinition:
        """The viewer's arm: sticky, salted by the experiment name (:mod:`streamlab.streaming.experiment.assign`)."""
        arms = [Arm(a.name, a.percent, a.buckets) for a in self.arms]
        return self.arm(assign(self.name, arms, viewer_id))


def experiments_dir() -> Path:
    return project.state_dir() / "experiments"


def folder(name: str) -> Path:
    if not NAME.match(name):
        raise ExperimentError(f"experiment name {name!r} is not a lowercase token ([a-z0-9_.-], at most 64)")
    return experiments_dir() / name


def define(name: str, arms: str, split: str | None, metric: str, settings: ExperimentSettings,
           resolve_version: Callable[[str, str], str] | None = None, started_at: float | None = None) -> Experiment:
    """Validate and build a definition; model aliases are pinned through ``resolve_version`` (the registry)."""
    folder(name)
    if metric not in METRICS:
        raise ExperimentError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
    defined = []
    for arm in parse_arms(arms, split):
        target = settings.targets.get(arm.name)
        if target is None:
            raise ExperimentError(
                f"arm {arm.name!r} has no target in configs/experiment.yaml; known arms: {', '.join(settings.targets)}")
        version = None
        if target.model is not None:
            if target.ref.isdigit():
                version = target.ref
            elif resolve_version is None:
                raise ExperimentError(f"arm {arm.name!r} serves models:/{target.model}@{target.ref}: no registry to pin it")
            else:
                version = str(resolve_version(target.model, target.ref))
        defined.append(ArmDefinition(name=arm.name, percent=arm.percent, buckets=arm.buckets, target=target, version=version))
    return Experiment(name=name, arms=defined, metric=metric, started_at=time.time() if started_at is None else started_at)


def save(experiment: Experiment, replace: bool = False) -> Path:
    """Write the definition; an existing experiment of that name is refused unless ``replace``."""
    path = folder(experiment.name) / "experiment.json"
    if path.exists() and not replace:
        raise ExperimentError(f"experiment {experiment.name!r} exists already ({path}); pick another name or --replace")
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in ("exposures.jsonl", "beacons.jsonl"):
        (path.parent / stale).unlink(missing_ok=True)
    path.write_text(experiment.model_dump_json(indent=2))
    return path


def load(name: str) -> Experiment:
    path = folder(name) / "experiment.json"
    if not path.is_file():
        known = sorted(p.parent.name for p in experiments_dir().glob("*/experiment.json"))
        raise ExperimentError(f"unknown experiment {name!r}; started: {', '.join(known) or '(none)'}")
    try:
        return Experiment.model_validate_json(path.read_text())
    except ValueError as exc:
        raise ExperimentError(f"{path} is not a valid experiment definition: {str(exc).splitlines()[0]}") from None


def record_exposures(experiment: Experiment, rows: Iterable[Mapping[str, object]]) -> Path:
    """Append ``{session_id, viewer_id, arm}`` rows: the join of beacons (by ``session_id``) to arms."""
    path = folder(experiment.name) / "exposures.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    names = set(experiment.arm_names())
    with path.open("a", encoding="utf-8") as handle:
        for row in rows:
            if row.get("arm") not in names:
                raise ExperimentError(f"exposure {row} names no arm of {experiment.name!r} ({', '.join(sorted(names))})")
            handle.write(json.dumps(dict(row), separators=(",", ":")) + "\n")
    return path


def exposures_path(name: str) -> Path:
    return folder(name) / "exposures.jsonl"


def beacons_path(name: str) -> Path:
    return folder(name) / "beacons.jsonl"
