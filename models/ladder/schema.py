"""The ladder as data: what the VOD stack encodes for one title, and the trial points it came from.

Plain pydantic models, so a ladder round-trips through ``ladder.json``, travels to Ray workers,
and is the one contract between the ladder decision (this family) and the stack's encoder
(:mod:`streamlab.streaming.transcode.encoder_args`). A :class:`TrialPoint` is one (size, encoder
setting) of a title's grid with its (bitrate, VMAF): measured by a trial encode, or predicted.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Codec = Literal["h264", "av1"]
Method = Literal["fixed", "hull", "predicted", "shots"]
RateControl = Literal["abr", "capped_crf", "crf"]


class EncoderSettings(BaseModel):
    """How one rendition is encoded.

    ``capped_crf`` (constant quality with a VBV cap: ``-crf`` plus ``-maxrate``/``-bufsize``) is the
    per-title default: at equal average bitrate it beats ABR because bits go where the content
    needs them, while the cap keeps peaks deliverable. ``abr`` is what the fixed ladder uses;
    ``crf`` (no cap) is only used for trial encodes, whose measured bitrate sets the cap.
    """

    codec: Codec
    encoder: Literal["libx264", "libsvtav1"]
    preset: str
    tune: str | None = None
    rate_control: RateControl
    crf: float | None = None
    params: dict[str, str] = Field(
        default_factory=dict,
        description="encoder options beyond preset, tune and CRF (-svtav1-params / -x264-params key=value): published "
        "rungs only (grid.<codec>.publish_params); trials leave it empty, so the predictor's grid is unchanged",
    )


class ShotSetting(BaseModel):
    """One shot of a shot-based rung: where it lies (on the segment grid) and the CRF it is encoded at."""

    start_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    crf: float
    max_bitrate_kbps: float | None = Field(default=None, description="this shot's VBV cap (capped CRF)")
    bufsize_kbps: float | None = None
    expected_kbps: float | None = None
    expected_vmaf: float | None = None


class LadderRung(BaseModel):
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    codec: Codec
    bitrate_kbps: float = Field(gt=0, description="target (abr) or expected average (capped_crf) video bitrate")
    max_bitrate_kbps: float | None = Field(default=None, description="VBV -maxrate; None: uncapped (trials only)")
    bufsize_kbps: float | None = None
    encoder: EncoderSettings
    expected_vmaf: float | None = Field(default=None, description="VMAF vs the source, upscaled to its size")
    measured_vmaf: float | None = Field(
        default=None, description="VMAF of a real encode of this rung (predicted ladders' verified top rung)"
    )
    profiles: list[str] = Field(default_factory=lambda: ["main"], description="device profiles this rung is in")
    shots: list[ShotSetting] | None = Field(
        default=None, description="shot-based rung: one CRF per shot (encoded shot by shot); None: one CRF for all"
    )

    @property
    def id(self) -> str:
        """``720p_av1_1850k``: short side, codec (H.264 implicit, as the stack names rungs), bitrate."""
        codec = "" if self.codec == "h264" else f"{self.codec}_"
        return f"{min(self.width, self.height)}p_{codec}{round(self.bitrate_kbps)}k"


class Ladder(BaseModel):
    """One title's ladder, highest bitrate first."""

    source: str
    method: Method
    codec: Codec
    segment_duration_s: float
    rungs: list[LadderRung] = Field(min_length=1)
    decision_cpu_s: float = Field(default=0.0, description="CPU seconds spent choosing the ladder (trials, probes)")
    notes: list[str] = Field(default_factory=list)

    def profile(self, name: str) -> list[LadderRung]:
        return [r for r in self.rungs if name in r.profiles]


class TrialPoint(BaseModel):
    """A measured (bitrate, quality) point of the trial grid."""

    width: int
    height: int
    encoder: EncoderSettings
    bitrate_kbps: float
    vmaf: float
    vmaf_p5: float
    psnr_y: float
    ssim: float
    encode_cpu_s: float
    measure_cpu_s: float
    remembered: bool = Field(False, exclude=True)
    """Recalled from the trial store, not measured in this run: its CPU times are an earlier run's (on
    another load), so a CPU comparison with a fresh search is not like for like. Never serialised."""
