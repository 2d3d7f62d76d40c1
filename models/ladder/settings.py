"""Typed settings for ``configs/ladder.yaml`` (trial grid, ladder rules, predictor)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streamlab.core.config import load_config
from streamlab.models.ladder.cost import CostSettings

Codec = Literal["h264", "av1"]
X264Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]


class CodecGrid(BaseModel):
    """One codec's trial grid, and the preset its published rungs are encoded at.

    ``preset`` is what every trial runs at (grid, hull, per-shot grid, the predictor's corpus);
    ``publish_preset`` (``None``: the same) is what the stack encodes the chosen rungs at. Estimating
    the hull at a fast preset and encoding the final rungs at a slower one is established practice:
    the hull's shape moves little between presets, the published rungs get the slower preset's
    efficiency, and the trials (tens of encodes per title) keep the fast one's cost. The top rung is
    measured at the publish preset (``verify``), which corrects the trial -> publish quality offset there.
    ``publish_params`` are encoder options of the published rungs only, on the same reasoning: SVT-AV1's
    quantisation matrices, or x264 without psychovisual RD, cost no CPU and save bits at equal VMAF,
    and leaving them out of the trials keeps the predictor's grid (and its corpus) as trained. An option
    either encoder does not know (or a value it cannot parse) is only logged by FFmpeg ("Error parsing
    option"), the encode goes on without it: check a new key in the encode log, and for x264 in the
    settings string it writes into the stream (``strings rung.mp4 | grep options:``).
    """

    model_config = ConfigDict(coerce_numbers_to_str=True)  # SVT-AV1 presets and tunes are numbers in YAML

    preset: str
    publish_preset: str | None = None
    publish_params: dict[str, str] = Field(
        default_factory=dict,
        description="encoder options of published rungs only (-svtav1-params / -x264-params key=value; trials, "
        "hull and predictor without)",
    )
    tune: str | None = None
    crf: list[float] = Field(min_length=2)

    @property
    def published_preset(self) -> str:
        """The preset published rungs are encoded at."""
        return self.publish_preset if self.publish_preset is not None else self.preset


class H264Grid(CodecGrid):
    preset: X264Preset = "slower"
    publish_preset: X264Preset | None = None
    tune: Literal["film", "animation", "grain", "ssim", "psnr"] | None = None

    @model_validator(mode="after")
    def _crf_range(self) -> H264Grid:
        if not all(0 <= c <= 51 for c in self.crf):
            raise ValueError(f"grid.h264.crf values must lie in 0..51, got {self.crf}")
        _check_params("h264", "an x264", self.publish_params, _X264_VALUE, PINNED_X264_PARAMS)
        return self


class Av1Grid(CodecGrid):
    preset: str = "8"
    tune: Literal["0", "1", "2"] | None = None

    @model_validator(mode="after")
    def _crf_range(self) -> Av1Grid:
        if not all(1 <= c <= 63 and float(c).is_integer() for c in self.crf):
            raise ValueError(f"grid.av1.crf values must be whole numbers in 1..63, got {self.crf}")
        for name, preset in (("preset", self.preset), ("publish_preset", self.publish_preset)):
            if preset is not None and (not preset.lstrip("-").isdigit() or not -2 <= int(preset) <= 13):
                raise ValueError(f"grid.av1.{name} must be an SVT-AV1 preset -2..13, got {preset!r}")
        _check_params("av1", "an SVT-AV1", self.publish_params, _SVT_VALUE, PINNED_SVT_PARAMS)
        return self


def _check_params(
    codec: str, encoder: str, params: dict[str, str], value: re.Pattern[str], pinned: dict[str, str]
) -> None:
    """``grid.<codec>.publish_params`` must be plain ``key=value`` options (a ``:`` or ``=`` in a value would smuggle
    in further options past this check) and may not touch what the stack pins (GOP, threads, rate control).

    x264 also spells a key with ``_`` and negates a flag with ``no-``: both count as the pinned key.
    """
    for key, val in params.items():
        if not _PARAM_KEY.fullmatch(key) or not value.fullmatch(val):
            raise ValueError(f"grid.{codec}.publish_params: {key}={val!r} is not {encoder} key=value option")
        name = key.replace("_", "-").removeprefix("no-")
        if name in pinned:
            raise ValueError(f"grid.{codec}.publish_params may not set {key!r}: {pinned[name]}")


_PARAM_KEY = re.compile(r"[a-z][a-z0-9_-]*")
_SVT_VALUE = re.compile(r"-?[0-9A-Za-z.]+")
_X264_VALUE = re.compile(r"[-0-9A-Za-z.,]+")  # pairs are comma-separated (deblock=-1,-1; psy-rd=1,0)
PINNED_SVT_PARAMS = {
    "irefresh-type": "closed GOPs on the segment grid are the stack's (encoder_args)",
    "scd": "scene-change key frames would break the segment grid",
    "keyint": "the GOP is one segment (encoder_args)",
    "lp": "threads come from grid.threads_per_task and the stack",
    "tune": "set grid.av1.tune (trials and published rungs alike)",
    "pred-struct": "the stack publishes random-access GOPs",
}
"""SVT-AV1 options the stack sets itself, and why a config may not override them."""
_X264_GOP = "the GOP is one closed segment (encoder_args: -g, -keyint_min, no scene cuts)"
_X264_RC = "rate control is the rung's capped CRF (encoder_args)"
PINNED_X264_PARAMS = {
    **dict.fromkeys(["keyint", "min-keyint", "keyint-min", "scenecut", "open-gop", "intra-refresh"], _X264_GOP),
    **dict.fromkeys(["crf", "qp", "bitrate", "vbv-maxrate", "vbv-bufsize", "vbv-init", "pass", "stats"], _X264_RC),
    "stitchable": "shot-based rungs get stitchable=1 from the stack (encoder_args)",
    "threads": "threads come from grid.threads_per_task and the stack",
    "preset": "set grid.h264.publish_preset",
    "tune": "set grid.h264.tune (trials and published rungs alike)",
    "profile": "the stack publishes High profile",
}
"""x264 options the stack sets itself, and why a config may not override them."""


class GridSettings(BaseModel):
    heights: list[int] = Field(min_length=1)
    max_resolutions: int = Field(default=4, ge=1)
    max_extensions: int = Field(
        default=2, ge=0, description="rounds of extra CRFs when the grid misses the ceiling or the lowest throughput"
    )
    threads_per_task: int = Field(default=1, ge=0)
    vmaf_subsample: int = Field(default=2, ge=1)
    h264: H264Grid = H264Grid(crf=[18, 23, 28, 33, 38])
    av1: Av1Grid = Av1Grid(crf=[24, 32, 40, 48, 56])

    def codec(self, codec: Codec) -> CodecGrid:
        return self.h264 if codec == "h264" else self.av1


class DeviceProfile(BaseModel):
    max_height: int | None = Field(default=None, gt=0)
    max_bitrate_kbps: int | None = Field(default=None, gt=0)


class RuleSettings(BaseModel):
    top_vmaf: float = Field(default=95.0, gt=0, le=100)
    vmaf_step: float = Field(default=6.0, gt=0)
    min_vmaf: float = Field(default=45.0, ge=0)
    max_rungs: int = Field(default=6, ge=1)
    min_bitrate_kbps: int = Field(default=100, gt=0)
    max_bitrate_kbps: int = Field(default=8000, gt=0)
    max_bitrate_ratio: float = Field(default=2.5, gt=1)
    min_bitrate_ratio: float = Field(default=1.3, ge=1)
    maxrate_ratio: float = Field(default=1.5, ge=1)
    bufsize_ratio: float = Field(default=2.0, gt=0)
    device_profiles: dict[str, DeviceProfile] = Field(default_factory=dict)
    lowest_throughput_kbps: float = Field(
        default=300, gt=0, description="the bottom rung averages at most this, so the slowest link named still plays"
    )

    @model_validator(mode="after")
    def _ordered(self) -> RuleSettings:
        if self.min_bitrate_kbps >= self.max_bitrate_kbps:
            raise ValueError("rules.min_bitrate_kbps must be below rules.max_bitrate_kbps")
        if self.min_vmaf >= self.top_vmaf:
            raise ValueError("rules.min_vmaf must be below rules.top_vmaf")
        if self.min_bitrate_ratio >= self.max_bitrate_ratio:
            raise ValueError("rules.min_bitrate_ratio must be below rules.max_bitrate_ratio")
        return self


class ShotSettings(BaseModel):
    """Shot-based encoding (``method: shots``): shot detection, per-shot grid, dynamic optimizer."""

    scene_threshold: float = Field(default=0.3, gt=0, lt=1, description="FFmpeg scene score above which a cut is")
    jnd_vmaf: float = Field(default=6.0, gt=0, description="no shot more than this under its rung's target")
    crf_step: float = Field(default=1.0, gt=0, description="CRF resolution of the per-shot choice (interpolated)")
    max_shots: int = Field(default=64, ge=1, description="bound on trial encodes: neighbouring shots merge past it")
    top_margin_vmaf: float = Field(
        default=0.5, ge=0, le=5,
        description="the top rung aims this far over rules.top_vmaf: trials score a subsample of each shot's "
        "frames, the published rung is scored in full (bigbuckbunny's top rungs measured 0.2-0.4 under their 95)",
    )
    predicted_per_shot: bool = Field(
        default=False,
        description="predicted ladders (method predicted, `--ladder per-title` by default) choose per-shot "
        "operating points from per-shot features instead of one CRF per rung",
    )
    held_out_clip: str = Field(
        default="bikes",
        description="the acceptance report's held-out clip: the per-shot predictor never trains on it, nothing is "
        "tuned on it, and it is reported on its own",
    )


class VerifySettings(BaseModel):
    """Top-rung verification of predicted ladders: the predictor's error is largest exactly at the ceiling.

    The trees overestimate quality near VMAF 95 (AV1 top rungs measured 88-93 against a promised
    95), so the ladder never extends to where the title needs it. One real encode of the top rung
    shows the truth; a few CRF steps down fix it at a few percent of the hull's CPU.
    """

    enabled: bool = Field(default=True, description="encode and score the predicted top rung, step its CRF down")
    tolerance_vmaf: float = Field(
        default=0.0, ge=0,
        description="a top rung this far under rules.top_vmaf passes; 0: one-sided, the published top rung must "
        "reach the ceiling (measured on every frame) unless the CRF floor or max_steps stops it",
    )
    max_steps: int = Field(default=3, ge=0, le=6, description="CRF steps after the first measurement")
    margin_vmaf: float = Field(
        default=0.3, ge=0, le=3,
        description="the verification aims this far over rules.top_vmaf: it encodes without the VBV cap the published "
        "rendition has (capped renditions measured 0.07-0.13 under their verification on bikes and bigbuckbunny)",
    )
    overshoot_vmaf: float = Field(
        default=2.0, gt=0, description="a top rung this far over rules.top_vmaf steps its CRF up (bits not needed)"
    )
    full_title_max_s: float = Field(default=30.0, gt=0, description="titles up to this long are verified in full")
    sample_segments: int = Field(default=4, ge=1, description="longer titles: this many segments, evenly spread")
    vmaf_per_crf: dict[Codec, float] = Field(
        default_factory=lambda: {"h264": 1.0, "av1": 0.5},
        description="first step's slope guess (VMAF gained per CRF step down near the ceiling); then secant",
    )
    max_crf_step: dict[Codec, float] = Field(
        default_factory=lambda: {"h264": 6.0, "av1": 12.0}, description="no single step larger than this"
    )


class PredictorSettings(BaseModel):
    probe_height: int = Field(default=360, gt=0)
    probe_crf: float = Field(default=26, ge=0, le=51)
    si_ti_max_frames: int = Field(default=60, ge=2)
    model_alias: str = "champion"


class CorpusSettings(BaseModel):
    width: int = Field(default=512, gt=0)
    height: int = Field(default=288, gt=0)
    duration_s: float = Field(default=4.0, gt=0)
    fps: float = Field(default=25, gt=0)
    heights: list[int] = Field(default_factory=lambda: [720, 540, 360, 288, 240, 180, 144])
    max_resolutions: int = Field(default=3, ge=1)
    synthetic: list[str] = Field(default_factory=list)
    real: list[str] = Field(default_factory=list)
    segments_s: float = Field(default=5.0, gt=0)
    codecs: list[Codec] = Field(default_factory=lambda: ["h264", "av1"])


class LadderOptimizerSettings(BaseModel):
    segment_duration_s: float | None = Field(
        default=None, gt=0.5, le=30, description="null: the VOD stack's (see streaming.transcode.per_title.source)"
    )
    grid: GridSettings
    rules: RuleSettings = RuleSettings()
    predictor: PredictorSettings = PredictorSettings()
    verify: VerifySettings = VerifySettings()
    shots: ShotSettings = ShotSettings()
    cost: CostSettings = CostSettings()
    per_title_method: Literal["predicted", "hull", "shots"] = Field(
        default="shots", description="what `stream ingest --ladder per-title` runs"
    )
    corpus: CorpusSettings = CorpusSettings()


def load_ladder_settings(overrides: list[str] | None = None) -> LadderOptimizerSettings:
    return load_config("ladder", LadderOptimizerSettings, overrides)
