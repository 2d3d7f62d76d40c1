"""HDR10 from a PQ source: which sources are HDR, the HDR10 rung's encoder arguments, the SDR ladder's tone map.

A source is HDR10 when its first video stream is 10-bit (or more) with the SMPTE ST 2084 (PQ) transfer
(ITU-T H.273 ``TransferCharacteristics`` = 16). Such a source gets, beside its SDR ladder, the rungs of
the ``hdr10`` ladder profile: HEVC Main10, BT.2020 primaries and non-constant-luminance matrix, with
HDR10's static metadata (SMPTE ST 2086 mastering display, CTA-861.3 MaxCLL/MaxFALL) written by x265 as
SEI messages before every key frame (``repeat-headers=1``), so each CMAF segment carries them and a
player joining mid-title sees them, and also kept in the sample entry's colour tags.

The SDR rungs of a PQ source are tone-mapped rather than simply re-tagged: PQ code values shown as BT.709
look washed out and dim. The chain (zimg) linearises at a 100 cd/m2 nominal peak, converts BT.2020 to
BT.709 primaries in linear light, applies Hable's curve (``tonemap=hable``, no desaturation) and
re-encodes BT.709 gamma, limited range, 8-bit 4:2:0, and drops the frames' HDR10 side data.

Both are *edits of the stack's own arguments* (``streaming.transcode.encode.video_args``): the GOP,
rate control and CMAF output stay the ones every other rung uses, so HDR and SDR rungs switch on the
same segment grid.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from streamlab.core.errors import StreamlabError
from streamlab.streaming.transcode.ladder import LadderSettings, Rung, fit_in_box

HDR10_PROFILE = "hdr10"  # the ladder profile (configs/streaming.yaml transcode.ladders) whose rungs are HDR10
PQ_TRANSFER = 16  # H.273 TransferCharacteristics: SMPTE ST 2084
BT2020_PRIMARIES = 9  # H.273 ColourPrimaries: BT.2020 / BT.2100
BT2020_NCL_MATRIX = 9  # H.273 MatrixCoefficients: BT.2020 non-constant luminance
HDR_PIX_FMT = "yuv420p10le"
HDR_COLOUR_TAGS = ["-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc",
                   "-color_range", "tv"]
SDR_COLOUR_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"]
TONEMAP_FILTER = ",".join([
    "zscale=t=linear:npl=100", "format=gbrpf32le", "zscale=p=bt709", "tonemap=tonemap=hable:desat=0",
    "zscale=t=bt709:m=bt709:r=tv", "format=yuv420p",
    # the source frames' HDR10 side data would otherwise reach libx264, which writes it as SEI: an SDR
    # picture claiming a 1000-nit mastering display
    "sidedata=mode=delete:type=MASTERING_DISPLAY_METADATA", "sidedata=mode=delete:type=CONTENT_LIGHT_LEVEL",
])
# x265 units: chromaticity in 0.00002, luminance in 0.0001 cd/m2 (x265 --master-display)
_CHROMA_UNIT = 50000
_LUMA_UNIT = 10000


class HdrError(StreamlabError):
    """An HDR rung that cannot be made as asked (not HEVC, a source that is not PQ)."""


class Hdr10Metadata(BaseModel):
    """HDR10 static metadata, in x265's syntax; plain data so it travels with an encode job to a Ray worker.

    The default is the common grading monitor (Display P3 primaries, D65, 1000 / 0.0001 cd/m2) with
    MaxCLL 1000, MaxFALL 400: what a PQ source that carries no metadata of its own is assumed to be.
    """

    master_display: str = Field(
        default="G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)",
        description="SMPTE ST 2086 as x265's --master-display: G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)",
    )
    max_cll: int = Field(default=1000, ge=0, description="maximum content light level, cd/m2 (0: unknown)")
    max_fall: int = Field(default=400, ge=0, description="maximum frame-average light level, cd/m2 (0: unknown)")

    def x265_params(self) -> str:
        """``hdr10-opt`` adds HDR10-specific QP tuning for luma/chroma; the colour VUI goes into the SPS too."""
        return ":".join([
            "hdr10=1", "hdr10-opt=1", "repeat-headers=1", "colorprim=bt2020", "transfer=smpte2084",
            "colormatrix=bt2020nc", "range=limited", f"master-display={self.master_display}",
            f"max-cll={self.max_cll},{self.max_fall}",
        ])


def is_hdr10_rung(rung: Rung) -> bool:
    return rung.profile == HDR10_PROFILE


def hdr10_rungs(source_width: int, source_height: int, settings: LadderSettings) -> list[Rung]:
    """The ``hdr10`` ladder profile's rungs for a PQ source of this display size (none if not configured).

    Not one of ``transcode.profiles``: those are drawn for every source, and an SDR source has no HDR to
    keep. Ids say ``hdr10`` (``1080p_hevc_hdr10_8000k``) so they never collide with an SDR HEVC rung.
    Like the fixed ladder, a box larger than the source is dropped rather than upscaled.
    """
    profile = settings.ladders.get(HDR10_PROFILE)
    if profile is None:
        return []
    if profile.codec != "hevc":
        raise HdrError(f"transcode.ladders.{HDR10_PROFILE}.codec is {profile.codec}: HDR10 rungs are HEVC Main10 (hevc)")
    rungs = []
    for spec in profile.rungs:
        width, height, upscaled = fit_in_box(source_width, source_height, spec.width, spec.height)
        if not upscaled:
            rungs.append(Rung(id=f"{min(width, height)}p_hevc_{HDR10_PROFILE}_{spec.bitrate_kbps}k",
                              profile=HDR10_PROFILE, codec="hevc", width=width, height=height,
                              bitrate_kbps=spec.bitrate_kbps))
    return rungs


def probe_hdr10(source: Path) -> Hdr10Metadata | None:
    """The source's HDR10 metadata when it is a 10-bit+ PQ source, else None (an SDR or HLG source).

    PyAV reads the colour tags from the stream and ST 2086 / CTA-861.3 from the first frame's side data
    (HEVC SEI, or the container's ``mdcv``/``clli`` that FFmpeg attaches); a PQ source without them gets
    the defaults of :class:`Hdr10Metadata`.
    """
    import av  # PyAV: the same demuxers and decoders as the bundled FFmpeg (there is no ffprobe)

    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            context = stream.codec_context
            if context.color_trc != PQ_TRANSFER:
                return None
            depth = max((c.bits for c in context.format.components), default=8) if context.format else 8
            if depth < 10:
                raise HdrError(f"{source.name}: a PQ source must be 10-bit or more, this one is {depth}-bit")
            frame = next(container.decode(stream), None)
    except av.FFmpegError as exc:
        raise HdrError(f"{source.name}: cannot read the video stream ({exc})") from None
    metadata = Hdr10Metadata()
    sides: list[Any] = list(frame.side_data) if frame is not None else []  # PyAV's stubs type items as str
    for side in sides:
        name = str(side.type).rsplit(".", 1)[-1]
        if name == "MASTERING_DISPLAY_METADATA":
            metadata = metadata.model_copy(update={"master_display": _master_display(bytes(side))
                                                   or metadata.master_display})
        elif name == "CONTENT_LIGHT_LEVEL":
            max_cll, max_fall = struct.unpack("<II", bytes(side)[:8])
            metadata = metadata.model_copy(update={"max_cll": max_cll, "max_fall": max_fall})
    return metadata


def _master_display(raw: bytes) -> str | None:
    """FFmpeg's ``AVMasteringDisplayMetadata`` (10 AVRationals: R, G, B, white point xy; min, max
    luminance; then has_primaries, has_luminance) as x265's string, or None when either part is absent."""
    if len(raw) < 88:
        return None
    values = struct.unpack("<20i2i", raw[:88])
    if not (values[20] and values[21]):
        return None
    ratio = [Fraction(values[i], values[i + 1] or 1) for i in range(0, 20, 2)]
    (rx, ry, gx, gy, bx, by, wx, wy), (low, high) = ratio[:8], ratio[8:]
    xy = {name: (round(x * _CHROMA_UNIT), round(y * _CHROMA_UNIT))
          for name, x, y in (("G", gx, gy), ("B", bx, by), ("R", rx, ry), ("WP", wx, wy))}
    return ("".join(f"{name}({x},{y})" for name, (x, y) in xy.items())
            + f"L({round(high * _LUMA_UNIT)},{round(low * _LUMA_UNIT)})")


def pq_source_video_args(args: list[str], rung: Rung, metadata: Hdr10Metadata) -> list[str]:
    """The stack's video arguments for ``rung`` (``encode.video_args``), adapted to a PQ source.

    An ``hdr10`` rung: 10-bit, HEVC Main10, HDR10 SEI and BT.2020/PQ colour tags. Any other rung: the
    tone map before its scaler, BT.709 tags.
    """
    out = list(args)
    if not is_hdr10_rung(rung):
        _set(out, "-vf", f"{TONEMAP_FILTER},{_get(out, '-vf')}")
        return _tag(out, SDR_COLOUR_TAGS)
    if rung.codec != "hevc" or "-x265-params" not in out:
        raise HdrError(f"rung {rung.id}: HDR10 rungs are HEVC Main10 fixed-ladder rungs (codec: hevc), not {rung.codec}")
    _set(out, "-pix_fmt", HDR_PIX_FMT)
    _set(out, "-profile:v", "main10")
    _set(out, "-x265-params", f"{_get(out, '-x265-params')}:{metadata.x265_params()}")
    return _tag(out, HDR_COLOUR_TAGS)


def _get(args: list[str], flag: str) -> str:
    try:
        return args[args.index(flag) + 1]
    except (ValueError, IndexError):
        raise HdrError(f"the encoder arguments have no {flag} to adapt for a PQ source") from None


def _set(args: list[str], flag: str, value: str) -> None:
    _get(args, flag)
    args[args.index(flag) + 1] = value


def _tag(args: list[str], tags: list[str]) -> list[str]:
    """Colour tags right after the filter graph: output options, before the output's own muxer options."""
    at = args.index("-vf") + 2
    return args[:at] + tags + args[at:]
