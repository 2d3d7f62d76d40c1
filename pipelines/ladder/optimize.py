"""``optimize_ladder``: the one entry point that turns a source into a ladder, by any method.

- ``fixed``: the design's ladder, as the stack selects it (H.264 only).
- ``hull``: the exhaustive search: trial encodes over sizes x CRFs (Ray tasks), VMAF of each,
  the upper convex hull, the ladder rules. Expensive (tens of encodes), exact for this title.
- ``predicted``: cheap features (SI/TI, one fast probe encode) and a trained model predict the
  trial grid's (bitrate, VMAF) points; the same hull and rules then pick the rungs. A few percent
  of the hull's encoding CPU.

The stack encodes the returned rungs with :func:`streamlab.pipelines.ladder.encoder_args.rung_video_args`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from streamlab.core.errors import StreamlabError
from streamlab.pipelines.ladder.fixed import fixed_ladder
from streamlab.pipelines.ladder.hull import upper_hull
from streamlab.pipelines.ladder.rules import select_rungs
from streamlab.pipelines.ladder.schema import Codec, Ladder, TrialPoint
from streamlab.pipelines.ladder.settings import LadderOptimizerSettings, load_ladder_settings
from streamlab.pipelines.ladder.source import SourceFacts, inspect_source
from streamlab.pipelines.ladder.trials import build_grid, run_grid


class UnknownMethod(StreamlabError):
    pass


@dataclass
class HullSearch:
    """Everything the exhaustive search measured: the grid, its hull and the ladder chosen from it."""

    facts: SourceFacts
    points: list[TrialPoint]
    hull: list[TrialPoint]
    ladder: Ladder


def source_facts(source: Path, settings: LadderOptimizerSettings) -> SourceFacts:
    from streamlab.streaming.ingest.settings import load_streaming_settings

    return inspect_source(source, settings.segment_s(), load_streaming_settings().transcode.max_fps)


def optimize_ladder(
    source: Path,
    method: Literal["fixed", "hull", "predicted"] = "hull",
    codec: Literal["h264", "av1"] = "h264",
    overrides: list[str] | None = None,
    *,
    settings: LadderOptimizerSettings | None = None,
) -> Ladder:
    """The ladder for ``source``; raises :class:`~streamlab.pipelines.ladder.source.UnsuitableSource` for bad sources."""
    settings = settings or load_ladder_settings(overrides)
    facts = source_facts(Path(source), settings)
    if method == "fixed":
        if codec != "h264":
            raise UnknownMethod(
                f"the fixed ladder is H.264 only (got codec={codec!r}); use --method hull or predicted for AV1"
            )
        return fixed_ladder(facts)
    if method == "hull":
        return hull_search(facts, codec, settings).ladder
    if method == "predicted":
        from streamlab.pipelines.ladder.predict import predicted_ladder

        return predicted_ladder(facts, codec, settings)
    raise UnknownMethod(f"unknown method {method!r}; valid: fixed, hull, predicted")


def hull_search(facts: SourceFacts, codec: Codec, settings: LadderOptimizerSettings) -> HullSearch:
    with tempfile.TemporaryDirectory(prefix="ladder-trials-") as work:
        specs = build_grid(facts, codec, settings, Path(work))
        points = run_grid(specs, f"{codec} trial grid of {facts.path.name} ({len(specs)} encodes)")
    return ladder_from_points(facts, codec, settings, points, method="hull")


def ladder_from_points(
    facts: SourceFacts,
    codec: Codec,
    settings: LadderOptimizerSettings,
    points: list[TrialPoint],
    *,
    method: Literal["hull", "predicted"],
    decision_cpu_s: float | None = None,
    notes: list[str] | None = None,
) -> HullSearch:
    hull = upper_hull(points)
    rungs = select_rungs(hull, settings.rules, codec, points)
    cpu = decision_cpu_s if decision_cpu_s is not None else sum(p.encode_cpu_s + p.measure_cpu_s for p in points)
    ladder = Ladder(
        source=str(facts.path),
        method=method,
        codec=codec,
        segment_duration_s=facts.segment_duration_s,
        rungs=rungs,
        decision_cpu_s=round(cpu, 2),
        notes=notes or [f"{len(points)} grid points, {len(hull)} on the hull"],
    )
    return HullSearch(facts=facts, points=points, hull=hull, ladder=ladder)
