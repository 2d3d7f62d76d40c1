"""``optimize_ladder``: the one entry point that turns a source file into a ladder, by any method.

- ``fixed``: the design's ladder, as the stack selects it (H.264 only).
- ``hull``: the exhaustive search: trial encodes over sizes x CRFs (Ray tasks), VMAF of each,
  the upper convex hull, the ladder rules. Expensive (tens of encodes), exact for this title.
- ``predicted``: cheap features (SI/TI, one fast probe encode) measured here, then the family's
  :func:`~streamlab.models.ladder.decide.decide` predicts the grid and the same hull and rules
  pick the rungs; then the top rung is encoded for real and its CRF corrected toward the
  ceiling (:mod:`.verify`). A few percent of the hull's encoding CPU.
- ``shots``: shot detection, per-shot trial grid and the dynamic optimizer
  (:mod:`.shots`): one CRF per shot and rung, the top rung verified shot by shot. About the hull's CPU.

Trials run at ``grid.<codec>.preset``; every method's rungs are published (and their top rung
verified) at ``grid.<codec>.publish_preset``.

The stack encodes the returned rungs with :func:`streamlab.streaming.transcode.encoder_args.rung_video_args`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from streamlab.core.errors import UsageError
from streamlab.models.ladder.decide import LadderDecideRequest, decide, ladder_from_points, load_predictor
from streamlab.models.ladder.grid import extension_crfs, trial_sizes
from streamlab.models.ladder.hull import upper_hull
from streamlab.models.ladder.predictor import LadderPredictor
from streamlab.models.ladder.schema import Codec, Ladder, TrialPoint
from streamlab.models.ladder.settings import LadderOptimizerSettings, load_ladder_settings
from streamlab.streaming.transcode.per_title.features import title_features
from streamlab.streaming.transcode.per_title.fixed import fixed_ladder
from streamlab.streaming.transcode.per_title.source import SourceFacts, source_facts
from streamlab.streaming.transcode.per_title.trials import build_grid, run_grid
from streamlab.streaming.transcode.per_title.verify import verify_top_rung


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
    method: Literal["fixed", "hull", "predicted", "shots"] = "hull",
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
    if method == "shots":
        from streamlab.streaming.transcode.per_title.shots import shot_search

        return shot_search(facts, codec, settings).ladder
    raise UnknownMethod(f"unknown method {method!r}; valid: fixed, hull, predicted, shots")


def hull_search(
    facts: SourceFacts, codec: Codec, settings: LadderOptimizerSettings, *, cache: bool = True
) -> HullSearch:
    """The title's trial grid (extended to the ceiling and the lowest throughput), its hull and ladder.

    ``cache=False`` measures every trial now instead of recalling remembered ones (and remembers
    nothing): for a CPU figure to set beside a search measured in this run."""
    with tempfile.TemporaryDirectory(prefix="ladder-trials-") as work:
        specs = build_grid(facts, codec, settings, Path(work))
        points = run_grid(specs, f"{codec} trial grid of {facts.path.name} ({len(specs)} encodes)", cache=cache)
        points += extend_grid(facts, codec, settings, Path(work), points, cache=cache)
    ladder = ladder_from_points(points, codec, settings.rules, source=str(facts.path),
                                segment_duration_s=facts.segment_duration_s, method="hull",
                                publish_preset=settings.grid.codec(codec).published_preset,
                                publish_params=settings.grid.codec(codec).publish_params)  # fmt: skip
    return HullSearch(facts=facts, points=points, hull=upper_hull(points), ladder=ladder)


def extend_grid(
    facts: SourceFacts, codec: Codec, settings: LadderOptimizerSettings, work: Path, points: list[TrialPoint],
    *, cache: bool = True,
) -> list[TrialPoint]:
    """Trial points beyond the grid until it reaches the quality ceiling and the lowest throughput (bounded)."""
    sizes = trial_sizes(facts.width, facts.height, settings.grid.heights, settings.grid.max_resolutions)
    crfs = list(settings.grid.codec(codec).crf)
    extra: list[TrialPoint] = []
    for _ in range(settings.grid.max_extensions):
        every = points + extra
        up, down = extension_crfs(max(p.vmaf for p in every), min(p.bitrate_kbps for p in every), crfs, codec,
                                  settings.rules.top_vmaf, settings.rules.lowest_throughput_kbps)  # fmt: skip
        specs = (build_grid(facts, codec, settings, work, sizes=sizes[:1], crfs=up) if up else []) + (
            build_grid(facts, codec, settings, work, sizes=sizes[-1:], crfs=down) if down else []
        )
        if not specs:
            break
        extra += run_grid(specs, f"{codec} grid extension of {facts.path.name} ({len(specs)} encodes)", cache=cache)
        crfs += up + down
    return extra


def predicted_ladder(
    facts: SourceFacts, codec: Codec, settings: LadderOptimizerSettings, predictor: LadderPredictor | None = None
) -> Ladder:
    return predicted_ladders(facts, [codec], settings, predictor)[0]


def predicted_ladders(
    facts: SourceFacts, codecs: list[Codec], settings: LadderOptimizerSettings, predictor: LadderPredictor | None = None
) -> list[Ladder]:
    """Measure the title's features once, :func:`~streamlab.models.ladder.decide.decide` each codec's ladder,
    then verify each top rung with a real encode (:mod:`.verify`, ``verify.enabled``).

    With ``shots.predicted_per_shot`` the ladders are shot-based instead: per-shot features, predicted
    per-shot grids, the dynamic optimizer (:func:`~.shots.predicted_shot_search`)."""
    if settings.shots.predicted_per_shot:
        # per-shot operating points predicted from per-shot features; the top rung's CRF is per shot, so it
        # is verified shot by shot (:func:`~.shots.verify_shot_top_rung`) instead of with one CRF
        from streamlab.streaming.transcode.per_title.shots import predicted_shot_search

        return [predicted_shot_search(facts, codec, settings, predictor).ladder for codec in codecs]
    origin = "given"
    if predictor is None:
        predictor, origin = load_predictor(settings.predictor.model_alias)
    request = LadderDecideRequest(
        features=title_features(facts, settings.predictor), codecs=codecs,
        segment_duration_s=facts.segment_duration_s, source=str(facts.path),
    )  # fmt: skip
    ladders = decide(request, predictor, settings, origin=origin).ladders
    return [verify_top_rung(facts, ladder, settings) for ladder in ladders]
