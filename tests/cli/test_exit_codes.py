"""The command line's contract: exit 0/1/2, one ``error:`` line, a traceback only on request."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from streamlab.cli import GROUPS, MODEL_GROUPS, app


def _run(args: list[str], tmp_path: Path, extra: str = "") -> subprocess.CompletedProcess:
    """The real console entry point (``main``) in a fresh interpreter, optionally with a command added first."""
    script = textwrap.dedent(
        f"""
        import sys
        from streamlab.cli import app, main
        {textwrap.indent(textwrap.dedent(extra), "        ").strip()}
        sys.argv = ["streamlab", *{args!r}]
        main()
        """
    )
    env = {"STREAMLAB_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)


CRASHING_DUCKDB_COMMAND = """
@app.command("boom")
def boom() -> None:
    import duckdb

    duckdb.connect().execute("select 1")
    raise ValueError("cannot convert float NaN to integer")
"""


def test_an_unexpected_exception_after_duckdb_exits_1_with_one_error_line(tmp_path: Path) -> None:
    done = _run(["boom"], tmp_path, CRASHING_DUCKDB_COMMAND)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unexpected ValueError: cannot convert float NaN")
    assert "Traceback" not in done.stderr + done.stdout
    log = tmp_path / ".state" / "logs" / "cli-errors.log"
    assert "Traceback" in log.read_text() and "ValueError" in log.read_text()


def test_debug_prints_the_traceback(tmp_path: Path) -> None:
    done = _run(["--debug", "boom"], tmp_path, CRASHING_DUCKDB_COMMAND)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and done.stderr.strip().splitlines()[-1].startswith("error: unexpected ValueError")


def test_a_streamlab_error_is_a_runtime_failure_exit_1(tmp_path: Path) -> None:
    extra = """
    from streamlab.core.errors import StreamlabError
    @app.command("missing")
    def missing() -> None:
        raise StreamlabError("model abr-policy@champion is not registered")
    """
    done = _run(["missing"], tmp_path, extra)
    assert (done.returncode, done.stderr.strip()) == (1, "error: model abr-policy@champion is not registered")


def test_a_bad_option_is_a_usage_error_exit_2(tmp_path: Path) -> None:
    done = _run(["abr", "evaluate", "--no-such-option"], tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: No such option: --no-such-option") and "streamlab abr evaluate --help" in line


def test_a_bad_config_override_is_a_usage_error_exit_2(tmp_path: Path) -> None:
    done = _run(["data", "fetch", "nonexistent.key=1"], tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "nonexistent.key" in line


def test_version_and_help(tmp_path: Path) -> None:
    from streamlab import __version__

    assert _run(["--version"], tmp_path).stdout.strip() == f"streamlab {__version__}"
    shown = _run(["--help"], tmp_path)
    assert shown.returncode == 0
    for name in [*GROUPS, "demo"]:
        assert f" {name} " in shown.stdout, name


def test_every_group_is_listed_once_and_model_families_share_the_registry_verbs() -> None:
    import typer.main

    command = typer.main.get_command(app)
    assert sorted(command.commands) == sorted([*GROUPS, "demo"])
    for name in MODEL_GROUPS:
        verbs = set(command.commands[name].commands)
        assert {"train", "promote", "versions"} <= verbs, (name, verbs)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_each_group_module_is_imported_by_name(group: str) -> None:
    """A group whose module is missing breaks ``import streamlab.cli`` instead of vanishing from --help."""
    import importlib

    module = importlib.import_module(f"streamlab.cli.{group}")
    assert GROUPS[group] is module.app
