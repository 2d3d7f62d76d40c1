"""A static DASH MPD (ISO/IEC 23009-1, CMAF profile) over the same CMAF segments as HLS.

Each representation gets a SegmentTemplate with ``$Number$`` file names and an explicit
SegmentTimeline built from the fragments' decode times, so the MPD states exactly where every
segment starts (audio segments are whole AAC frames and never exactly 4 s). H.264 and HEVC
video are separate AdaptationSets: a player switches only within a set, and one that cannot
decode HEVC (Chromium) drops that set and keeps the H.264 one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from streamlab.streaming.catalog import Rendition
from streamlab.streaming.packaging.segments import Track
from streamlab.streaming.transcode.encode import INIT_SEGMENT

MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
PROFILES = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019"


@dataclass(frozen=True)
class VideoRepresentation:
    rendition: Rendition
    track: Track
    fps: float


def iso_duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def segment_timeline(track: Track) -> ET.Element:
    """``<S t d r>`` runs: consecutive segments of equal duration collapse into one entry."""
    timeline = ET.Element("SegmentTimeline")
    run: ET.Element | None = None
    expected_start: int | None = None
    for segment in track.segments:
        if run is not None and segment.start == expected_start and int(run.get("d", "0")) == segment.duration:
            run.set("r", str(int(run.get("r", "0")) + 1))
        else:
            run = ET.SubElement(timeline, "S", t=str(segment.start), d=str(segment.duration))
        expected_start = segment.start + segment.duration
    return timeline


def _segment_template(track: Track) -> ET.Element:
    template = ET.Element(
        "SegmentTemplate",
        timescale=str(track.timescale),
        initialization=f"{track.folder}/{INIT_SEGMENT}",
        media=f"{track.folder}/seg_$Number%05d$.m4s",
        startNumber="1",
    )
    template.append(segment_timeline(track))
    return template


def _fps_text(fps: float) -> str:
    """DASH @frameRate: an integer or a ratio (29.97 -> 30000/1001)."""
    if abs(fps - round(fps)) < 1e-3:
        return str(round(fps))
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc / 1.001) < 1e-2:
        return f"{ntsc * 1000}/1001"
    return f"{round(fps * 1000)}/1000"


def build_mpd(videos: list[VideoRepresentation], audio: Track | None, audio_bitrate_fallback_bps: int = 0) -> str:
    duration_s = max([v.track.duration_s for v in videos] + ([audio.duration_s] if audio else []))
    segment_s = max(v.track.segment_duration_s(v.track.segments[0]) for v in videos)
    mpd = ET.Element(
        "MPD",
        xmlns=MPD_NS,
        profiles=PROFILES,
        type="static",
        mediaPresentationDuration=iso_duration(duration_s),
        minBufferTime=iso_duration(segment_s),
    )
    period = ET.SubElement(mpd, "Period", id="0", start="PT0S")
    set_id = 0
    for codec in ("h264", "av1", "hevc"):
        members = [v for v in videos if v.rendition.codec == codec]
        if not members:
            continue
        adaptation = ET.SubElement(
            period,
            "AdaptationSet",
            id=str(set_id),
            contentType="video",
            mimeType="video/mp4",
            segmentAlignment="true",
            startWithSAP="1",
            maxWidth=str(max(v.rendition.width for v in members)),
            maxHeight=str(max(v.rendition.height for v in members)),
        )
        set_id += 1
        for v in sorted(members, key=lambda m: m.rendition.bandwidth_bps):
            representation = ET.SubElement(
                adaptation,
                "Representation",
                id=v.rendition.id,
                codecs=v.rendition.codecs,
                bandwidth=str(v.rendition.bandwidth_bps),
                width=str(v.rendition.width),
                height=str(v.rendition.height),
                frameRate=_fps_text(v.fps),
                sar="1:1",
            )
            representation.append(_segment_template(v.track))
    if audio is not None:
        adaptation = ET.SubElement(
            period,
            "AdaptationSet",
            id=str(set_id),
            contentType="audio",
            mimeType="audio/mp4",
            segmentAlignment="true",
            startWithSAP="1",
            lang="und",
        )
        representation = ET.SubElement(
            adaptation,
            "Representation",
            id=audio.folder,
            codecs=audio.init.codecs,
            bandwidth=str(audio.peak_bandwidth_bps or audio_bitrate_fallback_bps),
            audioSamplingRate=str(audio.init.sample_rate_hz or audio.timescale),
        )
        ET.SubElement(
            representation,
            "AudioChannelConfiguration",
            schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011",
            value=str(audio.init.channels or 2),
        )
        representation.append(_segment_template(audio))
    ET.indent(mpd)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(mpd, encoding="unicode") + "\n"
