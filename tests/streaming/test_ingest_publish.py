"""Atomic publishing: a title appears whole or not at all, and replacing one never shows a gap."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import streamlab.streaming.ingest.pipeline as pipeline
from streamlab.streaming.catalog import published_dir, read_title
from streamlab.streaming.ingest.errors import TitleExists
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.publish import publish, staging_dir, sweep_stale_staging
from streamlab.streaming.transcode.encode import EncodeFailed


class InjectedFailure(RuntimeError):
    pass


def test_failure_after_packaging_wrote_files_leaves_nothing(
    clip_360p_silent, fast, media_root, monkeypatch, assert_nothing_published
) -> None:
    written: list[Path] = []

    def package_then_fail(title_dir: Path, *args, **kwargs):
        pipeline_package(title_dir, *args, **kwargs)
        written.extend(title_dir.rglob("*"))
        raise InjectedFailure("disk full while writing the manifest")

    pipeline_package = pipeline.package_title
    monkeypatch.setattr(pipeline, "package_title", package_then_fail)
    with pytest.raises(InjectedFailure):
        ingest_title(clip_360p_silent, "t1", overrides=fast, media_root=media_root)
    assert any(p.name == "master.m3u8" for p in written), "the failure must come after real output was written"
    assert_nothing_published()


def test_source_vanishing_mid_ingest_fails_the_encode_and_leaves_nothing(
    clip_360p_silent, source_dir, fast, media_root, monkeypatch, assert_nothing_published
) -> None:
    doomed = source_dir / "doomed.mp4"
    doomed.write_bytes(clip_360p_silent.read_bytes())
    real_run_encodes = pipeline.run_encodes

    def delete_source_then_encode(jobs, *args, **kwargs):
        doomed.unlink()  # e.g. an upload cleaned up while the ladder was being chosen
        return real_run_encodes(jobs, *args, **kwargs)

    monkeypatch.setattr(pipeline, "run_encodes", delete_source_then_encode)
    with pytest.raises(EncodeFailed, match="doomed.mp4"):
        ingest_title(doomed, "t1", overrides=fast, media_root=media_root)
    assert_nothing_published()


def test_replace_swaps_in_the_new_title_and_drops_the_old(clip_360p_silent, fast, media_root) -> None:
    first = ingest_title(clip_360p_silent, "t1", name="first", overrides=fast, media_root=media_root)
    with pytest.raises(TitleExists):
        ingest_title(clip_360p_silent, "t1", name="second", overrides=fast, media_root=media_root)
    second = ingest_title(
        clip_360p_silent, "t1", name="second", overrides=[*fast, "publish.replace=true"], media_root=media_root
    )
    assert read_title(media_root, "t1").name == "second" and second.created_at > first.created_at
    assert sorted(p.name for p in media_root.iterdir()) == ["t1"]  # no old copy, no staging left


def test_staging_folder_is_removed_when_the_build_fails(media_root) -> None:
    with pytest.raises(InjectedFailure), staging_dir(media_root, "t1") as staged:
        (staged / "half.m4s").write_bytes(b"\0" * 100)
        raise InjectedFailure
    assert not staged.exists()


def test_publish_refuses_an_existing_title_and_keeps_it(media_root) -> None:
    existing = media_root / "t1"
    existing.mkdir()
    (existing / "title.json").write_text(json.dumps({"v": 1}))
    with staging_dir(media_root, "t1") as staged:
        (staged / "title.json").write_text(json.dumps({"v": 2}))
        with pytest.raises(TitleExists):
            publish(staged, media_root, "t1", replace=False)
    assert json.loads((existing / "title.json").read_text()) == {"v": 1}


def test_publish_with_replace_exchanges_folders_atomically(media_root) -> None:
    existing = media_root / "t1"
    existing.mkdir()
    (existing / "old.txt").write_text("old")
    inode_before = existing.stat().st_ino
    with staging_dir(media_root, "t1") as staged:
        (staged / "new.txt").write_text("new")
        publish(staged, media_root, "t1", replace=True)
    assert sorted(p.name for p in existing.iterdir()) == ["new.txt"]
    assert existing.stat().st_ino != inode_before  # a different folder took the name, not a rewrite in place
    assert not (media_root / ".staging").exists()


def test_rotated_source_is_published_upright(clip_rotated, fast, media_root) -> None:
    record = ingest_title(clip_rotated, "upright", overrides=fast, media_root=media_root)
    assert [(r.id, r.width, r.height) for r in record.renditions] == [("360p_800k", 360, 640), ("360p_500k", 360, 640)]


def test_orphaned_staging_folders_are_swept_and_live_ones_kept(media_root) -> None:
    orphan = media_root / ".staging" / "old-1234abcd"
    live = media_root / ".staging" / "new-5678ef00"
    for folder in (orphan, live):
        (folder / "720p_3000k").mkdir(parents=True)
        (folder / "720p_3000k" / "seg_00001.m4s").write_bytes(b"\0")
    day_ago = time.time() - 25 * 3600
    for path in [orphan, *orphan.rglob("*")]:
        os.utime(path, (day_ago, day_ago))
    assert sweep_stale_staging(media_root, older_than_s=24 * 3600) == [orphan]
    assert not orphan.exists() and live.exists()


def test_media_root_with_percent_and_spaces_in_its_path(clip_360p_silent, fast, tmp_path) -> None:
    odd_root = tmp_path / "100% real media"
    record = ingest_title(clip_360p_silent, "odd", overrides=fast, media_root=odd_root)
    folder = published_dir(odd_root, record) / record.renditions[0].id
    assert sorted(p.name for p in folder.glob("seg_*.m4s")) == ["seg_00001.m4s"]
