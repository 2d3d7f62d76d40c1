"""The fixed encoding ladder: which renditions a source gets.

Rungs are *boxes* (e.g. 1280x720). The source's display aspect ratio is fitted inside each box
with even dimensions (4:2:0 chroma needs them); the box is turned to match a portrait source, so
a 1080x1920 phone clip gets a 1080x1920 "1080p" rung rather than a 606x1080 one. A rung whose
fitted size would exceed the source is dropped: upscaling spends bits on detail that is not there.

A source smaller than every rung (e.g. QCIF 176x144) still needs one rendition: it gets a single
rung at its own size, even-rounded, with the bitrate of the smallest rung of the first profile
scaled by pixel count (``bitrate x own_pixels / rung_pixels``, floored at
``transcode.min_bitrate_kbps``), i.e. the same bits per pixel as that rung.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from streamlab.core.errors import StreamlabError
from streamlab.models.ladder.schema import EncoderSettings, ShotSetting

Codec = Literal["h264", "hevc", "av1"]

LadderSelector = Callable[[Path, int, int, "LadderSettings"], "list[Rung]"]
"""``(source, display_width, display_height, settings) -> rungs``: how ``--ladder NAME`` picks renditions."""


class LadderError(StreamlabError):
    """An unknown ladder name, a selector that cannot be imported, or a ladder the encoder cannot use."""


class RungSpec(BaseModel):
    """One box of a ladder profile, as written in ``configs/streaming.yaml``."""

    name: str = Field(description="label, e.g. 720p")
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    bitrate_kbps: int = Field(gt=0)


class LadderProfile(BaseModel):
    codec: Codec
    rungs: list[RungSpec] = Field(min_length=1)


class Rung(BaseModel):
    """A rung chosen for one source: the size the encoder produces and the target bitrate."""

    id: str = Field(description="folder name and representation id, e.g. 720p_3000k")
    profile: str
    codec: Codec
    width: int
    height: int
    bitrate_kbps: int = Field(description="target (fixed ladder, ABR) or expected average (per-title, capped CRF)")
    encoder: EncoderSettings | None = Field(
        default=None, description="per-title encoder settings (capped CRF, preset); None: the stack's fixed-ladder ABR"
    )
    max_bitrate_kbps: int | None = None
    bufsize_kbps: int | None = None
    expected_vmaf: float | None = None
    shots: list[ShotSetting] | None = Field(
        default=None, description="shot-based rung: encoded shot by shot at these CRFs, then joined"
    )

    @property
    def browser_playable(self) -> bool:
        """Chromium's MSE decodes H.264 and AV1 but not HEVC, so HEVC stays out of the browser's variant sets."""
        return self.codec != "hevc"


class LadderSettings(BaseModel):
    profiles: list[str] = Field(min_length=1)
    ladders: dict[str, LadderProfile]
    min_bitrate_kbps: int = Field(default=100, gt=0)
    selectors: dict[str, str] = Field(
        default_factory=lambda: {"fixed": "streamlab.streaming.transcode.ladder:fixed_ladder"},
        description="--ladder name -> 'module:function' (a LadderSelector)",
    )

    @model_validator(mode="after")
    def _profiles_exist(self) -> LadderSettings:
        unknown = [p for p in self.profiles if p not in self.ladders]
        if unknown:
            raise ValueError(f"profiles {unknown} are not defined under ladders (defined: {sorted(self.ladders)})")
        return self


def even(value: float) -> int:
    """Nearest even integer, at least 2."""
    return max(2, 2 * round(value / 2))


def even_floor(value: int) -> int:
    return max(2, value - value % 2)


def fit_in_box(source_width: int, source_height: int, box_width: int, box_height: int) -> tuple[int, int, bool]:
    """Fit the source aspect ratio inside the box (turned to the source's orientation).

    Returns ``(width, height, upscaled)``: even dimensions never larger than the box, and whether the
    fitted size would exceed the source (the caller drops such rungs).
    """
    if (source_height > source_width) != (box_height > box_width):
        box_width, box_height = box_height, box_width
    scale = min(box_width / source_width, box_height / source_height)
    upscaled = source_width * scale > source_width + 1e-9 or source_height * scale > source_height + 1e-9
    width = min(even(source_width * scale), even_floor(box_width))
    height = min(even(source_height * scale), even_floor(box_height))
    if not upscaled:
        width, height = min(width, even_floor(source_width)), min(height, even_floor(source_height))
    return width, height, upscaled


def rung_id(codec: Codec, short_side: int, bitrate_kbps: int) -> str:
    """``720p_3000k``; the label is the short side, so a portrait 720x1280 rung is also "720p"."""
    return f"{short_side}p_{bitrate_kbps}k" if codec == "h264" else f"{short_side}p_{codec}_{bitrate_kbps}k"


def select_ladder(source_width: int, source_height: int, settings: LadderSettings) -> list[Rung]:
    """The renditions for a source of this (display) size, highest bitrate first; never empty."""
    rungs: list[Rung] = []
    for profile_name in settings.profiles:
        profile = settings.ladders[profile_name]
        for spec in profile.rungs:
            width, height, upscaled = fit_in_box(source_width, source_height, spec.width, spec.height)
            if upscaled:
                continue
            rungs.append(
                Rung(
                    id=rung_id(profile.codec, min(width, height), spec.bitrate_kbps),
                    profile=profile_name,
                    codec=profile.codec,
                    width=width,
                    height=height,
                    bitrate_kbps=spec.bitrate_kbps,
                )
            )
    if not rungs:
        rungs.append(_own_size_rung(source_width, source_height, settings))
    rungs = _unique_ids(rungs)
    return sorted(rungs, key=lambda r: (r.codec != "h264", -r.bitrate_kbps))


def _own_size_rung(source_width: int, source_height: int, settings: LadderSettings) -> Rung:
    profile_name = settings.profiles[0]
    profile = settings.ladders[profile_name]
    smallest = min(profile.rungs, key=lambda r: r.width * r.height)
    width, height = even_floor(source_width), even_floor(source_height)
    scaled = smallest.bitrate_kbps * (width * height) / (smallest.width * smallest.height)
    bitrate_kbps = max(settings.min_bitrate_kbps, round(scaled))
    return Rung(
        id=rung_id(profile.codec, min(width, height), bitrate_kbps),
        profile=profile_name,
        codec=profile.codec,
        width=width,
        height=height,
        bitrate_kbps=bitrate_kbps,
    )


def _unique_ids(rungs: list[Rung]) -> list[Rung]:
    """Two profiles can yield the same size and bitrate; keep one (identical encodes are waste)."""
    seen: dict[str, Rung] = {}
    for rung in rungs:
        seen.setdefault(rung.id, rung)
    return list(seen.values())


def fixed_ladder(source: Path, display_width: int, display_height: int, settings: LadderSettings) -> list[Rung]:
    """The design's fixed profiles (the ``fixed`` selector); the source file itself is not needed."""
    return select_ladder(display_width, display_height, settings)


def load_selector(name: str, settings: LadderSettings) -> LadderSelector:
    """The selector registered as ``name`` in ``transcode.selectors``.

    Registration is by import path in the config, so a per-title ladder (e.g. a learned model
    in another package) plugs into ingest without this package importing it.
    """
    if name not in settings.selectors:
        raise LadderError(f"ladder {name!r} is not supported; valid: {', '.join(sorted(settings.selectors))}")
    target = settings.selectors[name]
    module_name, _, attribute = target.partition(":")
    try:
        selector = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise LadderError(f"ladder {name!r}: cannot load {target!r} from transcode.selectors ({exc})") from None
    if not callable(selector):
        raise LadderError(f"ladder {name!r}: {target!r} is not callable")
    return selector


def check_ladder(name: str, rungs: list[Rung], display_width: int, display_height: int) -> list[Rung]:
    """Refuse a ladder the encoder and packager cannot use, whichever selector produced it."""
    if not rungs:
        raise LadderError(f"ladder {name!r} chose no rendition for a {display_width}x{display_height} source")
    ids = [r.id for r in rungs]
    if len(set(ids)) != len(ids):
        raise LadderError(f"ladder {name!r} repeats rendition ids: {ids}")
    odd = [r.id for r in rungs if r.width % 2 or r.height % 2]
    if odd:
        raise LadderError(f"ladder {name!r}: renditions {odd} have odd dimensions (4:2:0 needs even ones)")
    if not any(r.codec == "h264" for r in rungs):
        raise LadderError(f"ladder {name!r} has no H.264 rendition: every ladder needs one that plays everywhere")
    return rungs
