"""``streamlab serve register-defaults``: a fresh store gets the committed models once, never over a trained one."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from streamlab.cli.serve import app

pytestmark = pytest.mark.slow


def test_register_defaults_fills_a_fresh_store_and_then_leaves_it_alone(mlflow_store) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["register-defaults", "--models", "ladder,qoe"])
    assert first.exit_code == 0, first.output
    assert "ladder-model@champion: registered the committed default as version 1" in first.output
    assert "qoe-detector@champion: registered the committed default as version 1" in first.output
    again = runner.invoke(app, ["register-defaults", "--models", "ladder"])
    assert "ladder-model@champion: already version 1, left alone" in again.output


def test_register_defaults_names_an_unknown_model(mlflow_store) -> None:
    result = CliRunner().invoke(app, ["register-defaults", "--models", "abr,toaster"])
    assert result.exit_code != 0 and "toaster" in str(result.exception)


def _older_committed_abr(tmp_path) -> str:
    """An ``abr-policy`` champion registered as a committed default by an older checkout: other bytes, and none of
    the tags today's registration writes (so the origin comes from its run's name, the digest from its files)."""
    import json
    import shutil

    from streamlab.core import registry, tracking
    from streamlab.models.abr import family as abr_family
    from streamlab.serving.registration import register_abr_checkpoint

    old = tmp_path / "old" / "learned.npz"
    old.parent.mkdir()
    shutil.copy(abr_family.DEFAULT_CHECKPOINT, old)
    card = json.loads(abr_family.DEFAULT_CHECKPOINT.with_suffix(".json").read_text())
    card["planner"] = {**card.get("planner", {}), "older": True}
    old.with_suffix(".json").write_text(json.dumps(card))
    version = register_abr_checkpoint(old)
    client = tracking.configure().MlflowClient()
    for tag in (registry.ORIGIN_TAG, registry.DIGEST_TAG):
        client.delete_model_version_tag("abr-policy", version, tag)
    return version


def test_register_defaults_says_when_the_champion_is_an_older_committed_model_and_how_to_serve_this_one(
        mlflow_store, tmp_path) -> None:
    from streamlab.cli import app as root

    assert _older_committed_abr(tmp_path) == "1"
    runner = CliRunner()
    stale = runner.invoke(app, ["register-defaults", "--models", "abr"])
    assert stale.exit_code == 0, stale.output
    assert "abr-policy@champion: already version 1, left alone" in stale.output
    assert "note: abr-policy@champion (v1) is an older committed model than this checkout's" in stale.output
    # the note's two commands put this checkout's committed model at @champion, and the note goes away
    added = runner.invoke(app, ["register-defaults", "--models", "abr", "--alias", "committed"])
    assert "abr-policy@committed: registered the committed default as version 2" in added.output, added.output
    moved = runner.invoke(root, ["abr", "promote", "2", "--alias", "champion", "--force"])
    assert moved.exit_code == 0, moved.output
    again = runner.invoke(app, ["register-defaults", "--models", "abr"])
    assert "abr-policy@champion: already version 2, left alone" in again.output
    assert "note:" not in again.output


def test_a_champion_registered_from_other_files_is_not_called_stale(mlflow_store, tmp_path) -> None:
    from streamlab.models.abr import family as abr_family
    from streamlab.serving.registration import register_abr_checkpoint

    other = tmp_path / "trained" / "learned.npz"
    other.parent.mkdir()
    other.write_bytes(abr_family.DEFAULT_CHECKPOINT.read_bytes())
    other.with_suffix(".json").write_text(abr_family.DEFAULT_CHECKPOINT.with_suffix(".json").read_text() + "\n")
    register_abr_checkpoint(other)
    result = CliRunner().invoke(app, ["register-defaults", "--models", "abr"])
    assert "already version 1, left alone" in result.output and "note:" not in result.output
