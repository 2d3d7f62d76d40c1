"""The predictor's training corpus: trial grids of many sources, with each source's cheap features.

Sources: the real clips, segments of the longer ones, and synthetic lavfi sources chosen to span
spatial and temporal complexity (P.910's SI/TI plane): smooth gradients (low SI, low TI), a
scrolled still (high SI, steady motion), a slow zoom on a real frame, Mandelbrot zoom, Conway's
life and a cellular automaton (high TI), the testsrc2 pattern with and without temporal noise
(grain, the hardest case for every encoder). Synthetic sources are written near-lossless
(x264 CRF 8) so they serve as references.

Every (source, codec) grid is cached as JSON under the corpus folder, so a rebuild after an
interruption only encodes what is missing; all trials of all sources go to Ray as one batch.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.core.ray_runtime import map_tasks
from streamlab.models.ladder.features import TitleFeatures
from streamlab.models.ladder.schema import Codec, TrialPoint
from streamlab.models.ladder.settings import CorpusSettings, LadderOptimizerSettings, PredictorSettings
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.transcode.per_title.features import title_features
from streamlab.streaming.transcode.per_title.source import SourceFacts, inspect_source, segment_s
from streamlab.streaming.transcode.per_title.trials import build_grid, remember, run_grid


class CorpusSource(BaseModel):
    name: str
    group: str  # sources derived from one clip share a group: held out together in validation
    path: str


class CorpusEntry(BaseModel):
    source: CorpusSource
    codec: Codec
    features: TitleFeatures
    points: list[TrialPoint]


def corpus_dir() -> Path:
    return project.state_dir() / "ladder" / "corpus"


def _lavfi(spec: str, c: CorpusSettings) -> list[str]:
    size, rate, d = f"{c.width}x{c.height}", f"{c.fps:g}", f"{c.duration_s:g}"
    generators = {
        "testsrc2": f"testsrc2=size={size}:rate={rate}:duration={d}",
        "mandelbrot": f"mandelbrot=size={size}:rate={rate}:end_scale=0.05,trim=duration={d}",
        "life": f"life=size={size}:rate={rate}:mold=10:ratio=0.3:life_color=#e0c080:death_color=#203050,trim=duration={d}",
        "cellauto": f"cellauto=size={size}:rate={rate}:rule=110:random_fill_ratio=0.5,trim=duration={d}",
        "gradients": f"gradients=size={size}:rate={rate}:speed=0.03:duration={d}",
        "noisy_testsrc2": f"testsrc2=size={size}:rate={rate}:duration={d},noise=alls=24:allf=t+u",
    }
    if spec not in generators:
        raise KeyError(spec)
    return ["-f", "lavfi", "-i", generators[spec]]


def synthetic_source(spec: str, settings: CorpusSettings, raw_videos: Path, out_dir: Path) -> Path:
    out = out_dir / f"{spec}.mp4"
    if out.is_file():
        return out
    c = settings
    frames = round(c.duration_s * c.fps)
    size = f"{c.width}x{c.height}"
    if spec == "zoom_bikes":
        args = ["-i", raw_videos / "bikes.mp4", "-vf",
                f"select=eq(n\\,40),scale=1280:-2,zoompan=z='1+0.004*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d={frames}:s={size}:fps={c.fps:g}",
                "-frames:v", str(frames)]  # fmt: skip
    elif spec == "scroll_bbb":
        args = ["-i", raw_videos / "bigbuckbunny.mp4", "-vf",
                f"select=eq(n\\,60),loop=loop={frames}:size=1,scale={size},scroll=h=0.004:v=0.001,setpts=N/{c.fps:g}/TB",
                "-frames:v", str(frames), "-r", f"{c.fps:g}"]  # fmt: skip
    else:
        try:
            args = _lavfi(spec, c)
        except KeyError:
            raise StreamlabError(
                f"unknown synthetic corpus source {spec!r}; valid: testsrc2, mandelbrot, life, cellauto, gradients, "
                "noisy_testsrc2, zoom_bikes, scroll_bbb"
            ) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(
        [*args, "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "8", "-pix_fmt", "yuv420p", out],
        f"corpus source {spec}",
    )
    return out


DERIVED_FROM = {"zoom_bikes": "bikes", "scroll_bbb": "bigbuckbunny"}
"""Synthetic sources made from a real clip's frames: grouped with that clip, so holding the clip out holds
them out too (a held-out bikes score from a model that trained on zoomed bikes frames is not held out)."""


def corpus_sources(settings: LadderOptimizerSettings) -> list[CorpusSource]:
    c = settings.corpus
    raw_videos = project.raw_data_dir() / "videos"
    out_dir = corpus_dir() / "sources"
    sources: list[CorpusSource] = []
    for name in c.real:
        clip = raw_videos / f"{name}.mp4"
        if not clip.is_file():
            raise StreamlabError(f"corpus clip {clip} is missing: run `streamlab data fetch`")
        sources.append(CorpusSource(name=name, group=name, path=str(clip)))
        duration_s = inspect_source(clip, segment_s(settings)).duration_s
        starts = (
            [k * c.segments_s for k in range(int(duration_s // c.segments_s))] if duration_s >= 2 * c.segments_s else []
        )
        for start in starts:
            seg = out_dir / f"{name}_{start:g}s.mp4"
            if not seg.is_file():
                out_dir.mkdir(parents=True, exist_ok=True)
                run_ffmpeg(["-ss", f"{start:g}", "-t", f"{c.segments_s:g}", "-i", clip, "-an", "-c:v", "libx264",
                            "-preset", "ultrafast", "-crf", "8", "-pix_fmt", "yuv420p", seg], f"segment of {name}")  # fmt: skip
            sources.append(CorpusSource(name=seg.stem, group=name, path=str(seg)))
    for spec in c.synthetic:
        path = synthetic_source(spec, c, raw_videos, out_dir)
        sources.append(CorpusSource(name=spec, group=DERIVED_FROM.get(spec, spec), path=str(path)))
    return sources


def corpus_grid_settings(settings: LadderOptimizerSettings) -> LadderOptimizerSettings:
    """The corpus grid: the configured CRFs and presets, over the corpus's (denser, smaller) sizes."""
    grid = settings.grid.model_copy(
        update={"heights": settings.corpus.heights, "max_resolutions": settings.corpus.max_resolutions}
    )
    return settings.model_copy(update={"grid": grid})


def _features_task(args: tuple[str, float, float, dict]) -> TitleFeatures:
    path, segment_duration_s, max_fps, predictor = args
    facts = inspect_source(Path(path), segment_duration_s, max_fps)
    return title_features(facts, PredictorSettings.model_validate(predictor))


def build_corpus(settings: LadderOptimizerSettings, *, rebuild: bool = False) -> list[CorpusEntry]:
    """Build (or complete) the corpus; returns one entry per (source, codec)."""
    from streamlab.streaming.ingest.settings import load_streaming_settings

    max_fps = load_streaming_settings().transcode.max_fps
    grid_settings = corpus_grid_settings(settings)
    sources = corpus_sources(settings)
    cache = corpus_dir() / "grids"
    cache.mkdir(parents=True, exist_ok=True)
    work = corpus_dir() / "work"
    pending: list[tuple[CorpusSource, Codec, SourceFacts]] = []
    specs = []
    owners: list[int] = []
    for source in sources:
        facts = inspect_source(Path(source.path), segment_s(settings), max_fps)
        for codec in settings.corpus.codecs:
            if (cache / f"{source.name}.{codec}.json").is_file() and not rebuild:
                continue
            pending.append((source, codec, facts))
            grid = build_grid(facts, codec, grid_settings, work)
            specs += grid
            owners += [len(pending) - 1] * len(grid)
    feature_jobs = [(s.path, segment_s(settings), max_fps, settings.predictor.model_dump()) for s in sources]
    features = map_tasks(_features_task, feature_jobs, f"features of {len(sources)} corpus sources")
    by_name = dict(zip((s.name for s in sources), features, strict=False))
    if specs:
        points = run_grid(specs, f"corpus: {len(specs)} trial encodes of {len(pending)} grids")
        for index, (source, codec, _facts) in enumerate(pending):
            mine = [p for p, o in zip(points, owners, strict=False) if o == index]
            (cache / f"{source.name}.{codec}.json").write_text(json.dumps([p.model_dump() for p in mine]))
    entries = []
    _remember_cached_grids(sources, settings, grid_settings, max_fps, cache, work)
    for source in sources:
        for codec in settings.corpus.codecs:
            raw = json.loads((cache / f"{source.name}.{codec}.json").read_text())
            entries.append(
                CorpusEntry(
                    source=source, codec=codec, features=by_name[source.name], points=[TrialPoint(**p) for p in raw]
                )
            )
    (corpus_dir() / "corpus.json").write_text(json.dumps([e.model_dump() for e in entries]))
    return entries


def load_corpus(path: Path | None = None) -> list[CorpusEntry]:
    path = path or corpus_dir() / "corpus.json"
    if not path.is_file():
        raise StreamlabError(f"no ladder corpus at {path}: build it with `streamlab ladder corpus`")
    entries = [CorpusEntry.model_validate(e) for e in json.loads(path.read_text())]
    for entry in entries:  # corpora built before DERIVED_FROM grouped derived synthetics on their own
        entry.source.group = DERIVED_FROM.get(entry.source.name, entry.source.group)
    return entries


__all__ = ["CorpusEntry", "CorpusSource", "build_corpus", "corpus_sources", "load_corpus"]


def _remember_cached_grids(sources: list[CorpusSource], settings: LadderOptimizerSettings, grid_settings: LadderOptimizerSettings,
                           max_fps: float, cache: Path, work: Path) -> None:  # fmt: skip
    """Put every corpus grid point in the trial cache, so a title's own hull search reuses them."""
    for source in sources:
        facts = inspect_source(Path(source.path), segment_s(settings), max_fps)
        for codec in settings.corpus.codecs:
            path = cache / f"{source.name}.{codec}.json"
            if path.is_file():
                specs = build_grid(facts, codec, grid_settings, work)
                raw = json.loads(path.read_text())
                if len(raw) == len(specs):
                    for spec, point in zip(specs, raw, strict=False):
                        remember(spec, TrialPoint(**point))
