from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest

from streamlab.streaming.drm.license_server import build_service, create_license_app
from streamlab.streaming.drm.settings import load_drm_settings


@pytest.fixture()
def master_key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    key = secrets.token_bytes(32)
    monkeypatch.setenv("STREAMLAB_DRM_MASTER_KEY", base64.b64encode(key).decode())
    return key


@pytest.fixture()
def drm_settings(tmp_path: Path):
    return load_drm_settings([f"key_store={tmp_path / 'keys.db'}", f"entitlements={tmp_path / 'ent.db'}",
                              "rate_limit.requests_per_s=1000", "rate_limit.burst=1000"])


@pytest.fixture()
def service(drm_settings, master_key):
    return build_service(drm_settings, master_key)


@pytest.fixture()
def client(service):
    from starlette.testclient import TestClient

    return TestClient(create_license_app(service))
