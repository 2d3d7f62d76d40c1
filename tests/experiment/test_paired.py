"""Paired replay: every viewer's session under the other arms, and the per-viewer difference it yields."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from streamlab.models.abr.traces import Trace
from streamlab.pipelines.experiment.arms import headless_factories
from streamlab.pipelines.experiment.harness import ViewerSession
from streamlab.pipelines.experiment.paired import other_arm_sessions, paired_effects, session_qoe
from streamlab.streaming.headless.beacons import ViewerContext
from streamlab.streaming.headless.player import ChunkRecord, SessionResult
from streamlab.streaming.headless.policies import BolaPolicy
from tests.headless.conftest import TITLE, headless_media, stack  # noqa: F401 - the headless fixtures

LINK = Trace("link", np.array([0.0, 100.0]), np.array([1.0, 1.0]))


def _session(viewer: int, arm: str) -> ViewerSession:
    context = ViewerContext(f"v{viewer}", f"v{viewer}-exp", "title", "web", "eu", "edge")
    return ViewerSession(context, LINK, 10.0 * viewer, arm, BolaPolicy, 0.0, identified=True)


def _result(arm: str, qoes: list[float], error: str | None = None) -> SessionResult:
    chunks = [ChunkRecord(i, 0, 300.0, 1000, 0.1, 1.0, 4.0, 0.0, q, "local", "") for i, q in enumerate(qoes)]
    return SessionResult(arm, "link", 0.1, chunks=chunks, error=error)


def test_each_played_session_is_replayed_once_under_every_other_arm_on_its_own_link_anonymously() -> None:
    played = [_session(0, "bola"), _session(1, "learned")]
    factories = {"bola": BolaPolicy, "learned": BolaPolicy}
    replays = other_arm_sessions(played, factories)
    assert [(r.viewer.viewer_id, r.arm) for r in replays] == [("v0", "learned"), ("v1", "bola")]
    for original, replay in zip(played, replays, strict=True):
        assert (replay.trace, replay.start_s) == (original.trace, original.start_s)
        assert replay.viewer.session_id != original.viewer.session_id
        assert not replay.identified  # the edge's hook names no arm: nothing credits the replay to the experiment


def test_paired_difference_sees_the_policy_where_an_unlucky_split_of_links_hides_it() -> None:
    # The learned arm drew the bad links (QoE ~0 under either policy), BOLA the good ones (~1); on every
    # link the learned policy scores 0.1 more. Unpaired, learned loses by ~0.9; paired, it wins by 0.1.
    links = {0: 0.0, 1: 0.05, 2: 0.02, 3: 1.0, 4: 0.97}
    arms = {0: "learned", 1: "learned", 2: "learned", 3: "bola", 4: "bola"}
    sessions, results = [], []
    for viewer, base in links.items():
        for arm, bonus in (("bola", 0.0), ("learned", 0.1)):
            sessions.append(_session(viewer, arm))
            results.append(_result(arm, [base + bonus] * 3))
    played = [q for s, r in zip(sessions, results, strict=True) if s.arm == arms[int(s.viewer.viewer_id[1:])]
              for q in [session_qoe(r)]]
    unpaired = np.mean(played[:3]) - np.mean(played[3:])
    assert unpaired < -0.8
    effect = paired_effects(sessions, results, "bola", 0.99)["learned"]
    assert effect.vs == "bola" and effect.difference.n == 5 and effect.wins == 5
    assert abs(effect.difference.value - 0.1) < 1e-9


def test_a_failed_session_drops_its_viewer_from_the_pairs() -> None:
    sessions = [_session(0, "bola"), _session(0, "learned"), _session(1, "bola"), _session(1, "learned")]
    results = [_result("bola", [0.5]), _result("learned", [0.7], error="edge stalled"),
               _result("bola", [0.5, 0.5]), _result("learned", [0.6, 0.8])]
    assert session_qoe(results[1]) is None
    effect = paired_effects(sessions, results, "bola", 0.99)["learned"]
    assert effect.difference.n == 1 and abs(effect.difference.value - 0.2) < 1e-9


@pytest.mark.slow
def test_replays_through_the_stack_pair_every_viewer_outside_the_experiment(experiment_home, held, stack) -> None:  # noqa: F811
    from streamlab.core.registry import resolve
    from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
    from streamlab.pipelines.experiment.harness import play_experiment, plan_viewers
    from streamlab.pipelines.experiment.paired import replay_other_arms
    from streamlab.streaming.experiment.definition import beacons_path, define, save
    from streamlab.streaming.experiment.settings import load_experiment_settings
    from streamlab.streaming.headless.beacons import BeaconSink
    from streamlab.streaming.headless.manifest import binge, load_title
    from streamlab.streaming.headless.settings import load_headless_settings
    from tests.serving.conftest import register_abr_version

    register_abr_version(DEFAULT_CHECKPOINT, "champion")
    settings = load_experiment_settings()
    experiment = define("http-paired", "bola,learned", "50/50", "qoe", settings, resolve_version=resolve)
    save(experiment)
    player = load_headless_settings(["time_scale=30", "concurrency=8"])
    outcome = play_experiment(experiment, stack.edge_url, TITLE, held[0], 8, player, log_exposures=False)
    factories = headless_factories(experiment)
    _, played = plan_viewers(experiment, held[0], 8, 0, settings.pre_period_s, factories)  # what play_experiment played
    assert [s.arm for s in played] == [r.policy for r in outcome.results]
    before = beacons_path(experiment.name).read_text()
    with httpx.Client(trust_env=False) as client:
        title = binge(load_title(client, stack.edge_url, TITLE), player.episodes)
    sink = BeaconSink(experiment_home / "paired.jsonl")
    try:
        replays, replayed = replay_other_arms(stack.edge_url, title, played, factories, player, sink)
    finally:
        sink.close()
    assert [r.error for r in replayed] == [None] * 8
    assert all(p.arm != q.arm == r.policy for p, q, r in zip(played, replays, replayed, strict=True))
    assert all(c.arms is None for r in replayed for c in r.chunks)  # anonymous: the edge named no arm
    assert beacons_path(experiment.name).read_text() == before  # the experiment's file never sees a replay
    effect = paired_effects([*played, *replays], [*outcome.results, *replayed], "bola", 0.99)["learned"]
    assert effect.difference.n == 8
