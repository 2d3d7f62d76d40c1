"""Beacons that carry their arm are attributed without an exposure log, but only to the viewer's own arm."""

from __future__ import annotations

import json

from streamlab.pipelines.experiment.outcomes import collect
from streamlab.streaming.experiment.definition import beacons_path, define, exposures_path, save
from streamlab.streaming.experiment.settings import load_experiment_settings


def _summary(viewer: str, session: str, timestamp: float, qoe: float, **extra: object) -> dict:
    return {"kind": "session_end", "viewer_id": viewer, "session_id": session, "title_id": "bbb", "timestamp": timestamp,
            "device": "desktop", "region": "lab", "edge": "edge", "started_at": timestamp - 60, "startup_s": 1.0,
            "play_s": 60.0, "rebuffer_s": 0.0, "avg_bitrate_kbps": 1000.0, "chunk_qoe_mean": qoe, **extra}


def test_sessions_are_attributed_by_the_arm_their_beacons_carry(experiment_home) -> None:
    experiment = define("beacon-arms", "control,treatment", "50/50", "qoe", load_experiment_settings(), started_at=1000.0)
    save(experiment)
    rows, own = [], {}
    for i in range(40):
        viewer = f"v{i}"
        own[viewer] = arm = experiment.assign(viewer).name
        other = "treatment" if arm == "control" else "control"
        rows.append(_summary(viewer, f"{viewer}-s1", 2000.0, 1.0 if arm == "control" else 2.0,
                             arms={experiment.name: arm, "another-test": "x"}))
        rows.append(_summary(viewer, f"{viewer}-s2", 2000.0, 99.0,  # header form, lying: never counted
                             arms=f"another-test=x;{experiment.name}={other}"))
        rows.append(_summary(viewer, f"{viewer}-pre", 500.0, 7.0, arms={experiment.name: arm}))  # before the start
        rows.append(_summary(viewer, f"{viewer}-s3", 2000.0, 99.0))  # no arm, no exposure: ignored
    beacons = beacons_path(experiment.name)
    beacons.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert not exposures_path(experiment.name).exists()

    outcomes = collect(experiment, exposures_path(experiment.name), [beacons], pre_period_s=10_000.0)
    for arm, expected in (("control", 1.0), ("treatment", 2.0)):
        out = outcomes[arm]
        assert sorted(out.viewers) == sorted(v for v, a in own.items() if a == arm)
        assert out.sessions == len(out.viewers)  # one session each: the liar's and the unlabelled ones are not
        assert out.metrics["qoe"] == [expected] * len(out.viewers)
        assert out.pre["qoe"] == [7.0] * len(out.viewers)  # the pre-period session is the covariate, not a sample
