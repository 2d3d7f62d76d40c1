"""Models follow their registry alias; a version that cannot load is refused while the old one serves."""

from __future__ import annotations

import pytest

from streamlab.models.abr.decide import decide
from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT, LearnedPolicy
from streamlab.serving.registry import AliasWatcher, ModelLoadError, ServedModel, resolve_alias
from tests.serving.conftest import ABR_MODEL, move_alias, register_abr_version
from tests.serving.conftest import ABR_REQUEST as REQUEST



def test_model_is_loaded_by_name_and_alias(abr_registry: str) -> None:
    served = ServedModel(ABR_MODEL, "champion")
    assert not served.ready
    assert served.poll() is True
    assert served.current.version == abr_registry
    assert isinstance(served.current.model, LearnedPolicy)
    decision = decide(served.current.model, REQUEST)
    assert 0 <= decision.rung < 4 and decision.reason.startswith("learned")


def test_unknown_alias_is_reported_not_raised(abr_registry: str) -> None:
    served = ServedModel(ABR_MODEL, "no-such-alias")
    assert served.poll() is False
    status = served.status()
    assert not status.ready and "models:/abr-policy@no-such-alias" in status.last_error


def test_resolve_alias_names_the_missing_model(mlflow_store: str) -> None:
    with pytest.raises(ModelLoadError, match="models:/nothing-here@champion"):
        resolve_alias("nothing-here", "champion")


def test_corrupt_version_is_refused_and_previous_keeps_serving(abr_registry: str, corrupt_checkpoint) -> None:
    served = ServedModel(ABR_MODEL, "champion")
    served.poll()
    good = served.current
    broken = register_abr_version(corrupt_checkpoint)  # moves champion to the broken version
    assert served.poll() is False
    status = served.status()
    assert status.version == good.version and status.ready
    assert status.refused_version == broken
    assert "refused at load" in status.last_error and "non-finite" in status.last_error
    assert served.current is good  # the same object answers
    assert decide(served.current.model, REQUEST).reason.startswith("learned")
    assert served.poll() is False and served.load_failures == 1  # not retried until the alias moves


def test_new_version_is_swapped_in_when_the_alias_moves(abr_registry: str) -> None:
    served = ServedModel(ABR_MODEL, "champion")
    served.poll()
    first = served.current
    second = register_abr_version(DEFAULT_CHECKPOINT, alias=None)
    assert served.poll() is False
    move_alias(second)
    watcher = AliasWatcher([served], interval_s=0.05).start()
    try:
        import time

        deadline = time.monotonic() + 20
        while served.current.version != second and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watcher.stop()
    assert served.current.version == second
    assert first.version != second and served.status().last_error is None
