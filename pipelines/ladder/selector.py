"""Adapters from per-title ladders to the VOD stack's ladder selectors (``transcode.selectors``).

The stack calls ``selector(source, display_width, display_height, settings) -> list[Rung]``;
each rung carries the optimizer's encoder settings (capped CRF, preset, codec), which the stack's encoder turns into FFmpeg arguments through
:func:`streamlab.pipelines.ladder.encoder_args.codec_args`. Registered in ``configs/streaming.yaml``::

    streamlab stream ingest clip.mp4 --title-id clip --ladder per-title        # predicted (cheap)
    streamlab stream ingest clip.mp4 --title-id clip --ladder per-title-hull   # exhaustive trial grid
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from streamlab.pipelines.ladder.optimize import optimize_ladder
from streamlab.pipelines.ladder.schema import Ladder
from streamlab.streaming.transcode.ladder import LadderSettings, Rung, rung_id


def to_stack_rungs(ladder: Ladder) -> list[Rung]:
    """A ladder's rungs as the stack's :class:`Rung`, encoder settings included (ids unique)."""
    rungs: dict[str, Rung] = {}
    for rung in ladder.rungs:
        bitrate_kbps = max(1, round(rung.bitrate_kbps))
        ident = rung_id(rung.codec, min(rung.width, rung.height), bitrate_kbps)
        rungs.setdefault(
            ident,
            Rung(
                id=ident,
                profile="per-title",
                codec=rung.codec,
                width=rung.width,
                height=rung.height,
                bitrate_kbps=bitrate_kbps,
                encoder=rung.encoder,
                max_bitrate_kbps=round(rung.max_bitrate_kbps) if rung.max_bitrate_kbps else None,
                bufsize_kbps=round(rung.bufsize_kbps) if rung.bufsize_kbps else None,
                expected_vmaf=rung.expected_vmaf,
            ),
        )
    return list(rungs.values())


def _selector(method: Literal["hull", "predicted"]):  # noqa: ANN202
    def select(source: Path, display_width: int, display_height: int, settings: LadderSettings) -> list[Rung]:
        """The per-title H.264 ladder (plays everywhere) and, beside it, the per-title AV1 ladder."""
        del display_width, display_height, settings  # the optimizer probes the source itself
        rungs: list[Rung] = []
        for codec in STACK_CODECS:
            rungs += to_stack_rungs(optimize_ladder(Path(source), method, codec))
        return rungs

    select.__name__ = f"per_title_{method}"
    select.__doc__ = f"Per-title H.264 + AV1 ladders by the {method} method, as stack rungs."
    return select


STACK_CODECS: tuple[Literal["h264", "av1"], ...] = ("h264", "av1")
"""What `--ladder per-title` publishes: H.264 for every device, AV1 beside it for devices that decode it."""

per_title_hull = _selector("hull")
per_title_predicted = _selector("predicted")
