"""The ladder decision: a title's features in, its per-title ladder for each codec out.

One :func:`decide` for everyone who predicts a ladder: ``streamlab ladder optimize --method
predicted`` and ingest's ``--ladder per-title`` (through
:func:`streamlab.streaming.transcode.per_title.optimize.predicted_ladder`), the model server's
``/ladder`` and the registered pyfunc. Measuring the features (SI/TI, one probe encode) is the
caller's job (:mod:`streamlab.streaming.transcode.per_title.features`): the decision never opens a file.

The model predicts the grid's own points (sizes x the configured CRFs, the CRFs it was trained
on: trees are step functions between them); the same hull and rules that read a measured grid
(:func:`ladder_from_points`) then pick the rungs, interpolating the CRF between grid points
exactly as they do between measured ones.

The model is the registered ``@<predictor.model_alias>`` version when there is one
(:func:`load_predictor`), else the committed default artifact.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from streamlab.models.ladder.features import TitleFeatures
from streamlab.models.ladder.grid import as_published, encoder_for, extension_crfs, trial_sizes
from streamlab.models.ladder.hull import upper_hull
from streamlab.models.ladder.predictor import DEFAULT_DIR, LadderPredictor
from streamlab.models.ladder.rules import select_rungs
from streamlab.models.ladder.schema import Codec, Ladder, LadderRung, TrialPoint
from streamlab.models.ladder.settings import LadderOptimizerSettings, RuleSettings

FEATURES_SOURCE = "<features>"
"""``Ladder.source`` of a ladder decided from features alone (no file was seen)."""


class LadderDecideRequest(BaseModel):
    """One title to decide: its measured features, the codecs wanted and the segment (closed GOP) length."""

    features: TitleFeatures
    codecs: list[Codec] = Field(default_factory=lambda: ["h264", "av1"], min_length=1)
    segment_duration_s: float = Field(gt=0, description="the stack's segment length: every rung's GOP")
    source: str = Field(FEATURES_SOURCE, description="recorded as each ladder's source (the path, when one was probed)")


class LadderDecision(BaseModel):
    """One predicted ladder per requested codec, in the request's order."""

    ladders: list[Ladder] = Field(min_length=1)

    @property
    def rungs(self) -> list[LadderRung]:
        """Every codec's rungs, each codec highest bitrate first."""
        return [rung for ladder in self.ladders for rung in ladder.rungs]

    @property
    def notes(self) -> list[str]:
        return self.ladders[0].notes

    @property
    def decision_cpu_s(self) -> float:
        """The features' CPU (one probe for all codecs); the prediction itself costs milliseconds."""
        return self.ladders[0].decision_cpu_s


def decide(
    request: LadderDecideRequest,
    predictor: LadderPredictor,
    settings: LadderOptimizerSettings,
    *,
    origin: str = "given",
) -> LadderDecision:
    """The predicted ladder of every requested codec; ``origin`` (which model) goes into the notes."""
    features = request.features
    notes = [
        f"model {origin}",
        f"SI {features.si_mean:.1f} TI {features.ti_mean:.1f} probe {features.probe_bpp:.3f} bpp",
    ]
    ladders = [
        ladder_from_points(
            extend_predicted(predicted_points(predictor, features, codec, settings), codec, settings), codec,
            settings.rules,
            source=request.source, segment_duration_s=request.segment_duration_s, method="predicted",
            decision_cpu_s=features.cpu_s, notes=notes, publish_preset=settings.grid.codec(codec).published_preset,
            publish_params=settings.grid.codec(codec).publish_params,
        )  # fmt: skip
        for codec in request.codecs
    ]
    return LadderDecision(ladders=ladders)


def predicted_points(
    predictor: LadderPredictor,
    features: TitleFeatures,
    codec: Codec,
    settings: LadderOptimizerSettings,
    crfs: list[float] | None = None,
) -> list[TrialPoint]:
    """The title's grid (sizes x CRFs, as a trial search would encode it) with predicted (bitrate, VMAF)."""
    grid = settings.grid.codec(codec)
    crfs = crfs or list(grid.crf)
    sizes = trial_sizes(features.width, features.height, settings.grid.heights, settings.grid.max_resolutions)
    # Trees do not extrapolate: sizes scaled further down than any the model was trained on get
    # the quality of the smallest scale it knows, i.e. an overestimate. Leave them out.
    scale_min = float(predictor.card.get("scale_min", 0.0))
    source_pixels = features.width * features.height
    sizes = [s for s in sizes if (s[0] * s[1] / source_pixels) ** 0.5 >= scale_min - 1e-3] or sizes[:1]
    vector = features.vector()
    combos = [(w, h, float(c)) for w, h in sizes for c in crfs]
    rows = np.array([LadderPredictor.point_row(vector, source_pixels, w, h, c) for w, h, c in combos])
    log_bpp, vmaf = predictor.predict(codec, rows)
    return [
        TrialPoint(
            width=w,
            height=h,
            encoder=encoder_for(codec, grid.preset, grid.tune, round(c, 2)),
            bitrate_kbps=math.exp(lb) * w * h * features.fps / 1000,
            vmaf=float(q),
            vmaf_p5=float(q),
            psnr_y=0.0,
            ssim=0.0,
            encode_cpu_s=0.0,
            measure_cpu_s=0.0,
        )  # fmt: skip
        for (w, h, c), lb, q in zip(combos, log_bpp, vmaf, strict=False)
    ]


def extend_predicted(points: list[TrialPoint], codec: Codec, settings: LadderOptimizerSettings) -> list[TrialPoint]:
    """Predicted points plus, when the grid's best is under the ceiling, one CRF step below it at the largest size.

    The trees cannot say what a CRF they were not trained on gives, so the step is extrapolated
    from the two lowest CRFs of the largest size: log-rate linear in CRF (as the rules interpolate),
    and the gap to VMAF 100 shrinking by the same ratio per step as between those two points (VMAF
    saturates; a straight line would promise more than 100). Without it a predicted AV1 ladder
    stopped wherever CRF 24 did (88-93 VMAF on 720p clips).
    """
    grid_crfs = list(settings.grid.codec(codec).crf)
    best = max(points, key=lambda p: p.vmaf)
    up, _ = extension_crfs(best.vmaf, min(p.bitrate_kbps for p in points), grid_crfs, codec,
                           settings.rules.top_vmaf, settings.rules.lowest_throughput_kbps)  # fmt: skip
    largest = max(points, key=lambda p: p.width * p.height)
    mine = sorted((p for p in points if (p.width, p.height) == (largest.width, largest.height)),
                  key=lambda p: p.encoder.crf or 0.0)  # fmt: skip
    if not up or len(mine) < 2:
        return points
    a, b = mine[0], mine[1]
    crf_a, crf_b = a.encoder.crf, b.encoder.crf
    if crf_a is None or crf_b is None or crf_b <= crf_a:
        return points
    steps = (crf_a - up[0]) / (crf_b - crf_a)
    shrink = min(1.0, (100 - a.vmaf) / max(100 - b.vmaf, 1e-6)) ** steps
    extra = a.model_copy(update={
        "encoder": a.encoder.model_copy(update={"crf": up[0]}),
        "bitrate_kbps": a.bitrate_kbps * (a.bitrate_kbps / b.bitrate_kbps) ** steps,
        "vmaf": 100 - (100 - a.vmaf) * shrink,
        "vmaf_p5": 100 - (100 - a.vmaf_p5) * shrink,
    })  # fmt: skip
    return [*points, extra]


def ladder_from_points(
    points: list[TrialPoint],
    codec: Codec,
    rules: RuleSettings,
    *,
    source: str,
    segment_duration_s: float,
    method: Literal["hull", "predicted"],
    decision_cpu_s: float | None = None,
    notes: list[str] | None = None,
    publish_preset: str | None = None,
    publish_params: dict[str, str] | None = None,
) -> Ladder:
    """The ladder the rules pick from a grid's upper hull, measured (``hull``) or predicted alike.

    ``decision_cpu_s`` defaults to what measuring the points cost (their encodes and scoring).
    ``publish_preset``, ``publish_params``: the rungs are encoded at this preset, with these encoder
    options (``grid.<codec>.publish_preset``, ``publish_params``), not the trials'
    (:func:`~streamlab.models.ladder.grid.as_published`).
    """
    hull = upper_hull(points)
    rungs = as_published(select_rungs(hull, rules, codec, points), publish_preset, publish_params)
    cpu = decision_cpu_s if decision_cpu_s is not None else sum(p.encode_cpu_s + p.measure_cpu_s for p in points)
    return Ladder(
        source=source,
        method=method,
        codec=codec,
        segment_duration_s=segment_duration_s,
        rungs=rungs,
        decision_cpu_s=round(cpu, 2),
        notes=notes or [f"{len(points)} grid points, {len(hull)} on the hull"],
    )


def load_predictor(alias: str = "champion", *, registry: bool = True) -> tuple[LadderPredictor, str]:
    """The registered ``@alias`` version when the registry has one, else the committed default; with its origin.

    Only a missing model or alias falls back: a registered version that fails to load is an error,
    not something to hide behind the default.
    """
    if registry:
        from streamlab.core import registry as model_registry
        from streamlab.models.ladder.family import FAMILY

        try:
            version = model_registry.resolve(FAMILY.name, alias)
        except model_registry.RegistryError:
            pass
        else:
            _, predictor = model_registry.load_native(FAMILY.name, version)
            return predictor, f"models:/{FAMILY.name}/{version} (@{alias})"
    return LadderPredictor.load(DEFAULT_DIR), str(DEFAULT_DIR)
