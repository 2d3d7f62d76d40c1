"""The experiment over real HTTP: headless players in their arms against the real delivery stack.

Small (the statistics are accepted in ``test_simulated_ab``): this checks the wiring, that each
viewer plays the arm its id hashes to, every session's beacon reaches the experiment and is
attributed to that arm, and the report reads them.
"""

from __future__ import annotations

import json

import pytest

from streamlab.pipelines.experiment.harness import play_experiment
from streamlab.pipelines.experiment.report import build_report
from streamlab.streaming.experiment.definition import define, exposures_path, save
from streamlab.streaming.experiment.settings import load_experiment_settings
from tests.headless.conftest import TITLE, headless_media, stack  # noqa: F401 - the headless fixtures

pytestmark = pytest.mark.slow

VIEWERS = 8


def test_headless_viewers_play_their_arm_and_their_beacons_reach_it(experiment_home, held, stack) -> None:  # noqa: F811
    from streamlab.core.registry import resolve
    from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
    from streamlab.streaming.headless.settings import load_headless_settings
    from tests.serving.conftest import register_abr_version

    register_abr_version(DEFAULT_CHECKPOINT, "champion")
    settings = load_experiment_settings()
    experiment = define("http-ab", "bola,learned", "50/50", "qoe", settings, resolve_version=resolve)
    save(experiment)
    headless = load_headless_settings(["time_scale=20", f"concurrency={VIEWERS}"])
    results = play_experiment(experiment, stack.edge_url, TITLE, held[0], VIEWERS, headless)
    assert [r.error for r in results] == [None] * VIEWERS

    exposures = [json.loads(line) for line in exposures_path("http-ab").read_text().splitlines()]
    assert len(exposures) == VIEWERS
    assert all(row["arm"] == experiment.assign(row["viewer_id"]).name for row in exposures)
    assert sorted(r.policy for r in results) == sorted(row["arm"] for row in exposures)
    learned = [r for r in results if r.policy == "learned"]
    assert all(c.source == "local" for r in learned for c in r.chunks)

    report = build_report(experiment, settings)
    by_arm = {arm: sum(1 for row in exposures if row["arm"] == arm) for arm in ("bola", "learned")}
    assert {arm: body["sessions"] for arm, body in report["arms"].items()} == by_arm
    assert report["verdict"]["decision"] == "continue"  # 8 viewers: far below min_sessions_per_arm
