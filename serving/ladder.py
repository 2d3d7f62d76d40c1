"""``ladder``: a title's features, or a path to its source, in; the per-title ladder out.

The served model is the ladder predictor (:class:`streamlab.models.ladder.predictor.LadderPredictor`,
registered as ``ladder-model`` by ``streamlab ladder train``). The answer is what
``optimize_ladder(path, "predicted", codec)`` gives, for every requested codec at once: the
title's features are computed once (SI/TI and one probe encode, seconds of CPU) and both
codecs' ladders are predicted from them.

Two ways to ask:

- ``features``: the predictor's inputs already measured (:class:`streamlab.pipelines.ladder.features.TitleFeatures`),
  e.g. by an ingest that runs its own probe; the answer costs milliseconds.
- ``path``: a source video the server probes itself. The path must resolve (symlinks and ``..``
  resolved first) under an allowed root, the raw data dir and the media root by default, so a
  request cannot make the server read ``/etc/passwd`` or probe whatever it can reach.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from streamlab.models.ladder.predictor import LadderPredictor
from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.pipelines.ladder.features import TitleFeatures, title_features
from streamlab.pipelines.ladder.optimize import ladder_from_points
from streamlab.pipelines.ladder.predict import predicted_points
from streamlab.pipelines.ladder.schema import Codec, Ladder, LadderRung
from streamlab.pipelines.ladder.settings import LadderOptimizerSettings
from streamlab.pipelines.ladder.source import SourceFacts, inspect_source
from streamlab.serving.registry import ModelLoadError
from streamlab.streaming.transcode.encode import gop_frames


class PathOutsideRoots(StreamlabError):
    """The requested source resolves outside every allowed root (HTTP 403)."""


class SourceRefused(StreamlabError):
    """The requested source is missing or not a video the ladder can be built for (HTTP 400)."""


class LadderFeatures(BaseModel):
    """The predictor's title inputs (see :mod:`streamlab.pipelines.ladder.features`), as an ingest measured them."""

    width: int = Field(gt=0, le=16384, description="display width of the source")
    height: int = Field(gt=0, le=16384)
    fps: float = Field(gt=0, le=300, description="output frame rate (the source's, capped at the stack's max_fps)")
    si_mean: float = Field(ge=0, le=1000)
    si_p90: float = Field(ge=0, le=1000)
    ti_mean: float = Field(ge=0, le=1000)
    ti_p90: float = Field(ge=0, le=1000)
    probe_bpp: float = Field(gt=0, le=100, description="bits per pixel of the x264 ultrafast probe encode")
    probe_psnr_y: float = Field(gt=0, le=150)
    probe_qp_p: float = Field(ge=0, le=69)
    probe_ip_ratio: float = Field(gt=0, le=10_000, description="mean I-frame size / mean P-frame size")

    def title_features(self) -> TitleFeatures:
        return TitleFeatures(
            **self.model_dump(), si_max=self.si_p90, ti_max=self.ti_p90, cpu_s=0.0
        )  # the maxima are not model inputs


class LadderRequest(BaseModel):
    path: str | None = Field(None, min_length=1, max_length=4096, description="source video under an allowed root")
    features: LadderFeatures | None = None
    codecs: list[Codec] = Field(default_factory=lambda: ["h264", "av1"], min_length=1)
    segment_duration_s: float | None = Field(
        None, gt=0.5, le=30, description="segment (closed GOP) length; default: the stack's"
    )

    @model_validator(mode="after")
    def _one_input(self) -> LadderRequest:
        if (self.path is None) == (self.features is None):
            raise ValueError("send exactly one of 'path' (a source video) or 'features' (the predictor's inputs)")
        if len(set(self.codecs)) != len(self.codecs):
            raise ValueError(f"codecs must not repeat; got {self.codecs}")
        return self


class LadderResponse(BaseModel):
    rungs: list[LadderRung] = Field(description="every requested codec's rungs, each codec highest bitrate first")
    codecs: list[Codec]
    segment_duration_s: float
    source: Literal["path", "features"]
    model_version: str
    features: LadderFeatures
    decision_cpu_s: float
    notes: list[str]


def load_ladder_predictor(directory: Path) -> LadderPredictor:
    """The registry loader: the skops model folder (``card.json`` + per-codec models) inside a version."""
    cards = sorted(Path(directory).rglob("card.json"), key=lambda p: len(p.parts))
    for card in cards:
        if any(card.parent.glob("*.skops")):
            return LadderPredictor.load(card.parent)
    raise ModelLoadError(f"{directory}: no ladder model folder (card.json beside *.skops) inside this version")


def allowed_roots(configured: list[Path]) -> list[Path]:
    """The configured roots (relative to the project home), or the raw data dir and the media root."""
    roots = [project.resolve(p) for p in configured] or [project.raw_data_dir(), project.media_root()]
    return [r.resolve() for r in roots]


def resolve_request_path(raw: str, roots: list[Path]) -> Path:
    """The real path of ``raw`` if it is a file under a root; relative paths resolve against the project home.

    The check runs on the *resolved* path, so ``data/raw/../../etc/passwd`` and a symlink in the
    raw dir pointing out of it are both outside.
    """
    candidate = Path(raw)  # no ``~`` expansion: a request names files under the roots, not the server's home
    try:
        resolved = (candidate if candidate.is_absolute() else project.home() / candidate).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte; a symlink loop (RuntimeError in 3.11)
        raise SourceRefused(f"path {raw!r} cannot be resolved: {exc}") from None
    if not any(resolved.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots)
        raise PathOutsideRoots(f"path {raw!r} resolves to {resolved}, outside the allowed roots: {shown}")
    if not resolved.is_file():
        raise SourceRefused(f"path {raw!r} ({resolved}) does not exist or is not a regular file")
    return resolved


def facts_from_features(features: LadderFeatures, segment_duration_s: float) -> SourceFacts:
    """What the predictor and the rules need to know about a source they do not see."""
    return SourceFacts(
        path=Path("<features>"),
        width=features.width,
        height=features.height,
        fps=features.fps,
        fps_out=None,
        frames=0,
        duration_s=0.0,
        segment_duration_s=segment_duration_s,
        gop_frames=gop_frames(features.fps, segment_duration_s),
        bitrate_kbps=0.0,
    )


def probe_path(path: Path, settings: LadderOptimizerSettings, max_fps: float) -> tuple[SourceFacts, TitleFeatures]:
    """Inspect and probe a source (seconds of CPU); an unsuitable source is a :class:`SourceRefused`."""
    from streamlab.pipelines.ladder.source import UnsuitableSource

    try:
        facts = inspect_source(path, settings.segment_s(), max_fps)
        return facts, title_features(facts, settings.predictor)
    except UnsuitableSource as exc:
        raise SourceRefused(str(exc)) from None


def predict_ladders(
    predictor: LadderPredictor,
    facts: SourceFacts,
    features: TitleFeatures,
    codecs: list[Codec],
    settings: LadderOptimizerSettings,
    origin: str,
) -> list[Ladder]:
    """One predicted ladder per codec from one set of features, exactly as ``predicted_ladder`` builds it."""
    ladders = []
    for codec in codecs:
        points = predicted_points(predictor, features, facts, codec, settings)
        notes = [
            f"model {origin}",
            f"SI {features.si_mean:.1f} TI {features.ti_mean:.1f} probe {features.probe_bpp:.3f} bpp",
        ]
        search = ladder_from_points(
            facts, codec, settings, points, method="predicted", decision_cpu_s=features.cpu_s, notes=notes
        )
        ladders.append(search.ladder)
    return ladders


def as_request_features(features: TitleFeatures) -> LadderFeatures:
    return LadderFeatures(**features.model_dump(include=set(LadderFeatures.model_fields)))
