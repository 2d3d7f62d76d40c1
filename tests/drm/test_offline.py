"""Offline licences are bound to one device, expire, and do not survive tampering."""

from __future__ import annotations

import json
import time

import pytest

from streamlab.streaming.drm.crypto import b64url
from streamlab.streaming.drm.keys import ContentKey
from streamlab.streaming.drm.offline import (
    DeviceIdentity,
    OfflineLicenceError,
    issue_offline_licence,
    unlock_offline_licence,
)

KEY = ContentKey(kid=b"\x11" * 16, key=b"\x22" * 16, title_id="t")


@pytest.fixture()
def device(tmp_path):
    return DeviceIdentity.load_or_create(tmp_path / "device.key")


def test_device_identity_is_persistent_and_private(tmp_path, device):
    again = DeviceIdentity.load_or_create(tmp_path / "device.key")
    assert again.device_id == device.device_id
    assert (tmp_path / "device.key").stat().st_mode & 0o777 == 0o600


def test_licence_unlocks_on_its_device_before_expiry(device):
    licence = issue_offline_licence([KEY], "alice", "t", device.public_bytes, ttl_s=60)
    assert unlock_offline_licence(licence, device) == {KEY.kid_hex: KEY.key}
    assert KEY.key.hex() not in json.dumps(licence) and b64url(KEY.key) not in json.dumps(licence)


def test_licence_refuses_after_expiry(device):
    licence = issue_offline_licence([KEY], "alice", "t", device.public_bytes, ttl_s=60, now=time.time() - 120)
    with pytest.raises(OfflineLicenceError, match="licence_expired"):
        unlock_offline_licence(licence, device)


def test_licence_refuses_on_another_device(device, tmp_path):
    licence = issue_offline_licence([KEY], "alice", "t", device.public_bytes, ttl_s=60)
    other = DeviceIdentity.load_or_create(tmp_path / "other.key")
    with pytest.raises(OfflineLicenceError, match="wrong_device"):
        unlock_offline_licence(licence, other)
    licence["header"]["device_id"] = other.device_id  # pretending does not help: the keys are wrapped to the first
    with pytest.raises(OfflineLicenceError, match="licence_tampered"):
        unlock_offline_licence(licence, other)


def test_extending_the_expiry_breaks_the_licence(device):
    licence = issue_offline_licence([KEY], "alice", "t", device.public_bytes, ttl_s=60, now=time.time() - 120)
    licence["header"]["expires_at"] += 10**6
    with pytest.raises(OfflineLicenceError, match="licence_tampered"):
        unlock_offline_licence(licence, device)


def test_malformed_licence_is_a_clear_error(device):
    with pytest.raises(OfflineLicenceError, match="licence_malformed"):
        unlock_offline_licence({"header": {}}, device)
