"""LL-HLS playlists (RFC 8216bis, the low-latency extensions) rendered from rung timelines.

One media playlist per rung, with every low-latency tag a player needs to play 1-3 s behind
live: ``EXT-X-PART-INF``/``EXT-X-PART`` (the parts of the last ``parts_kept_segments`` segments
and the open one, ``INDEPENDENT=YES`` where a part starts on a keyframe), ``EXT-X-PRELOAD-HINT``
(the next part, which the origin holds until it exists), ``EXT-X-SERVER-CONTROL`` (blocking
reload, ``PART-HOLD-BACK``, delta updates), ``EXT-X-PROGRAM-DATE-TIME`` on every segment (the
capture clock), and ``EXT-X-RENDITION-REPORT`` for the other rungs so a player switching rung
can block on the right part at once. A delta update (``_HLS_skip=YES``) replaces segments more
than ``CAN-SKIP-UNTIL`` from the end with ``EXT-X-SKIP``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from streamlab.streaming.live.settings import LiveRung, LiveSettings
from streamlab.streaming.live.timeline import RungTimeline

AUDIO_NAME = "audio"
"""The audio rendition's folder and timeline name (a rung may not be called this)."""
AUDIO_GROUP = "aac"
DEFAULT_AUDIO_CODECS = "mp4a.40.2"
VERSION = 9
"""EXT-X-SKIP needs protocol version 9; parts and preload hints 6+."""


@dataclass(frozen=True)
class ServerControl:
    target_duration_s: int
    part_target_s: float
    part_hold_back_s: float
    can_skip_until_s: float
    parts_kept_segments: int

    @classmethod
    def from_settings(cls, settings: LiveSettings) -> ServerControl:
        target = settings.target_duration_s
        return cls(
            target_duration_s=target,
            part_target_s=settings.part_target_s,
            part_hold_back_s=round(settings.packaging.part_hold_back_parts * settings.part_target_s, 3),
            can_skip_until_s=float(settings.packaging.skip_after_segments * target),
            parts_kept_segments=settings.packaging.parts_kept_segments,
        )


def format_pdt(unix_s: float) -> str:
    """ISO 8601 with milliseconds and an explicit offset, as EXT-X-PROGRAM-DATE-TIME wants."""
    return datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def skipped_count(timeline: RungTimeline, can_skip_until_s: float) -> int:
    """How many leading segments a delta update may skip: those starting more than CAN-SKIP-UNTIL
    before the end of the playlist (only complete segments; never the open one)."""
    end = timeline.newest_pdt_end_s
    if end is None:
        return 0
    count = 0
    for segment in timeline.segments:
        if not segment.complete or end - segment.pdt_s <= can_skip_until_s:
            break
        count += 1
    return count


def media_playlist(
    timeline: RungTimeline, control: ServerControl, reports: dict[str, RungTimeline], skip: bool = False,
    key_tags: list[str] | None = None,
) -> str:
    """The rung's playlist now; ``reports`` maps each other rung's playlist URI to its timeline;
    ``key_tags`` (an encrypted channel's ``EXT-X-KEY`` lines) follow every ``EXT-X-MAP``."""
    segments = list(timeline.segments)
    first_msn = segments[0].msn if segments else timeline.next_msn
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{control.target_duration_s}",
        f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={control.can_skip_until_s:.1f},"
        f"PART-HOLD-BACK={control.part_hold_back_s:.3f}",
        f"#EXT-X-PART-INF:PART-TARGET={control.part_target_s:.3f}",
        f"#EXT-X-MEDIA-SEQUENCE:{first_msn}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{timeline.discontinuity_sequence}",
    ]
    skipped = skipped_count(timeline, control.can_skip_until_s) if skip else 0
    if skipped:
        lines.append(f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}")
    complete = [segment for segment in segments if segment.complete]
    parts_from_msn = complete[-control.parts_kept_segments].msn if len(complete) >= control.parts_kept_segments else first_msn
    current_map = None
    for segment in segments[skipped:]:
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.init_uri != current_map:
            lines.append(f'#EXT-X-MAP:URI="{segment.init_uri}"')
            lines += key_tags or []
            current_map = segment.init_uri
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_pdt(segment.pdt_s)}")
        if segment.msn >= parts_from_msn:
            for part in segment.parts:
                independent = ",INDEPENDENT=YES" if part.independent else ""
                lines.append(f'#EXT-X-PART:DURATION={part.duration_s:.5f},URI="{part.uri}"{independent}')
        if segment.complete:
            lines += [f"#EXTINF:{segment.duration_s:.5f},", segment.uri]
    hint = timeline.next_part_uri()
    if hint is not None:
        lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{hint}"')
    for uri, other in reports.items():
        last = other.last_part
        if last is not None:
            lines.append(f'#EXT-X-RENDITION-REPORT:URI="{uri}",LAST-MSN={last[0]},LAST-PART={last[1]}')
    return "\n".join(lines) + "\n"


def rendition_reports(timelines: dict[str, RungTimeline], timeline: RungTimeline) -> dict[str, RungTimeline]:
    """``EXT-X-RENDITION-REPORT`` targets for ``timeline``'s playlist: the video rungs report each
    other (a player switching rung blocks on the right part at once); the audio rendition has no
    alternative to switch to."""
    if timeline.name == AUDIO_NAME:
        return {}
    return {f"../{name}/playlist.m3u8": other for name, other in timelines.items() if other is not timeline and name != AUDIO_NAME}


def multivariant_playlist(rungs: list[LiveRung], codecs: dict[str, str], fps: int, audio_kbps: int | None = None) -> str:
    """The channel's master playlist: one variant per rung, best first; with ``audio_kbps``, every
    variant plays the one audio rendition (``EXT-X-MEDIA`` group ``aac``, its own LL-HLS playlist)."""
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    audio_codecs = codecs.get(AUDIO_NAME, DEFAULT_AUDIO_CODECS)
    if audio_kbps:
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="main",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,'
                     f'CHANNELS="2",URI="{AUDIO_NAME}/playlist.m3u8"')
    for rung in rungs:
        kbps = rung.bitrate_kbps + (audio_kbps or 0)
        bandwidth = round(kbps * 1000 * 1.1)  # peak: the VBV allows ~10 % over the target
        video_codecs = codecs.get(rung.name, "avc1.42c01e")
        audio = f',AUDIO="{AUDIO_GROUP}"' if audio_kbps else ""
        lines.append(
            f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},AVERAGE-BANDWIDTH={kbps * 1000},'
            f'CODECS="{video_codecs + "," + audio_codecs if audio_kbps else video_codecs}",RESOLUTION={rung.width}x{rung.height},'
            f'FRAME-RATE={fps:.3f}{audio}'
        )
        lines.append(f"{rung.name}/playlist.m3u8")
    return "\n".join(lines) + "\n"
