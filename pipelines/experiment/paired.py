"""Paired replay: each experiment viewer's session played again under every other arm, same link, same start.

Why: an A/B test compares *different* viewers, and with tens of them the arms' links differ by more
than the effect. The demo's 48 viewers are one fixed draw (seeded plans, a hash salted by the
experiment name), so every run shows the same imbalance: with BOLA for everyone, the 32 viewers the
hash puts in the learned arm score 0.145 mean QoE and the 16 in the BOLA arm 0.658 (four of the
seven sessions on the 0.25x incident edge fall in the learned arm, three of them stalling for
seconds, and the pre-period, played on the viewer's usual link, cannot explain an incident away).
The A/B then reads learned - BOLA = -0.51 (CUPED -0.37, CI across 0) while, on the same 48 links,
the learned arm beats BOLA by +0.10 to +0.12 (99% CI above 0, 36-37 of 48 viewers better).
Replaying each viewer's own session under the other arms takes the link out of the comparison.

A lab measurement (a real viewer cannot be replayed), to show *beside* the A/B, never instead of
it: the played session and its replays run at different moments, under their own load. Replays are
anonymous to the edge (no arm header) and their beacons go wherever the caller's sink writes (not
the experiment's file, which would count them, nor the detector's stream).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from streamlab.pipelines.experiment.harness import ViewerSession, play_sessions
from streamlab.streaming.experiment import stats
from streamlab.streaming.headless.beacons import BeaconSink
from streamlab.streaming.headless.manifest import PlayerTitle
from streamlab.streaming.headless.player import SessionResult
from streamlab.streaming.headless.policies import AbrPolicy
from streamlab.streaming.headless.settings import HeadlessSettings


@dataclass(frozen=True)
class PairedEffect:
    """One arm against the control over the viewers that have a session in both."""

    arm: str
    vs: str
    difference: stats.Estimate
    """Mean over viewers of the per-viewer QoE difference (arm - control), with its t-interval."""
    wins: int
    """Viewers whose session scored higher under ``arm`` than under ``vs``."""

    def as_dict(self) -> dict[str, object]:
        return {"arm": self.arm, "vs": self.vs, "difference": self.difference.as_dict(), "wins": self.wins,
                "pairs": self.difference.n}


def other_arm_sessions(played: Sequence[ViewerSession],
                       factories: Mapping[str, Callable[[], AbrPolicy]]) -> list[ViewerSession]:
    """For every played session, one per *other* arm: the same viewer, link and start, a session id of its own,
    anonymous to the edge (``identified=False``: the hook assigns no arm, so nothing credits it to the experiment)."""
    return [
        replace(s, viewer=replace(s.viewer, session_id=f"{s.viewer.session_id}-as-{arm}"), arm=arm, factory=factory,
                identified=False)
        for s in played for arm, factory in factories.items() if arm != s.arm
    ]


def replay_other_arms(base_url: str, title: PlayerTitle, played: Sequence[ViewerSession],
                      factories: Mapping[str, Callable[[], AbrPolicy]], settings: HeadlessSettings,
                      sink: BeaconSink) -> tuple[list[ViewerSession], list[SessionResult]]:
    """Play :func:`other_arm_sessions` through ``base_url``; returns the sessions and their results, aligned."""
    sessions = other_arm_sessions(played, factories)
    return sessions, play_sessions(base_url, title, sessions, settings, sink, "paired replay")


def session_qoe(result: SessionResult) -> float | None:
    """The session's mean chunk QoE, as its ``session_end`` beacon states it (the experiment report's ``qoe``);
    ``None`` for a failed or empty session."""
    if result.error is not None or not result.chunks:
        return None
    return float(np.mean([c.qoe for c in result.chunks]))


def paired_effects(sessions: Sequence[ViewerSession], results: Sequence[SessionResult], control: str,
                   confidence: float) -> dict[str, PairedEffect]:
    """Each non-control arm against ``control``, paired by viewer: ``sessions`` and ``results`` aligned (the played
    sessions and their replays, in any order); a viewer's arm is the session's ``arm``."""
    if len(sessions) != len(results):
        raise ValueError(f"{len(sessions)} sessions but {len(results)} results: they must be aligned")
    by_viewer: dict[str, dict[str, float]] = {}
    for session, result in zip(sessions, results, strict=True):
        qoe = session_qoe(result)
        if qoe is not None:
            by_viewer.setdefault(session.viewer.viewer_id, {})[session.arm] = qoe
    arms = sorted({s.arm for s in sessions} - {control})
    effects = {}
    for arm in arms:
        diffs = np.array([q[arm] - q[control] for q in by_viewer.values() if arm in q and control in q])
        effects[arm] = PairedEffect(arm, control, stats.mean_ci(diffs, confidence), int(np.sum(diffs > 0)))
    return effects
