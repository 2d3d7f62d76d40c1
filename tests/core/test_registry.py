"""The one model lifecycle (streamlab.core.registry): log, gate, resolve, load — on a real family.

The ladder family is used because its committed model is small and its metric is "lower is better"
(the gate must respect the direction), with the committed card's CV MAPE as the champion's number.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from streamlab.core import registry, tracking
from streamlab.models.families import FAMILIES, MODULES
from streamlab.models.ladder import family as ladder


def _log(metric: float | None) -> str:
    with tracking.start_run(ladder.FAMILY.experiment, run_name="registry-test"):
        return registry.log_model(ladder.FAMILY, ladder.committed_artifacts(), metric).version


def test_every_family_declares_its_lifecycle_once() -> None:
    assert set(FAMILIES) == {"abr", "ladder", "recsys", "qoe"}
    assert len({f.name for f in FAMILIES.values()}) == 4
    for key, spec in FAMILIES.items():
        assert spec.pyfunc_module == f"streamlab.models.{key}.pyfunc"
        request, response = spec.example()
        assert len(request) >= 1 and len(response.columns) >= 1
        assert spec.metric and spec.artifacts


def test_the_first_version_becomes_champion_and_a_worse_one_is_refused_with_both_numbers(mlflow_store: str) -> None:
    committed = ladder.committed_metric()
    assert committed is not None and math.isfinite(committed)
    first = _log(committed)
    decision = registry.promote(ladder.FAMILY, first)
    assert decision.promoted and registry.resolve(ladder.FAMILY.name) == first

    worse = _log(committed * 2.4)
    refused = registry.promote(ladder.FAMILY, worse)
    assert not refused.promoted
    assert (refused.challenger_metric, refused.champion_metric, refused.champion_version) == (committed * 2.4, committed, first)
    assert f"{committed * 2.4:.4g}" in refused.reason and f"{committed:.4g}" in refused.reason
    assert registry.resolve(ladder.FAMILY.name) == first  # still serving the better one
    client = tracking.configure().MlflowClient()
    assert client.get_model_version(ladder.FAMILY.name, worse).tags["promotion"] == refused.reason

    better = _log(committed / 2)  # lower is better for this family
    assert registry.promote(ladder.FAMILY, better).promoted
    assert registry.resolve(ladder.FAMILY.name) == better

    rows = registry.list_versions(ladder.FAMILY)
    assert [r.version for r in rows] == [better, worse, first]
    assert rows[0].aliases == ("champion",) and rows[1].metric == committed * 2.4


def test_a_version_without_a_metric_never_replaces_one_that_has_it_unless_forced(mlflow_store: str) -> None:
    first = _log(50.0)
    registry.promote(ladder.FAMILY, first)
    unmeasured = _log(None)
    assert not registry.promote(ladder.FAMILY, unmeasured).promoted
    assert registry.promote(ladder.FAMILY, unmeasured, force=True).promoted
    assert registry.resolve(ladder.FAMILY.name) == unmeasured


def test_log_model_refuses_artifacts_outside_the_family_layout(mlflow_store: str) -> None:
    with tracking.start_run(ladder.FAMILY.experiment), pytest.raises(registry.RegistryError, match="missing"):
        registry.log_model(ladder.FAMILY, {"weights": ladder.committed_artifacts()["model"]})


def test_a_version_pins_streamlab_and_loads_the_domain_object(mlflow_store: str) -> None:
    from streamlab.models.ladder.predictor import LadderPredictor

    version = _log(ladder.committed_metric())
    registry.set_alias(ladder.FAMILY, "champion", version)
    folder = Path(tracking.configure().artifacts.download_artifacts(f"models:/{ladder.FAMILY.name}/{version}"))
    requirements = (folder / "requirements.txt").read_text().split()
    assert any(line.startswith("streamlab==") for line in requirements)
    spec = yaml.safe_load((folder / "MLmodel").read_text())
    assert (folder / spec["flavors"]["python_function"]["artifacts"]["model"]["path"]).is_dir()
    assert spec["signature"]["inputs"] and spec["signature"]["outputs"]
    loaded_version, native = registry.load_native(ladder.FAMILY.name, "champion")
    assert loaded_version == version and isinstance(native, LadderPredictor)


def test_resolving_a_missing_alias_names_it(mlflow_store: str) -> None:
    with pytest.raises(registry.RegistryError, match="models:/nothing@champion"):
        registry.resolve("nothing")


def test_committed_models_carry_their_metric() -> None:
    for key, module in MODULES.items():
        if hasattr(module, "committed_artifacts"):
            assert all(path.exists() for path in module.committed_artifacts().values()), key
