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
