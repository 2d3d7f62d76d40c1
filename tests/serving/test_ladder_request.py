"""``ladder`` without HTTP: which paths a request may name, what it must send, and the same ladder as the optimizer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from streamlab.core import project
from streamlab.models.ladder.settings import load_ladder_settings
from streamlab.models.ladder.wire import LadderRequest
from streamlab.serving.ladder import (
    LadderEndpoint,
    PathOutsideRoots,
    SourceRefused,
    allowed_roots,
    probe_path,
    resolve_request_path,
)


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


def test_a_relative_path_climbing_out_is_refused(root: Path) -> None:
    with pytest.raises(PathOutsideRoots, match="outside the allowed roots"):
        resolve_request_path("../../etc/passwd", [root])
    with pytest.raises(PathOutsideRoots, match="/etc/passwd"):
        resolve_request_path(str(root / ".." / ".." / ".." / "etc" / "passwd"), [root])


def test_a_symlink_pointing_out_of_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"not yours")
    (root / "innocent.mp4").symlink_to(outside)
    with pytest.raises(PathOutsideRoots, match="secret.mp4"):
        resolve_request_path(str(root / "innocent.mp4"), [root])


def test_a_path_with_a_nul_byte_or_a_symlink_loop_is_refused(root: Path) -> None:
    with pytest.raises(SourceRefused, match="cannot be resolved"):
        resolve_request_path(str(root / "a\x00b.mp4"), [root])
    (root / "loop.mp4").symlink_to(root / "loop.mp4")
    with pytest.raises(SourceRefused, match="cannot be resolved"):
        resolve_request_path(str(root / "loop.mp4"), [root])


def test_a_home_relative_path_is_not_expanded(root: Path) -> None:
    with pytest.raises(PathOutsideRoots):
        resolve_request_path("~/.bashrc", [root])


def test_a_missing_file_under_the_root_is_refused(root: Path) -> None:
    with pytest.raises(SourceRefused, match="does not exist"):
        resolve_request_path(str(root / "nope.mp4"), [root])


def test_a_file_that_is_not_a_video_is_refused_before_any_prediction(root: Path) -> None:
    text = root / "notes.mp4"
    text.write_text("a shopping list, not a video\n")
    path = resolve_request_path(str(text), [root])
    with pytest.raises(SourceRefused, match="cannot be read"):
        probe_path(path, load_ladder_settings(), 60.0)


def test_the_default_roots_are_the_raw_data_and_the_media_root() -> None:
    assert allowed_roots([]) == [project.raw_data_dir().resolve(), project.media_root().resolve()]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "exactly one of 'path'"),
        ({"path": "a.mp4", "features": {}}, "features"),
        ({"path": "a.mp4", "codecs": ["h264", "h264"]}, "must not repeat"),
        ({"path": "a.mp4", "codecs": ["vp9"]}, "codecs"),
        ({"path": ""}, "path"),
    ],
)
def test_a_malformed_request_says_what_is_wrong(body: dict, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        LadderRequest.model_validate(body)


def test_served_ladder_equals_the_optimizers_predicted_ladder(mlflow_store, raw_dir: Path, tmp_path: Path) -> None:
    """Path in, both codecs out: exactly ``optimize_ladder(path, "predicted", codec)`` (one probe, not two)."""
    from streamlab.models.ladder.predictor import DEFAULT_DIR, LadderPredictor
    from streamlab.serving.settings import LadderServingSettings
    from streamlab.streaming.transcode.per_title.optimize import optimize_ladder

    source = tmp_path / "carphone.mp4"
    shutil.copy(raw_dir / "videos" / "carphone_pristine.mp4", source)
    endpoint = LadderEndpoint(LadderServingSettings(allowed_roots=[tmp_path]), load_ladder_settings())
    predictor = LadderPredictor.load(DEFAULT_DIR)
    answer = endpoint.answer(LadderRequest(path=str(source)), predictor, "test", "1")
    served = answer.ladders(str(source), "test")
    assert answer.source == "path" and [ladder.codec for ladder in served] == ["h264", "av1"]
    for ladder in served:
        # the server only predicts: verifying the top rung is the ingesting side's (service_client.verified)
        expected = optimize_ladder(source, "predicted", ladder.codec, ["verify.enabled=false"])
        assert ladder.rungs == expected.rungs

    # the same features sent as numbers (no path) give the same rungs
    again = endpoint.answer(LadderRequest(features=answer.features), predictor, "test", "1")
    assert again.source == "features"
    assert [r.rungs for r in again.ladders("<features>", "test")] == [r.rungs for r in served]
