"""LL-DASH: a dynamic MPD over the same CMAF chunks, parts and segments as the LL-HLS playlists.

Nothing is packaged twice: a DASH segment is the LL-HLS segment (``seg<N>.m4s``, the
concatenation of its parts), and while it is being written the live origin sends it chunk by
chunk as the parts appear (HTTP chunked transfer; :meth:`~streamlab.streaming.live.origin.LiveOrigin.media`).
The MPD says so with ``availabilityTimeOffset`` (segment minus one part: a segment may be
requested as soon as its first chunk can exist) and ``availabilityTimeComplete="false"``.

* ``availabilityStartTime`` is the capture time of the channel's first segment, and each
  ``Period`` starts at its generation's first segment's capture time relative to it, so the
  DASH clock is the same capture clock as HLS's ``EXT-X-PROGRAM-DATE-TIME``: a latency measured
  against it is glass to glass.
* One ``Period`` per transcoder generation (a failover restarts the transcoder: new init segment,
  new media timeline), the DASH counterpart of ``EXT-X-DISCONTINUITY``.
* ``SegmentTemplate`` with ``$Number$`` (the media sequence number, so HLS and DASH name the same
  files) and ``@duration`` (every segment is exactly ``segment_s``: closed GOPs of whole parts),
  so a player computes the next segment from the clock instead of waiting for an MPD refresh; a
  ``SegmentTimeline`` made Shaka stall at every segment boundary until its (cached) MPD showed
  the next one. ``presentationTimeOffset`` is the period's first decode time; only the last
  segment of a period (cut short by a failover) can be shorter, and the next period starts at
  its real time. ``timeShiftBufferDepth`` is the DVR window, which the timelines already slide.
* ``ServiceDescription`` gives the target latency and playback-rate bounds for catch-up, and
  ``UTCTiming`` points at the origin's ``time`` resource (resolved relative to the MPD).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from streamlab.streaming.live.playlist import AUDIO_NAME
from streamlab.streaming.live.settings import LiveRung
from streamlab.streaming.live.timeline import RungTimeline, Segment

MPD_TYPE = "application/dash+xml"
NAMESPACE = "urn:mpeg:dash:schema:mpd:2011"
PROFILES = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019"
TIMESCALE = 1000


@dataclass(frozen=True)
class DashTiming:
    """What the MPD states about time, from ``configs/live.yaml``."""

    segment_s: float
    part_target_s: float
    dvr_window_s: float
    target_latency_s: float
    min_update_s: float


def iso_time(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration(seconds: float) -> str:
    """An xs:duration, e.g. ``PT1.667S``."""
    return f"PT{round(seconds, 3):g}S"


def _generations(timeline: RungTimeline) -> dict[int, list[Segment]]:
    grouped: dict[int, list[Segment]] = {}
    for segment in timeline.segments:
        if segment.parts:
            grouped.setdefault(segment.generation, []).append(segment)
    return grouped


def live_mpd(
    rungs: Sequence[LiveRung], timelines: dict[str, RungTimeline], fps: int, timing: DashTiming, now_s: float,
    audio_kbps: int | None = None, protection: Callable[[], list[ET.Element]] | None = None,
) -> str | None:
    """The MPD now; ``None`` before the first segment (there is no availabilityStartTime yet).

    With ``audio_kbps`` (and an ``audio`` timeline), each period also has an audio adaptation set;
    ``protection`` makes each adaptation set's ``ContentProtection`` elements (an encrypted channel).
    """
    lead = timelines[rungs[0].name]
    if lead.first_pdt_s is None or not any(segment.parts for segment in lead.segments):
        return None
    start_s = lead.first_pdt_s
    mpd = ET.Element("MPD", {
        "xmlns": NAMESPACE, "type": "dynamic", "profiles": PROFILES,
        "availabilityStartTime": iso_time(start_s), "publishTime": iso_time(now_s),
        "minimumUpdatePeriod": duration(timing.min_update_s), "timeShiftBufferDepth": duration(timing.dvr_window_s),
        "maxSegmentDuration": duration(timing.segment_s), "minBufferTime": duration(timing.segment_s / 2),
    })
    service = ET.SubElement(mpd, "ServiceDescription", {"id": "0"})
    target_ms = round(timing.target_latency_s * 1000)
    ET.SubElement(service, "Latency", {"target": str(target_ms), "min": str(round(target_ms * 0.5)), "max": str(target_ms * 3)})
    ET.SubElement(service, "PlaybackRate", {"min": "0.96", "max": "1.04"})
    per_rung = {rung.name: _generations(timelines[rung.name]) for rung in rungs}
    offset_s = timing.segment_s - timing.part_target_s
    for generation, lead_segments in _generations(lead).items():
        period = ET.SubElement(mpd, "Period", {"id": f"g{generation}", "start": duration(lead_segments[0].pdt_s - start_s)})
        adaptation = ET.SubElement(period, "AdaptationSet", {
            "id": "0", "contentType": "video", "mimeType": "video/mp4", "segmentAlignment": "true",
            "startWithSAP": "1", "frameRate": str(fps),
        })
        adaptation.extend(protection() if protection else [])
        for rung in rungs:
            segments = per_rung[rung.name].get(generation)
            if not segments:
                continue
            timeline = timelines[rung.name]
            representation = ET.SubElement(adaptation, "Representation", {
                "id": rung.name, "bandwidth": str(rung.bitrate_kbps * 1000), "width": str(rung.width),
                "height": str(rung.height), "codecs": timeline.codecs or "avc1.64001f",
            })
            ET.SubElement(representation, "SegmentTemplate", {
                "timescale": str(TIMESCALE), "duration": str(_ms(timing.segment_s)),
                "presentationTimeOffset": str(_ms(segments[0].media_start_s)),
                "initialization": f"{rung.name}/{segments[0].init_uri}", "media": f"{rung.name}/seg$Number$.m4s",
                "startNumber": str(segments[0].msn), "availabilityTimeOffset": f"{offset_s:.3f}",
                "availabilityTimeComplete": "false",
            })
        audio = timelines.get(AUDIO_NAME)
        audio_segments = _generations(audio).get(generation) if audio_kbps and audio is not None else None
        if audio is not None and audio_segments:
            _audio_adaptation(period, audio, audio_segments, lead_segments[0], timing, audio_kbps or 0, offset_s, protection)
    ET.SubElement(mpd, "UTCTiming", {"schemeIdUri": "urn:mpeg:dash:utc:http-iso:2014", "value": "time"})
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(mpd, encoding="unicode") + "\n"


def _audio_adaptation(
    period: ET.Element, audio: RungTimeline, segments: list[Segment], lead_first: Segment, timing: DashTiming,
    audio_kbps: int, offset_s: float, protection: Callable[[], list[ET.Element]] | None,
) -> None:
    """The period's audio: the same media clock as the video (the transcoder keeps the contribution's
    timestamps), so its ``presentationTimeOffset`` is the video's, and its ``startNumber`` is the
    audio segment whose nominal start (the audio timeline's 2 s grid, see ``RungTimeline._closes``)
    is the period start; AAC parts do not divide a segment, so an audio segment starts up to half a
    part off the grid, which a player places by its own timestamps."""
    adaptation = ET.SubElement(period, "AdaptationSet", {
        "id": "1", "contentType": "audio", "mimeType": "audio/mp4", "lang": "und", "segmentAlignment": "true",
        "startWithSAP": "1",
    })
    adaptation.extend(protection() if protection else [])
    representation = ET.SubElement(adaptation, "Representation", {
        "id": AUDIO_NAME, "bandwidth": str(audio_kbps * 1000), "codecs": audio.codecs or "mp4a.40.2",
        "audioSamplingRate": str(audio.init.timescale if audio.init else 48000),
    })
    ET.SubElement(representation, "AudioChannelConfiguration", {
        "schemeIdUri": "urn:mpeg:dash:23003:3:audio_channel_configuration:2011", "value": "2",
    })
    steps = round((segments[0].nominal_start_s - lead_first.media_start_s) / timing.segment_s)
    ET.SubElement(representation, "SegmentTemplate", {
        "timescale": str(TIMESCALE), "duration": str(_ms(timing.segment_s)),
        "presentationTimeOffset": str(_ms(lead_first.media_start_s)),
        "initialization": f"{AUDIO_NAME}/{segments[0].init_uri}", "media": f"{AUDIO_NAME}/seg$Number$.m4s",
        "startNumber": str(max(0, segments[0].msn - steps)), "availabilityTimeOffset": f"{offset_s:.3f}",
        "availabilityTimeComplete": "false",
    })


def _ms(seconds: float) -> int:
    return round(seconds * TIMESCALE)
