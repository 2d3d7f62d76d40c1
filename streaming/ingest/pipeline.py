"""``ingest_title``: probe → validate → choose the ladder → encode (Ray) → package → publish.

Everything that can be refused is refused before the first encode (title id, options, an
existing title, the source's location and content, audio languages, subtitles, the DRM key:
a per-title ladder's top-rung checks already encode), and everything after that happens in a
staging folder that is either renamed into the media root whole or deleted. Each stage shows
on the shared progress bars (:mod:`streamlab.streaming.ingest.stages`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from streamlab.core import project
from streamlab.streaming.catalog import TITLE_RECORD, TitleRecord, new_version, title_dir, validate_title_id
from streamlab.streaming.ingest.errors import TitleExists, UnknownOption
from streamlab.streaming.ingest.probe import ProbeResult, probe_source
from streamlab.streaming.ingest.protect import DRM_MODES, Protector, split_overrides
from streamlab.streaming.ingest.settings import StreamingSettings, load_streaming_settings
from streamlab.streaming.ingest.stages import STAGES, ingest_progress
from streamlab.streaming.ingest.validate import check_limits, resolve_source
from streamlab.streaming.packaging.package import package_title
from streamlab.streaming.packaging.settings import load_packaging_settings
from streamlab.streaming.packaging.subtitles import Subtitle, to_webvtt
from streamlab.streaming.publish import publish, staging_dir, sweep_stale_staging, write_version_aliases
from streamlab.streaming.transcode.audio_tracks import encode_audio_tracks, probe_audio_streams
from streamlab.streaming.transcode.hdr import Hdr10Metadata, hdr10_rungs, probe_hdr10
from streamlab.streaming.transcode.encode import AUDIO_DIR, EncodeJob, gop_frames, name_by_measurement
from streamlab.streaming.transcode.ladder import Rung, check_ladder, load_selector
from streamlab.streaming.transcode.runner import run_encodes


def ingest_title(
    source: Path,
    title_id: str,
    *,
    name: str | None = None,
    ladder: str = "fixed",
    drm: str = "none",
    overrides: list[str] | None = None,
    media_root: Path | None = None,
    subtitles: list[Subtitle] | None = None,
) -> TitleRecord:
    """Publish ``source`` as ``<media_root>/<title_id>`` (HLS + DASH over CMAF) and return its record.

    ``drm`` other than ``none`` encrypts the staged title (``streamlab.streaming.drm``) before it is published,
    so clear segments of a protected title are never visible; ``drm.*`` overrides go to its config.
    A source with several audio streams publishes one track per language (each must carry a known language
    tag); ``subtitles`` are sidecar WebVTT/SRT files. Both are checked before anything is encoded.
    """
    streaming_overrides, drm_overrides = split_overrides(overrides)
    settings = load_streaming_settings(streaming_overrides)
    packaging = load_packaging_settings(streaming_overrides)
    validate_title_id(title_id)
    selector = load_selector(ladder, settings.transcode)
    if drm not in DRM_MODES:
        raise UnknownOption("drm mode", drm, DRM_MODES)
    media_root = (media_root or project.media_root()).resolve()
    target = title_dir(media_root, title_id)
    if target.exists() and not settings.publish.replace:
        raise TitleExists(title_id, target)

    stages = [stage for stage in STAGES if stage != "protect" or drm != "none"]
    with ingest_progress(title_id, stages) as progress:
        with progress.stage("probe"):
            path = resolve_source(source, settings.ingest)
            probe = probe_source(path, settings.ingest)
            check_limits(path, probe, settings.ingest)
            languages = probe_audio_streams(path) if probe.audio_stream_count > 1 else None
            for sub in subtitles or []:
                to_webvtt(sub.path)  # a file that does not parse fails here, before any encode
            # before the ladder: a per-title ladder's top-rung checks encode for minutes, a missing key fails now
            protector = Protector.prepare(drm, drm_overrides)
        width, height = probe.display_width, probe.display_height
        with progress.stage("ladder", f"({ladder})"):
            rungs = check_ladder(ladder, selector(path, width, height, settings.transcode), width, height)
            hdr10 = probe_hdr10(path)  # a PQ source also gets the HDR10 rungs; its SDR rungs are tone-mapped
            if hdr10 is not None:
                rungs = check_ladder(ladder, rungs + hdr10_rungs(width, height, settings.transcode), width, height)

        media_root.mkdir(parents=True, exist_ok=True)
        sweep_stale_staging(media_root, settings.publish.stale_staging_h * 3600)
        with staging_dir(media_root, title_id) as staged:
            version = new_version()
            build = staged / version  # the title folder's layout: title.json, aliases, <version>/ (streaming.catalog)
            build.mkdir()
            jobs = encode_jobs(path, build, probe, rungs, settings, hdr10)
            if languages:  # one track per language instead of the first stream alone
                jobs = [job for job in jobs if job.kind != "audio"]
            video = sum(job.kind == "video" for job in jobs)
            with progress.stage("encode", f"({video} rungs, {len(jobs) - video + len(languages or [])} audio)"):
                run_encodes(jobs, settings.transcode.mode, f"{title_id}: encode {len(jobs)} tracks")
                if languages:
                    encode_audio_tracks(path, build, languages, bitrate_kbps=settings.audio.bitrate_kbps,
                                        segment_duration_s=settings.transcode.segment_duration_s)
                rungs = name_by_measurement(build, rungs, probe.info.duration_s)
            with progress.stage("package", "(HLS + DASH)"):
                packaged = package_title(
                    build,
                    rungs,
                    _output_fps(probe, settings),
                    audio_bitrate_kbps=settings.audio.bitrate_kbps if probe.info.has_audio else None,
                    expected_duration_s=probe.info.duration_s,
                    settings=packaging,
                    audio_streams=languages,
                    subtitles=subtitles,
                )
            record = TitleRecord(
                title_id=title_id,
                name=name or title_id,
                created_at=datetime.now(UTC),
                source=probe.info,
                segment_duration_s=settings.transcode.segment_duration_s,
                duration_s=packaged.duration_s,
                renditions=packaged.renditions,
                audio=packaged.audio,
                ladder=ladder,
            )
            if protector is not None:
                with progress.stage("protect", f"({drm})"):
                    record = protector.protect(build, record, packaging)
            with progress.stage("publish"):
                record = record.with_version(version)
                write_version_aliases(staged, version)
                for folder in (build, staged):  # each version describes itself; the title's own record comes last
                    (folder / TITLE_RECORD).write_text(record.model_dump_json(indent=2) + "\n")
                publish(staged, media_root, title_id, replace=settings.publish.replace, version=version,
                        keep_versions=settings.publish.keep_versions)
    return record


def encode_jobs(
    source: Path, out_root: Path, probe: ProbeResult, rungs: list[Rung], settings: StreamingSettings,
    hdr10: Hdr10Metadata | None = None,
) -> list[EncodeJob]:
    """One job per video rung, plus one for the audio track when the source has audio."""
    t = settings.transcode
    fps = _output_fps(probe, settings)
    capped = fps if fps < probe.info.fps else None
    jobs = []
    if probe.info.has_audio:
        a = settings.audio
        jobs.append(
            EncodeJob(
                kind="audio",
                out_dir=out_root / AUDIO_DIR,
                stream_index=probe.audio_stream_index,
                audio_bitrate_kbps=a.bitrate_kbps,
                audio_channels=min(a.channels, probe.audio_channels or a.channels),
                audio_sample_rate_hz=a.sample_rate_hz,
                source=source,
                segment_duration_s=t.segment_duration_s,
                threads=t.threads_per_encode,
            )
        )
    for rung in rungs:
        jobs.append(
            EncodeJob(
                kind="video",
                out_dir=out_root / rung.id,
                stream_index=probe.video_stream_index,
                rung=rung,
                fps=capped,
                gop_frames=gop_frames(fps, t.segment_duration_s),
                preset=t.x264_preset if rung.codec == "h264" else t.x265_preset,
                maxrate_ratio=t.maxrate_ratio,
                bufsize_ratio=t.bufsize_ratio,
                source=source,
                segment_duration_s=t.segment_duration_s,
                threads=t.threads_per_encode,
                hdr10=hdr10,
            )
        )
    return jobs


def _output_fps(probe: ProbeResult, settings: StreamingSettings) -> float:
    fps = probe.info.fps or 25.0
    return min(fps, settings.transcode.max_fps)
