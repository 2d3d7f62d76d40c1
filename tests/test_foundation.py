"""Foundation behaviours: config loading and overrides, data fetch, the CLI's error contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from streamlab.core.config import CONFIG_DIR, ConfigError, apply_overrides, load_config
from streamlab.data.fetch import fetch_all, sha256


class _Trainer(BaseModel):
    epochs: int
    lr: float


class _Settings(BaseModel):
    trainer: _Trainer
    name: str


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "demo.yaml").write_text(text)
    return tmp_path


def test_overrides_are_parsed_as_yaml_and_validated(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMLAB_CONFIG_DIR", str(_write(tmp_path, "trainer: {epochs: 1, lr: 0.1}\nname: a\n")))
    settings = load_config("demo", _Settings, ["trainer.epochs=3", "name=b"])
    assert settings.trainer.epochs == 3 and settings.name == "b"


def test_unknown_override_key_is_refused_with_known_keys():
    with pytest.raises(ConfigError, match="unknown key 'trainer.epoch'.*epochs"):
        apply_overrides({"trainer": {"epochs": 1}}, ["trainer.epoch=3"])


def test_plus_prefix_adds_a_new_key():
    assert apply_overrides({"a": {}}, ["+a.b.c=2"]) == {"a": {"b": {"c": 2}}}


def test_bad_value_type_names_the_field(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMLAB_CONFIG_DIR", str(_write(tmp_path, "trainer: {epochs: 1, lr: 0.1}\nname: a\n")))
    with pytest.raises(ConfigError, match="trainer.epochs"):
        load_config("demo", _Settings, ["trainer.epochs=many"])


def test_a_config_file_key_the_settings_do_not_read_is_refused(tmp_path, monkeypatch):
    """A stale or misspelt key in a deployment's YAML must not silently do nothing (pydantic ignores it)."""
    monkeypatch.setenv("STREAMLAB_CONFIG_DIR", str(_write(tmp_path, "trainer: {epochs: 1, lr: 0.1, epoch_days: 3}\nname: a\n")))
    with pytest.raises(ConfigError, match=r"configs/demo.yaml.*unknown key 'trainer.epoch_days'; known keys here: epochs, lr"):
        load_config("demo", _Settings)


def test_an_added_override_the_settings_do_not_read_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMLAB_CONFIG_DIR", str(_write(tmp_path, "trainer: {epochs: 1, lr: 0.1}\nname: a\n")))
    with pytest.raises(ConfigError, match="unknown key 'trainer.window_days'"):
        load_config("demo", _Settings, ["+trainer.window_days=30"])


class _Grid(BaseModel):
    crf: list[int]


class _Ladder(BaseModel):
    rungs: int


class _Either(BaseModel):
    shape: _Grid | _Ladder


def test_a_union_of_sections_reads_a_key_any_alternative_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMLAB_CONFIG_DIR", str(_write(tmp_path, "shape: {rungs: 3}\n")))
    assert load_config("demo", _Either).shape == _Ladder(rungs=3)
    (tmp_path / "demo.yaml").write_text("shape: {rungs: 3, steps: 2}\n")
    with pytest.raises(ConfigError, match="unknown key 'shape.steps'; known keys here: rungs"):
        load_config("demo", _Either)


class _NameOnly(BaseModel):
    """A reader of one part of a file others read too says so explicitly."""

    model_config = ConfigDict(extra="ignore")
    name: str


def test_a_partial_reader_declared_with_extra_ignore_reads_its_part(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMLAB_CONFIG_DIR", str(_write(tmp_path, "trainer: {epochs: 1, lr: 0.1}\nname: a\n")))
    assert load_config("demo", _NameOnly).name == "a"


_FULL_READERS = {  # each shipped YAML and the settings model that reads all of it
    "abr": ("streamlab.training.abr.settings", "TrainSettings"),
    "catalog": ("streamlab.streaming.catalog_page.settings", "CatalogPageSettings"),
    "data": ("streamlab.data.fetch", "DataSettings"),
    "delivery": ("streamlab.streaming.delivery.settings", "DeliverySettings"),
    "demo": ("streamlab.pipelines.demo.run", "DemoSettings"),
    "drm": ("streamlab.streaming.drm.settings", "DrmSettings"),
    "edge": ("streamlab.streaming.edge.settings", "EdgeSettings"),
    "experiment": ("streamlab.streaming.experiment.settings", "ExperimentSettings"),
    "features": ("streamlab.features.settings", "FeatureSettings"),
    "headless": ("streamlab.streaming.headless.settings", "HeadlessSettings"),
    "ladder": ("streamlab.models.ladder.settings", "LadderOptimizerSettings"),
    "live": ("streamlab.streaming.live.settings", "LiveSettings"),
    "peak": ("streamlab.pipelines.peak.settings", "PeakSettings"),
    "project": ("streamlab.core.project", "ProjectSettings"),
    "qoe": ("streamlab.models.qoe.settings", "QoeSettings"),
    "recsys": ("streamlab.models.recsys.settings", "RecsysSettings"),
    "serving": ("streamlab.serving.settings", "ServingSettings"),
    "streaming": ("streamlab.streaming.ingest.settings", "StreamingSettings"),
}


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
def test_every_shipped_config_is_read_whole_by_its_settings(name):
    """Every key of every shipped YAML is read by its settings model: loading it would raise otherwise."""
    import importlib

    assert name in _FULL_READERS, f"configs/{name}.yaml: name the settings model that reads it here"
    module, model = _FULL_READERS[name]
    load_config(name, getattr(importlib.import_module(module), model))


def test_override_without_equals_is_refused():
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["epochs"])


def test_fetch_is_idempotent_and_verified(raw_dir):
    report = fetch_all(raw_dir)
    assert report.written == []
    names = {p.name for p in report.verified}
    assert {"ml-100k.inter", "bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4", "video_size_5"} <= names
    assert len(list((raw_dir / "abr" / "train_traces").iterdir())) == 127


def test_fetch_replaces_a_corrupted_file(raw_dir, tmp_path):
    import shutil

    copy = tmp_path / "raw"
    shutil.copytree(raw_dir, copy)
    damaged = copy / "ml-100k" / "ml-100k.user"
    good = sha256(damaged)
    damaged.write_text("garbage")
    report = fetch_all(copy)
    assert damaged in report.written and sha256(damaged) == good


def test_cli_reports_errors_in_one_line_and_exit_2():
    result = subprocess.run(
        [sys.executable, "-m", "streamlab.cli", "data", "fetch", "nonexistent.key=1"],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: override 'nonexistent.key=1'")
    assert "Traceback" not in result.stderr
