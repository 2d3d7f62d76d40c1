"""``abr/decide`` answers with the arm a request names: its pinned version or its heuristic, over real HTTP.

One server on loopback, one registry with two ABR versions (the committed checkpoint registered
twice: version 1 at ``champion``, version 2 at ``challenger``), one experiment in a temporary state
dir whose arms pin version 1, version 2, BOLA and a version that does not exist.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT

from .conftest import ABR_MODEL, ABR_REQUEST, free_port, register_abr_version

ARMS = "champion,challenger,bola,broken"


@pytest.fixture()
def arm_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_store: str):
    """(server base URL, experiment name): the server reads experiments from ``tmp_path``'s state dir."""
    from streamlab.core import project, registry
    from streamlab.serving.server import running_server
    from streamlab.streaming.experiment.definition import define, save
    from streamlab.streaming.experiment.settings import load_experiment_settings

    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    project.settings.cache_clear()
    assert register_abr_version(DEFAULT_CHECKPOINT, "champion") == "1"
    assert register_abr_version(DEFAULT_CHECKPOINT, "challenger") == "2"
    settings = load_experiment_settings(['+targets.broken={"model": "abr-policy", "ref": "99"}'])
    experiment = define("abr-arms", ARMS, "25/25/25/25", "qoe", settings, resolve_version=registry.resolve)
    save(experiment)
    overrides = [f"port={free_port()}", "models.recommend.enabled=false", "models.ladder.enabled=false",
                 "models.qoe.enabled=false", "abr.max_pinned_versions=2"]
    with running_server(overrides) as server:
        yield server.url.rstrip("/"), experiment.name
    project.settings.cache_clear()


def decide(client: httpx.Client, base: str, **arm: str) -> httpx.Response:
    return client.post(f"{base}/abr/decide", json={**ABR_REQUEST.model_dump(exclude_none=True), **arm})


@pytest.mark.slow
def test_each_arm_is_answered_by_its_own_target(arm_server) -> None:
    base, name = arm_server
    with httpx.Client(trust_env=False, timeout=60.0) as client:
        plain = decide(client, base).json()
        assert plain["model_version"] == "1" and plain["arm"] is None  # no arm named: the champion, as before

        champion = decide(client, base, experiment=name, arm="champion").json()
        challenger = decide(client, base, experiment=name, arm="challenger").json()
        assert (champion["arm"], champion["model_version"], champion["source"]) == ("champion", "1", "model")
        assert (challenger["arm"], challenger["model_version"], challenger["source"]) == ("challenger", "2", "model")
        assert challenger["experiment"] == name

        bola = decide(client, base, experiment=name, arm="bola").json()
        assert (bola["arm"], bola["policy"], bola["model_version"]) == ("bola", "bola", None)

        broken = decide(client, base, experiment=name, arm="broken")
        assert broken.status_code == 200  # a version that cannot load never fails the player
        body = broken.json()
        assert body["arm"] == "broken" and body["model_version"] == "1"
        assert "models:/abr-policy/99 refused at load" in body["reason"] and "champion version 1 answered" in body["reason"]

        for bad, needle in (({"experiment": name, "arm": "nope"}, "no arm 'nope'"),
                            ({"experiment": "no-such-test", "arm": "champion"}, "unknown experiment"),
                            ({"experiment": name}, "experiment and arm go together")):
            refused = decide(client, base, **bad)
            assert refused.status_code == 400, refused.text
            assert needle in refused.text

        metrics = client.get(f"{base}/metrics").text
        assert 'streamlab_abr_arm_decisions_total{arm="challenger",experiment="abr-arms",outcome="ok"}' in metrics
        assert 'arm="broken",experiment="abr-arms",outcome="arm_model_error"' in metrics

    # The headless harness's players in served mode: each arm's client names its arm, the server answers.
    from streamlab.pipelines.experiment.arms import served_factories
    from streamlab.streaming.experiment.definition import define, load
    from streamlab.streaming.experiment.errors import ExperimentError
    from streamlab.streaming.experiment.settings import load_experiment_settings

    factories = served_factories(load(name), base, timeout_ms=10_000)
    choices = {arm: factories[arm]().choose(ABR_REQUEST) for arm in ("champion", "challenger")}
    assert {arm: (c.source, c.model_version) for arm, c in choices.items()} == {
        "champion": ("model", "1"), "challenger": ("model", "2")}
    unsaved = define("not-started", "control,treatment", "50/50", "qoe", load_experiment_settings())
    with pytest.raises(ExperimentError, match="refused arm 'control' of 'not-started': HTTP 400"):
        served_factories(unsaved, base, timeout_ms=10_000)  # before any session plays


def test_pinned_versions_are_loaded_once_and_bounded(mlflow_store: str) -> None:
    from streamlab.serving.registry import ModelLoadError, PinnedModels

    register_abr_version(DEFAULT_CHECKPOINT, "champion")
    register_abr_version(DEFAULT_CHECKPOINT, None)
    pinned: PinnedModels = PinnedModels(capacity=1)
    first = pinned.get(ABR_MODEL, "1")
    assert pinned.get(ABR_MODEL, "1") is first and pinned.loads == 1
    assert pinned.get(ABR_MODEL, "2").version == "2"
    assert pinned.versions() == [f"models:/{ABR_MODEL}/2"] and not pinned.cached(ABR_MODEL, "1")
    for _ in range(2):
        with pytest.raises(ModelLoadError, match="99 refused at load"):
            pinned.get(ABR_MODEL, "99")
    assert pinned.loads == 2 and pinned.cached(ABR_MODEL, "99")  # the failure is remembered, not retried
