"""``/ladder``: the served side of the ladder family's :func:`~streamlab.models.ladder.decide.decide`.

The served model is the ladder predictor (:class:`streamlab.models.ladder.predictor.LadderPredictor`,
the family's registered model, as :func:`streamlab.core.registry.load_native` loads it). Request
and response are the family's wire types (:mod:`streamlab.models.ladder.wire`); the decision is
the one ``streamlab ladder optimize --method predicted`` and ``--ladder per-title`` make, for every
requested codec from one set of features. What is left here is what only a server needs:

- ``features`` requests go straight to the decision (milliseconds);
- ``path`` requests name a source video the server probes itself (SI/TI and one probe encode,
  seconds of CPU). The path must resolve (symlinks and ``..`` resolved first) under an allowed
  root, the raw data dir and the media root by default, so a request cannot make the server read
  ``/etc/passwd`` or probe whatever it can reach; at most ``ladder.max_concurrent_probes`` run at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.models.ladder.decide import FEATURES_SOURCE, LadderDecideRequest, decide
from streamlab.models.ladder.features import TitleFeatures
from streamlab.models.ladder.predictor import LadderPredictor
from streamlab.models.ladder.settings import LadderOptimizerSettings, load_ladder_settings
from streamlab.models.ladder.wire import LadderRequest, LadderResponse
from streamlab.serving.settings import LadderServingSettings
from streamlab.streaming.transcode.per_title.features import title_features
from streamlab.streaming.transcode.per_title.source import UnsuitableSource, inspect_source, segment_s

class PathOutsideRoots(StreamlabError):
    """The requested source resolves outside every allowed root (HTTP 403)."""


class SourceRefused(StreamlabError):
    """The requested source is missing or not a video the ladder can be built for (HTTP 400)."""


class ProbesBusy(Exception):
    """Every probe slot stayed busy past ``ladder.queue_timeout_s`` (HTTP 503: retry later)."""


class LadderEndpoint:
    """What ``/ladder`` needs besides the model: the ladder config, the allowed roots and the probe slots."""

    def __init__(self, serving: LadderServingSettings, settings: LadderOptimizerSettings | None = None) -> None:
        from streamlab.streaming.ingest.settings import load_streaming_settings

        self.serving = serving
        self.settings = settings or load_ladder_settings()
        self.max_fps = load_streaming_settings().transcode.max_fps
        self.roots = allowed_roots(serving.allowed_roots)
        self.probe_slots = threading.BoundedSemaphore(serving.max_concurrent_probes)

    def answer(self, request: LadderRequest, predictor: LadderPredictor, name: str, version: str) -> LadderResponse:
        """Features or a path in, every requested codec's ladder out; a refused source raises a StreamlabError."""
        settings = self.settings
        if request.segment_duration_s is not None:
            settings = settings.model_copy(update={"segment_duration_s": request.segment_duration_s})
        if request.features is not None:
            features, source, label = request.features.title_features(), "features", FEATURES_SOURCE
        else:
            path = resolve_request_path(request.path, self.roots)
            if not self.probe_slots.acquire(timeout=self.serving.queue_timeout_s):
                raise ProbesBusy(f"every probe slot stayed busy for {self.serving.queue_timeout_s:g} s; retry later")
            try:
                features = probe_path(path, settings, self.max_fps)
            finally:
                self.probe_slots.release()
            source, label = "path", str(path)
        decide_request = LadderDecideRequest(
            features=features, codecs=request.codecs, segment_duration_s=segment_s(settings), source=label
        )
        decision = decide(decide_request, predictor, settings, origin=f"models:/{name}/{version}")
        return LadderResponse.of(decision, features, source, version)


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
        shown = ", ".join(public_path(r) for r in roots)
        raise PathOutsideRoots(f"path {raw!r} resolves to {public_path(resolved)}, outside the allowed roots: {shown}")
    if not resolved.is_file():
        raise SourceRefused(f"path {raw!r} does not exist or is not a regular file")
    return resolved


def public_path(path: Path) -> str:
    """``path`` as a refusal may show it: relative to the project home, or only its name.

    Refusals go back to whoever asked; the server's folder layout is not theirs to learn (issue 20).
    """
    try:
        return str(path.relative_to(project.home().resolve()))
    except ValueError:
        return f".../{path.name}"


def probe_path(path: Path, settings: LadderOptimizerSettings, max_fps: float) -> TitleFeatures:
    """Inspect and probe a source (seconds of CPU); an unsuitable source is a :class:`SourceRefused`."""
    try:
        return title_features(inspect_source(path, segment_s(settings), max_fps), settings.predictor)
    except UnsuitableSource as exc:
        raise SourceRefused(str(exc).replace(str(path), public_path(path))) from None
