"""Sidecar subtitles (WebVTT or SRT) checked and normalized to WebVTT before packaging.

Shaka Packager skips what it cannot parse and still exits 0, and players drop a broken cue file
silently, so a subtitle file is parsed here first, strictly: every cue needs ``start --> end`` with
``end > start`` and some text. A file that fails is one clear error naming the file and line, and
the title is not published. SRT becomes WebVTT (comma decimal separators, numeric cue ids dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from streamlab.streaming.packaging.segments import PackagingError
from streamlab.streaming.transcode.audio_tracks import AudioTrackError, normalize_language
from streamlab.streaming.transcode.thumbnails import vtt_timestamp

SUBTITLE_SOURCE = "subtitles.vtt"
_TIME = r"(?:(\d{1,2}):)?(\d{2}):(\d{2})[.,](\d{3})"
_CUE_TIMING = re.compile(rf"^{_TIME}\s+-->\s+{_TIME}(?P<settings>(?:\s+\S+)*)\s*$")


class SubtitleError(PackagingError):
    pass


@dataclass(frozen=True)
class Subtitle:
    """One sidecar subtitle file and the language it is in (BCP 47; ``eng`` becomes ``en``)."""

    path: Path
    language: str
    name: str = ""
    forced: bool = False

    @property
    def folder(self) -> str:
        return f"subs_{self.language.lower()}"


def subtitle(path: Path, language: str, name: str = "") -> Subtitle:
    """A checked :class:`Subtitle`: the language normalized (unknown tags are an error)."""
    try:
        normalized = normalize_language(language, path.name)
    except AudioTrackError as exc:
        raise SubtitleError(str(exc)) from None
    return Subtitle(path, normalized, name or normalized)


def to_webvtt(path: Path) -> str:
    """Parse ``path`` (WebVTT or SRT) and return it as WebVTT; anything malformed raises :class:`SubtitleError`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubtitleError(f"{path.name}: cannot read the subtitle file as UTF-8 ({exc})") from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    is_vtt = lines[0].startswith("WEBVTT")
    cues: list[str] = []
    index = 1 if is_vtt else 0
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
            continue
        if is_vtt and line.startswith(("NOTE", "STYLE", "REGION")):  # blocks a player ignores or styles with
            while index < len(lines) and lines[index].strip():
                index += 1
            continue
        timing_at = index if "-->" in line else index + 1  # a cue id (SRT: the number) may come first
        if timing_at >= len(lines) or "-->" not in lines[timing_at]:
            raise SubtitleError(f"{path.name}: line {index + 1}: expected a cue timing 'start --> end', got {line!r}")
        match = _CUE_TIMING.match(lines[timing_at].strip())
        if match is None:
            raise SubtitleError(f"{path.name}: line {timing_at + 1}: malformed cue timing {lines[timing_at].strip()!r}")
        try:
            start, end = _seconds(match.groups()[0:4]), _seconds(match.groups()[4:8])
        except SubtitleError as exc:
            raise SubtitleError(f"{path.name}: line {timing_at + 1}: {exc}") from None
        if end <= start:
            raise SubtitleError(f"{path.name}: line {timing_at + 1}: cue ends before it starts")
        body = []
        index = timing_at + 1
        while index < len(lines) and lines[index].strip():
            body.append(lines[index].rstrip())
            index += 1
        if not body:
            raise SubtitleError(f"{path.name}: line {timing_at + 1}: cue without text")
        settings = match.group("settings") if is_vtt else ""
        cues.append(f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}{settings}\n" + "\n".join(body))
    if not cues:
        raise SubtitleError(f"{path.name}: no cues (neither WebVTT nor SRT)")
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"


def _seconds(parts: tuple[str | None, ...]) -> float:
    hours, minutes, seconds, millis = (int(p) if p else 0 for p in parts)
    if minutes > 59 or seconds > 59:
        raise SubtitleError(f"timestamp {minutes:02d}:{seconds:02d} out of range")
    return hours * 3600 + minutes * 60 + seconds + millis / 1000
