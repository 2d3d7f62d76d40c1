"""Content keys are random, wrapped at rest, and need the master key; a missing master key stops DRM."""

from __future__ import annotations

import os
import sqlite3

import pytest

from streamlab.streaming.drm.keys import ContentKey, KeyStore, KeyStoreError
from streamlab.streaming.drm.settings import MasterKeyMissing, create_master_key_file, load_drm_settings, load_master_key


def test_keys_are_unique_and_stored_wrapped(tmp_path, master_key):
    store = KeyStore(tmp_path / "k.db", master_key)
    keys = [store.create("t") for _ in range(20)]
    assert len({k.key for k in keys}) == 20 and len({k.kid for k in keys}) == 20
    raw = (tmp_path / "k.db").read_bytes()
    for k in keys:
        assert k.key not in raw and k.key.hex().encode() not in raw
    assert store.get(keys[3].kid) == keys[3]


def test_wrong_master_key_does_not_unwrap(tmp_path, master_key):
    KeyStore(tmp_path / "k.db", master_key).create("t")
    with pytest.raises(KeyStoreError, match="wrong master key or tampered"):
        KeyStore(tmp_path / "k.db", b"\x02" * 32).title_keys("t")


def test_wrapped_key_moved_to_another_title_does_not_unwrap(tmp_path, master_key):
    store = KeyStore(tmp_path / "k.db", master_key)
    a = store.create("a")
    with sqlite3.connect(tmp_path / "k.db") as db:
        db.execute("UPDATE content_keys SET title_id = 'b' WHERE kid = ?", (a.kid_hex,))
    with pytest.raises(KeyStoreError):
        store.title_keys("b")


def test_key_repr_never_shows_the_key(master_key):
    key = ContentKey(kid=b"\x01" * 16, key=b"\xab" * 16, title_id="t")
    assert "ab" * 4 not in repr(key) and "key=" not in repr(key)


def test_ensure_title_keys_is_idempotent_per_track_and_period(tmp_path, master_key):
    store = KeyStore(tmp_path / "k.db", master_key)
    first = store.ensure_title_keys("t", ("video", "audio"), periods=2)
    assert len(first) == 4 and first == store.ensure_title_keys("t", ("video", "audio"), periods=2)


def test_missing_master_key_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("STREAMLAB_DRM_MASTER_KEY", raising=False)
    for where in ("master_key_file=null", f"master_key_file={tmp_path / 'absent.key'}"):
        settings = load_drm_settings([f"key_store={tmp_path / 'k.db'}", where])
        with pytest.raises(MasterKeyMissing, match="no DRM master key.*no key was written"):
            load_master_key(settings)
    assert not (tmp_path / "k.db").exists()


@pytest.mark.parametrize("value,match", [("not base64!", "not valid base64"), ("AAAA", "must be 32")])
def test_malformed_master_key_is_refused(monkeypatch, value, match):
    monkeypatch.setenv("STREAMLAB_DRM_MASTER_KEY", value)
    with pytest.raises(MasterKeyMissing, match=match):
        load_master_key(load_drm_settings())


def test_master_key_file_must_be_private_and_outside_media(tmp_path, monkeypatch, media_root):
    monkeypatch.delenv("STREAMLAB_DRM_MASTER_KEY", raising=False)
    path = create_master_key_file(tmp_path / "secrets" / "master.key")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert len(load_master_key(load_drm_settings([f"master_key_file={path}"]))) == 32
    os.chmod(path, 0o644)
    with pytest.raises(MasterKeyMissing, match="chmod 600"):
        load_master_key(load_drm_settings([f"master_key_file={path}"]))
    inside = create_master_key_file(media_root / "master.key")
    with pytest.raises(MasterKeyMissing, match="inside the public media tree"):
        load_master_key(load_drm_settings([f"master_key_file={inside}"]))
    with pytest.raises(Exception, match="refusing to overwrite"):
        create_master_key_file(inside)
