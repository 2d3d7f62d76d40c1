"""Ingest with content protection: the staged title is encrypted before it becomes visible."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest

import streamlab.streaming.ingest.pipeline as pipeline
from streamlab.streaming.catalog import published_dir, read_title
from streamlab.streaming.drm.settings import MasterKeyMissing
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.ingest.protect import split_overrides
from streamlab.streaming.packaging.mp4box import read_init


@pytest.fixture()
def drm_overrides(tmp_path: Path) -> list[str]:
    return [f"drm.key_store={tmp_path / 'keys.db'}", f"drm.entitlements={tmp_path / 'ent.db'}"]


def test_drm_overrides_are_routed_to_the_drm_config() -> None:
    assert split_overrides(["transcode.mode=serial", "drm.rotation_segments=2", "+drm.extra=1"]) == (
        ["transcode.mode=serial"],
        ["rotation_segments=2", "+extra=1"],
    )


@pytest.mark.parametrize("scheme", ["cenc", "cbcs"])
def test_clearkey_title_is_published_encrypted(
    clip_360p_silent, fast, drm_overrides, media_root, monkeypatch, scheme: str
) -> None:
    """The scheme is per title (``drm.encryption.scheme``) and packaging overrides reach the packager."""
    monkeypatch.setenv("STREAMLAB_DRM_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    overrides = [*fast, *drm_overrides, f"drm.encryption.scheme={scheme}", "packaging.iframe_playlists=false"]
    record = ingest_title(clip_360p_silent, "locked", drm="clearkey", overrides=overrides, media_root=media_root)
    assert read_title(media_root, "locked").drm == "clearkey" == record.drm
    assert record.protection is not None and record.protection.cenc_kids
    title = published_dir(media_root, record)
    for rendition in record.renditions:
        init = (title / rendition.id / "init.mp4").read_bytes()
        assert b"encv" in init and b"tenc" in init, f"{rendition.id} is not CENC-protected"
        assert b"schm" + init.split(b"schm", 1)[1][:8] == b"schm" + bytes(4) + scheme.encode() and scheme
        # the packager's box reader sees through the encryption to the codec (sinf/frma)
        assert read_init(title / rendition.id / "init.mp4").codecs == rendition.codecs
    assert "ContentProtection" in (title / "manifest.mpd").read_text()
    assert not list(title.rglob("iframe.m3u8")), "packaging.iframe_playlists=false was not passed to the packager"


def test_missing_master_key_fails_before_any_encode(
    clip_360p_silent, fast, drm_overrides, media_root, monkeypatch, tmp_path, assert_nothing_published
) -> None:
    monkeypatch.delenv("STREAMLAB_DRM_MASTER_KEY", raising=False)
    encodes: list[object] = []
    monkeypatch.setattr(pipeline, "run_encodes", lambda jobs, *a, **k: encodes.append(jobs))
    overrides = [*fast, *drm_overrides, f"drm.master_key_file={tmp_path / 'absent.key'}"]
    with pytest.raises(MasterKeyMissing, match="absent.key"):
        ingest_title(clip_360p_silent, "locked", drm="clearkey", overrides=overrides, media_root=media_root)
    assert encodes == []  # refused up front, not after the ladder was encoded
    assert_nothing_published()
