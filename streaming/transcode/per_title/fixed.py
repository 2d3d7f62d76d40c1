"""The design's fixed ladder, exactly as the VOD stack selects and encodes it, as a :class:`Ladder`.

Selection is the stack's own (:func:`streamlab.streaming.transcode.ladder.select_ladder` over
``configs/streaming.yaml``), so per-title ladders are always compared with what ingest really
produces: H.264 ABR at the stack's x264 preset (``veryfast``) with its VBV cap.
"""

from __future__ import annotations

from streamlab.models.ladder.schema import EncoderSettings, Ladder, LadderRung
from streamlab.streaming.ingest.settings import TranscodeSettings, load_streaming_settings
from streamlab.streaming.transcode.ladder import Rung, select_ladder
from streamlab.streaming.transcode.per_title.source import SourceFacts


def fixed_stack_rungs(facts: SourceFacts, transcode: TranscodeSettings | None = None) -> list[Rung]:
    """The stack's browser-playable (H.264) rungs for this source; HEVC rungs are out of scope here."""
    transcode = transcode or load_streaming_settings().transcode
    return [r for r in select_ladder(facts.width, facts.height, transcode) if r.codec == "h264"]


def fixed_ladder(facts: SourceFacts, transcode: TranscodeSettings | None = None) -> Ladder:
    transcode = transcode or load_streaming_settings().transcode
    rungs = [
        LadderRung(
            width=r.width,
            height=r.height,
            codec="h264",
            bitrate_kbps=r.bitrate_kbps,
            max_bitrate_kbps=round(r.bitrate_kbps * transcode.maxrate_ratio),
            bufsize_kbps=round(r.bitrate_kbps * transcode.bufsize_ratio),
            encoder=EncoderSettings(codec="h264", encoder="libx264", preset=transcode.x264_preset, rate_control="abr"),
            profiles=[r.profile],
        )
        for r in fixed_stack_rungs(facts, transcode)
    ]
    return Ladder(
        source=str(facts.path),
        method="fixed",
        codec="h264",
        segment_duration_s=facts.segment_duration_s,
        rungs=sorted(rungs, key=lambda r: -r.bitrate_kbps),
    )
