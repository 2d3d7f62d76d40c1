"""The layers contract holds, with no escape hatch (``make test`` also runs ``lint-imports`` first)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout


def test_the_contracts_have_no_ignored_imports_and_cover_every_package() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    for contract in config["contracts"]:
        assert not contract.get("ignore_imports"), contract["name"]
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    packages = {p.name for p in (REPO / "streamlab").iterdir() if (p / "__init__.py").is_file()}
    assert {layer.removeprefix("streamlab.") for layer in layers["layers"]} == packages
