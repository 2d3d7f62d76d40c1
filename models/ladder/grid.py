"""A title's trial grid: the sizes and encoder settings a ladder is chosen among.

The same grid is encoded and measured by the exhaustive search
(:mod:`streamlab.streaming.transcode.per_title.trials`) and predicted by the model
(:mod:`streamlab.models.ladder.decide`), so a predicted ladder is read from exactly the points a
measured one would be.
"""

from __future__ import annotations

from streamlab.models.ladder.schema import Codec, EncoderSettings, LadderRung


def encoder_for(
    codec: Codec,
    preset: str,
    tune: str | None,
    crf: float,
    rate_control: str = "crf",
    params: dict[str, str] | None = None,
) -> EncoderSettings:
    return EncoderSettings(
        codec=codec,
        encoder="libx264" if codec == "h264" else "libsvtav1",
        preset=str(preset),
        tune=tune,
        rate_control=rate_control,  # type: ignore[arg-type]
        crf=crf,
        params=dict(params or {}),
    )


def as_published(rungs: list[LadderRung], preset: str | None, params: dict[str, str] | None = None) -> list[LadderRung]:
    """``rungs`` encoded at ``preset`` with ``params`` (``None``: unchanged): chosen from trials at one setting,
    published at another.

    Only the encoder's preset and options change; the expected bitrate and VMAF stay the trials' (a
    slower preset, or quantisation matrices, spend fewer bits at the same CRF for about the same
    VMAF), the published names and manifest bandwidths come from the real encodes, and the top rung
    is measured as published by the verification.
    """
    update: dict[str, object] = {}
    if preset is not None:
        update["preset"] = str(preset)
    if params is not None:
        update["params"] = dict(params)
    if not update:
        return rungs
    return [r.model_copy(update={"encoder": r.encoder.model_copy(update=update)}) for r in rungs]


def trial_sizes(width: int, height: int, short_sides: list[int], max_resolutions: int) -> list[tuple[int, int]]:
    """Even sizes with the source's aspect ratio for each short side not above the source's, largest first.

    The source's own (even-floored) size is always a candidate: for a small source it is the
    only one worth trying, and per-title never means upscaling.
    """
    short = min(width, height)
    sizes: dict[tuple[int, int], None] = {}
    for side in sorted({*(s for s in short_sides if s < short), short}, reverse=True):
        scale = side / short
        w, h = min(_even(width * scale), width - width % 2), min(_even(height * scale), height - height % 2)
        sizes.setdefault((w, h), None)
    return list(sizes)[:max_resolutions]


def _even(value: float) -> int:
    """Nearest even integer, at least 2 (4:2:0 chroma needs even sizes; the stack rounds its rungs alike)."""
    return max(2, 2 * round(value / 2))


CRF_BOUNDS: dict[str, tuple[float, float]] = {"h264": (10.0, 51.0), "av1": (10.0, 63.0)}
"""The CRFs a grid may be extended to: below 10 neither encoder buys visible quality, above is invalid."""


def extension_crfs(
    best_vmaf: float, cheapest_kbps: float, crfs: list[float], codec: Codec, top_vmaf: float, lowest_kbps: float
) -> tuple[list[float], list[float]]:
    """Extra CRFs when the grid misses a promise of the ladder: (for the largest size, for the smallest).

    A grid whose best point is under the quality ceiling cannot give a top rung there (why AV1
    ladders stopped at 88-93 VMAF: CRF 24 at preset 8 is not enough for 720p), and one whose
    cheapest point is over the lowest throughput cannot give a bottom rung for that link. One more
    CRF step (the grid's own spacing) beyond the grid's end, within the encoder's bounds.
    """
    ordered = sorted(crfs)
    step = min((b - a for a, b in zip(ordered, ordered[1:], strict=False)), default=4.0) or 4.0
    low, high = CRF_BOUNDS[codec]
    up = [max(low, ordered[0] - step)] if best_vmaf < top_vmaf and ordered[0] > low else []
    down = [min(high, ordered[-1] + step)] if cheapest_kbps > lowest_kbps and ordered[-1] < high else []
    return up, down
