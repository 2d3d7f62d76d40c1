"""Adapters from per-title ladders to the VOD stack's ladder selectors (``transcode.selectors``).

The stack calls ``selector(source, display_width, display_height, settings) -> list[Rung]``; its
``Rung`` carries size and a target bitrate only, so through this adapter the stack encodes the
per-title *sizes and bitrates* with its own ABR settings. The full per-title saving also needs the
rung's encoder settings (capped CRF, preset): the stack gets those from
:func:`pipelines.ladder.optimize.optimize_ladder` and
:func:`pipelines.ladder.encoder_args.rung_video_args`. Register, e.g.::

    streamlab stream ingest clip.mp4 --title-id clip --ladder per-title \\
        '+transcode.selectors.per-title=pipelines.ladder.selector:per_title_hull'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pipelines.ladder.optimize import optimize_ladder
from pipelines.ladder.schema import Ladder
from streaming.transcode.ladder import LadderSettings, Rung, rung_id


def to_stack_rungs(ladder: Ladder) -> list[Rung]:
    """H.264 rungs of a ladder as the stack's :class:`Rung` (ids unique, bitrates whole kbit/s)."""
    if ladder.codec != "h264":
        raise ValueError(f"the stack's Rung has no {ladder.codec} codec; encode AV1 rungs with rung_video_args")
    rungs: dict[str, Rung] = {}
    for rung in ladder.rungs:
        bitrate_kbps = max(1, round(rung.bitrate_kbps))
        ident = rung_id("h264", min(rung.width, rung.height), bitrate_kbps)
        rungs.setdefault(
            ident,
            Rung(
                id=ident,
                profile="per-title",
                codec="h264",
                width=rung.width,
                height=rung.height,
                bitrate_kbps=bitrate_kbps,
            ),
        )
    return list(rungs.values())


def _selector(method: Literal["hull", "predicted"]):  # noqa: ANN202
    def select(source: Path, display_width: int, display_height: int, settings: LadderSettings) -> list[Rung]:
        del display_width, display_height, settings  # the optimizer probes the source itself
        return to_stack_rungs(optimize_ladder(Path(source), method, "h264"))

    select.__name__ = f"per_title_{method}"
    select.__doc__ = f"Per-title H.264 ladder by the {method} method, as stack rungs."
    return select


per_title_hull = _selector("hull")
per_title_predicted = _selector("predicted")
