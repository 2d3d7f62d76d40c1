"""The channel's rungs, chosen by the ladder model from the first seconds of its contribution feed.

A live channel cannot change its rungs once viewers hold its multivariant playlist, so the choice
is made once, before the first transcoder starts: the channel records ``transcode.ladder_probe_s``
of the first feed that is ready (from its last keyframe, as TS), and the per-title decision the
VOD stack uses (:func:`streamlab.models.ladder.decide.decide` on the features
:func:`streamlab.streaming.transcode.per_title.features.title_features` measures: SI/TI and one
probe encode) predicts the H.264 ladder, with the ladder rules capped at as many rungs as the
configured (fixed) ladder has: the live ladder's CPU is one x264 encode per rung, in real time.
Rungs are never above the feed's own size.

The decision runs in a child process (``python -m streamlab.streaming.live.ladder``), in the
channel's process group, under ``transcode.ladder_timeout_s``: loading the model takes seconds
of pure Python that would otherwise stall the channel's event loop (its feeds and origin), and a
timed-out child can be killed. When the model cannot decide (no model artifact, features failed,
past the timeout) the channel runs the **fixed** ladder of ``configs/live.yaml`` and says so: in
``live status`` (``ladder.from = fixed``, ``ladder.fallback = <reason>``) and at ``/metrics``
(``streamlab_live_ladder_fallbacks_total{reason}``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.streaming.live.settings import LiveRung, LiveSettings, load_live_settings

if TYPE_CHECKING:
    from streamlab.models.ladder.predictor import LadderPredictor
    from streamlab.models.ladder.settings import LadderOptimizerSettings

PROBE_KEYFRAME_WAIT_S = 10.0
"""How long to wait for a feed to start before giving the decision up for the fixed ladder."""


@dataclass
class LadderChoice:
    """Which rungs the channel runs, and where they came from (for status and /metrics)."""

    rungs: list[LiveRung]
    source: str  # "model" or "fixed"
    origin: str = ""  # the model (registry version or artifact folder) that decided
    fallback: str | None = None  # why the model did not decide: unavailable, error, timeout, no_feed
    detail: str = ""
    decided_in_s: float | None = None
    features: dict[str, float] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        state = asdict(self)
        state["rungs"] = [rung.name for rung in self.rungs]
        return state

    def prometheus(self, channel: str) -> str:
        reasons = ("unavailable", "error", "timeout", "no_feed")
        lines = [
            "# HELP streamlab_live_ladder_fallbacks_total Channels that run the fixed ladder because the ladder model could not decide.",
            "# TYPE streamlab_live_ladder_fallbacks_total counter",
            *(f'streamlab_live_ladder_fallbacks_total{{channel="{channel}",reason="{reason}"}} {int(self.fallback == reason)}'
              for reason in reasons),
            "# HELP streamlab_live_ladder_rungs The channel's rungs, by where they came from (model or fixed).",
            "# TYPE streamlab_live_ladder_rungs gauge",
            f'streamlab_live_ladder_rungs{{channel="{channel}",source="{self.source}"}} {len(self.rungs)}',
        ]
        return "\n".join(lines) + "\n"


def fixed_rungs(settings: LiveSettings, source_width: int, source_height: int) -> list[LiveRung]:
    """The configured ladder without rungs above the source (never upscale); at least its smallest rung."""
    rungs = [rung for rung in settings.transcode.ladder if rung.height <= source_height and rung.width <= source_width]
    return rungs or [min(settings.transcode.ladder, key=lambda rung: rung.height)]


def _ladder_settings(settings: LiveSettings) -> LadderOptimizerSettings:
    from streamlab.models.ladder.settings import load_ladder_settings

    return load_ladder_settings([f"rules.max_rungs={len(settings.transcode.ladder)}"])


def load_model(settings: LiveSettings) -> tuple[LadderPredictor, str]:
    """The predictor and where it came from: ``ladder_model_dir`` if given (e.g. a candidate), else
    the registered ``@alias``, else the committed default. Raises ``PredictorUnavailable``."""
    from streamlab.models.ladder.decide import load_predictor
    from streamlab.models.ladder.predictor import LadderPredictor

    if settings.transcode.ladder_model_dir:
        return LadderPredictor.load(Path(settings.transcode.ladder_model_dir)), settings.transcode.ladder_model_dir
    return load_predictor(_ladder_settings(settings).predictor.model_alias)


def decide_rungs(probe: Path, settings: LiveSettings, predictor: LadderPredictor, origin: str) -> dict[str, Any]:
    """The model's rungs for the probe (a few seconds of the feed, as TS): what the child prints."""
    from streamlab.models.ladder.decide import LadderDecideRequest, decide
    from streamlab.streaming.transcode.per_title.features import title_features
    from streamlab.streaming.transcode.per_title.source import inspect_source

    transcode = settings.transcode
    ladder_settings = _ladder_settings(settings)
    facts = inspect_source(probe, settings.packaging.segment_s, float(transcode.fps))
    features = title_features(facts, ladder_settings.predictor)
    request = LadderDecideRequest(features=features, codecs=["h264"], segment_duration_s=settings.packaging.segment_s,
                                  source=str(probe))
    ladder = decide(request, predictor, ladder_settings, origin=origin).ladders[0]
    rungs: list[LiveRung] = []
    for rung in ladder.rungs:
        if rung.height > facts.height or rung.width > facts.width:
            continue  # never above the source
        kbps = max(50, round(rung.bitrate_kbps))
        name = f"{rung.height}p"
        if any(other.name == name for other in rungs):
            name = f"{rung.height}p-{kbps}k"
        rungs.append(LiveRung(name=name, width=rung.width, height=rung.height, bitrate_kbps=kbps))
    if not rungs:
        raise ValueError("the model chose no rung at or below the source size")
    return {
        "rungs": [rung.model_dump() for rung in rungs], "origin": origin, "source_size": [facts.width, facts.height],
        "features": {"si_mean": round(features.si_mean, 2), "ti_mean": round(features.ti_mean, 2),
                     "probe_bpp": round(features.probe_bpp, 4), "cpu_s": round(features.cpu_s, 2)},
    }


class Decider:
    """The child that decides: started with the channel, so the model loads while the feed arrives
    and the probe is recorded; :meth:`choose` hands it the probe and waits (under the timeout,
    counted from its start)."""

    def __init__(self, settings: LiveSettings, overrides: list[str], log: Path) -> None:
        self.settings = settings
        self.overrides = overrides
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0.0

    async def start(self) -> None:
        self.started = time.monotonic()
        command = [sys.executable, "-m", "streamlab.streaming.live.ladder", "--overrides", json.dumps(self.overrides)]
        with self.log.open("ab") as handle:
            self.process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=handle,
            )

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def choose(self, probe: Path | None, source_size: tuple[int, int]) -> LadderChoice:
        """The model's rungs for ``probe`` (``None``: no feed came), or the fixed ladder with the reason."""
        assert self.process is not None and self.process.stdin is not None, "start() first"
        fixed = fixed_rungs(self.settings, *source_size)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a child that gave up already has its answer out
            self.process.stdin.write(f"{probe or ''}\n".encode())
            await self.process.stdin.drain()
        budget = self.settings.transcode.ladder_timeout_s - (time.monotonic() - self.started)
        try:
            out, _ = await asyncio.wait_for(self.process.communicate(), max(0.1, budget))
        except TimeoutError:
            await self.stop()
            return LadderChoice(fixed, "fixed", fallback="timeout",
                                detail=f"no decision within {self.settings.transcode.ladder_timeout_s:g} s")
        return _answer(out, self.process.returncode, fixed, time.monotonic() - self.started)


def _answer(out: bytes, returncode: int | None, fixed: list[LiveRung], took_s: float) -> LadderChoice:
    """The child's one JSON line, read as a choice."""
    try:
        answer = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    except (ValueError, IndexError):
        answer = {}
    if returncode != 0 or "rungs" not in answer:
        return LadderChoice(fixed, "fixed", fallback=answer.get("fallback", "error"),
                            detail=str(answer.get("detail", f"the decision exited with {returncode}")))
    rungs = [LiveRung.model_validate(rung) for rung in answer["rungs"]]
    return LadderChoice(rungs, "model", origin=answer["origin"], decided_in_s=round(took_s, 2), features=answer.get("features", {}))


def main(argv: list[str] | None = None) -> int:
    """The child: load the model, read the probe's path from stdin (an empty line: no feed came),
    decide, print one JSON line (the rungs, or the reason there are none). Without a model it
    answers at once, before the probe exists."""
    from streamlab.models.ladder.predictor import PredictorUnavailable

    parser = argparse.ArgumentParser(description="decide a live channel's rungs from a probe of its feed (path on stdin)")
    parser.add_argument("--overrides", default="[]")
    args = parser.parse_args(argv)
    settings = load_live_settings(json.loads(args.overrides))
    try:
        predictor, origin = load_model(settings)
    except PredictorUnavailable as exc:
        print(json.dumps({"fallback": "unavailable", "detail": str(exc)}), flush=True)
        return 1
    probe = sys.stdin.readline().strip()
    if not probe:
        print(json.dumps({"fallback": "no_feed", "detail": "no feed sent a keyframe"}), flush=True)
        return 1
    try:
        answer = decide_rungs(Path(probe), settings, predictor, origin)
    except Exception as exc:  # noqa: BLE001 - any failure of the decision means the fixed ladder, with its reason
        print(json.dumps({"fallback": "error", "detail": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
