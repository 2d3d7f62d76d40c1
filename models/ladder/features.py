"""A title's cheap features: what the ladder predictor sees instead of the trial grid.

Measured from the source by :func:`streamlab.streaming.transcode.per_title.features.title_features`
(SI/TI per ITU-T P.910 on decoded luma, one x264 ``ultrafast`` probe encode, the display format);
this module only says what they are, so the decision takes features, never files.

:class:`TitleFeatures` is what the measurement returns (with the P.910 maxima and the CPU it
cost); :class:`LadderFeatures` is the part the model uses, as a client sends it to ``/ladder``.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field


class TitleFeatures(BaseModel):
    width: int
    height: int
    fps: float
    si_mean: float
    si_p90: float
    si_max: float
    ti_mean: float
    ti_p90: float
    ti_max: float
    probe_bpp: float
    probe_psnr_y: float
    probe_qp_p: float
    probe_ip_ratio: float
    cpu_s: float

    def vector(self) -> list[float]:
        """The model's title features, in a fixed order (see :data:`TITLE_FEATURES`)."""
        return [
            math.log(self.width * self.height), self.fps,
            self.si_mean, self.si_p90, self.ti_mean, self.ti_p90, math.log1p(self.ti_mean),
            math.log(self.probe_bpp), self.probe_psnr_y, self.probe_qp_p, math.log(self.probe_ip_ratio),
        ]  # fmt: skip


TITLE_FEATURES = [
    "log_pixels", "fps", "si_mean", "si_p90", "ti_mean", "ti_p90", "log1p_ti_mean",
    "log_probe_bpp", "probe_psnr_y", "probe_qp_p", "log_probe_ip_ratio",
]  # fmt: skip


MIN_SIDE_PX = 32
"""Smallest source side a ladder is built for: ingest's own floor (``configs/streaming.yaml``
``ingest.min_width``/``min_height``). Below it the trial grid's scaled sizes round to zero pixels and
the predictor's ``log(pixels)`` has no value (issue 20: ``width=1, height=1`` was a 500)."""

MIN_FPS = 1.0
"""Slowest frame rate a ladder is built for: below one frame a second the predicted rung bitrates round
to 0 kbps, which no encoder can be asked for (and no title in the stack plays at)."""


class LadderFeatures(BaseModel):
    """The predictor's title inputs, as an ingest measured them (the wire form of :class:`TitleFeatures`)."""

    width: int = Field(ge=MIN_SIDE_PX, le=16384, description="display width of the source")
    height: int = Field(ge=MIN_SIDE_PX, le=16384)
    fps: float = Field(
        ge=MIN_FPS, le=300, description="output frame rate (the source's, capped at the stack's max_fps)"
    )
    si_mean: float = Field(ge=0, le=1000)
    si_p90: float = Field(ge=0, le=1000)
    ti_mean: float = Field(ge=0, le=1000)
    ti_p90: float = Field(ge=0, le=1000)
    probe_bpp: float = Field(gt=0, le=100, description="bits per pixel of the x264 ultrafast probe encode")
    probe_psnr_y: float = Field(gt=0, le=150)
    probe_qp_p: float = Field(ge=0, le=69)
    probe_ip_ratio: float = Field(gt=0, le=10_000, description="mean I-frame size / mean P-frame size")

    def title_features(self) -> TitleFeatures:
        return TitleFeatures(
            **self.model_dump(), si_max=self.si_p90, ti_max=self.ti_p90, cpu_s=0.0
        )  # the maxima are not model inputs

    @classmethod
    def of(cls, features: TitleFeatures) -> LadderFeatures:
        return cls(**features.model_dump(include=set(cls.model_fields)))
