"""``optimize_ladder``: the one entry point that turns a source file into a ladder, by any method.

- ``fixed``: the design's ladder, as the stack selects it (H.264 only).
- ``hull``: the exhaustive search: trial encodes over sizes x CRFs (Ray tasks), VMAF of each,
  the upper convex hull, the ladder rules. Expensive (tens of encodes), exact for this title.
- ``predicted``: cheap features (SI/TI, one fast probe encode) measured here, then the family's
  :func:`~streamlab.models.ladder.decide.decide` predicts the grid and the same hull and rules
  pick the rungs. A few percent of the hull's encoding CPU.

The stack encodes the returned rungs with :func:`streamlab.streaming.transcode.encoder_args.rung_video_args`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from streamlab.core.errors import UsageError
from streamlab.models.ladder.decide import LadderDecideRequest, decide, ladder_from_points, load_predictor
from streamlab.models.ladder.hull import upper_hull
from streamlab.models.ladder.predictor import LadderPredictor
from streamlab.models.ladder.schema import Codec, Ladder, TrialPoint
from streamlab.models.ladder.settings import LadderOptimizerSettings, load_ladder_settings
from streamlab.streaming.transcode.per_title.features import title_features
from streamlab.streaming.transcode.per_title.fixed import fixed_ladder
from streamlab.streaming.transcode.per_title.source import SourceFacts, source_facts
from streamlab.streaming.transcode.per_title.trials import build_grid, run_grid


class UnknownMethod(UsageError):
    """A method (or method and codec) ``optimize_ladder`` does not offer."""


@dataclass
class HullSearch:
    """Everything the exhaustive search measured: the grid, its hull and the ladder chosen from it."""

    facts: SourceFacts
    points: list[TrialPoint]
    hull: list[TrialPoint]
    ladder: Ladder


def optimize_ladder(
    source: Path,
    method: Literal["fixed", "hull", "predicted"] = "hull",
    codec: Literal["h264", "av1"] = "h264",
    overrides: list[str] | None = None,
    *,
    settings: LadderOptimizerSettings | None = None,
) -> Ladder:
    """The ladder for ``source``; raises :class:`~.source.UnsuitableSource` for bad sources."""
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
        return predicted_ladder(facts, codec, settings)
    raise UnknownMethod(f"unknown method {method!r}; valid: fixed, hull, predicted")


def hull_search(facts: SourceFacts, codec: Codec, settings: LadderOptimizerSettings) -> HullSearch:
    with tempfile.TemporaryDirectory(prefix="ladder-trials-") as work:
        specs = build_grid(facts, codec, settings, Path(work))
        points = run_grid(specs, f"{codec} trial grid of {facts.path.name} ({len(specs)} encodes)")
    ladder = ladder_from_points(points, codec, settings.rules, source=str(facts.path),
                                segment_duration_s=facts.segment_duration_s, method="hull")  # fmt: skip
    return HullSearch(facts=facts, points=points, hull=upper_hull(points), ladder=ladder)


def predicted_ladder(
    facts: SourceFacts, codec: Codec, settings: LadderOptimizerSettings, predictor: LadderPredictor | None = None
) -> Ladder:
    return predicted_ladders(facts, [codec], settings, predictor)[0]


def predicted_ladders(
    facts: SourceFacts, codecs: list[Codec], settings: LadderOptimizerSettings, predictor: LadderPredictor | None = None
) -> list[Ladder]:
    """Measure the title's features once, then :func:`~streamlab.models.ladder.decide.decide` each codec's ladder."""
    origin = "given"
    if predictor is None:
        predictor, origin = load_predictor(settings.predictor.model_alias)
    request = LadderDecideRequest(
        features=title_features(facts, settings.predictor), codecs=codecs,
        segment_duration_s=facts.segment_duration_s, source=str(facts.path),
    )  # fmt: skip
    return decide(request, predictor, settings, origin=origin).ladders
