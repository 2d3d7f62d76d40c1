"""`streamlab stream ingest` with several audio languages and sidecar subtitles: bad ones are one clear error
and nothing is published; good ones reach the manifests (the browser test plays them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import m3u8
import pytest

from streamlab.streaming.ffmpeg import run_ffmpeg

REPO = Path(__file__).resolve().parents[2]
VTT = "WEBVTT\n\n00:00:00.500 --> 00:00:03.000\nHello\n"


def _source(path: Path, tags: tuple[str, str]) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
                "-f", "lavfi", "-i", "sine=f=440:duration=4", "-f", "lavfi", "-i", "sine=f=660:duration=4",
                "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                "-ac", "2", "-metadata:s:a:0", f"language={tags[0]}", "-metadata:s:a:1", f"language={tags[1]}", path],
               "a two-language source")
    return path


def _ingest(source: Path, media_root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "streamlab.cli", "stream", "ingest", str(source), "--title-id", "langs", *extra,
               f"ingest.allowed_roots=[{source.parent}]", "transcode.mode=serial", "transcode.profiles=[mobile]",
               "transcode.x264_preset=ultrafast"]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, STREAMLAB_MEDIA_ROOT=str(media_root)))


def _one_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and all(w in errors[0] for w in words), result.stderr


def _published(media_root: Path) -> list[str]:
    return sorted(p.name for p in media_root.iterdir() if not p.name.startswith(".")) if media_root.exists() else []


def test_two_languages_and_subtitles_are_published(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    source = _source(tmp_path / "src" / "clip.mp4", ("eng", "fra"))
    (tmp_path / "en.vtt").write_text(VTT)
    media = tmp_path / "media"
    result = _ingest(source, media, "--subtitles", f"{tmp_path / 'en.vtt'}:en:English")
    assert result.returncode == 0, result.stderr
    master = next(media.rglob("master.m3u8"))
    groups = {(m.type, m.language) for m in m3u8.load(str(master)).media}
    assert {("AUDIO", "en"), ("AUDIO", "fr"), ("SUBTITLES", "en")} <= groups, groups


@pytest.mark.parametrize("case", ["bad-subtitle", "untagged-audio", "bad-spec"])
def test_bad_languages_are_one_error_and_nothing_is_published(tmp_path: Path, case: str) -> None:
    (tmp_path / "src").mkdir()
    tags = ("eng", "und") if case == "untagged-audio" else ("eng", "fra")
    source = _source(tmp_path / "src" / "clip.mp4", tags)
    (tmp_path / "bad.srt").write_text("1\nthis is not a timing line\nHello\n")
    media = tmp_path / "media"
    extra = {"bad-subtitle": ["--subtitles", f"{tmp_path / 'bad.srt'}:fr"], "untagged-audio": [],
             "bad-spec": ["--subtitles", "only-a-path.vtt"]}[case]
    result = _ingest(source, media, *extra)
    _one_error(result, *{"bad-subtitle": ["bad.srt"], "untagged-audio": ["und"], "bad-spec": ["PATH:LANG"]}[case])
    assert _published(media) == []
