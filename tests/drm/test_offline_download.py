"""Offline downloads end to end: ingest with CENC, download through the edge, play with the Python player."""

from __future__ import annotations

import time

import pytest

from streamlab.streaming.catalog import published_dir
from streamlab.streaming.delivery.stack import running_stack
from streamlab.streaming.drm.download import DownloadError, download_title, play_offline
from streamlab.streaming.drm.offline import DeviceIdentity, OfflineLicenceError
from streamlab.streaming.drm.server import running_license_server
from streamlab.streaming.drm.settings import load_drm_settings
from streamlab.streaming.ffmpeg import generate_test_source
from streamlab.streaming.ingest.pipeline import ingest_title

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("offline")
    with pytest.MonkeyPatch.context() as patch:
        import base64
        import secrets

        patch.setenv("STREAMLAB_DRM_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
        drm = [f"key_store={root / 'keys.db'}", f"entitlements={root / 'ent.db'}", "offline.licence_ttl_s=3600"]
        source = generate_test_source(root / "src" / "clip.mp4", width=320, height=180, duration_s=9)
        record = ingest_title(source, "film", drm="clearkey", media_root=root / "media",
                              overrides=[f"ingest.allowed_roots=[{root / 'src'}]", "transcode.mode=serial",
                                         *(f"drm.{o}" for o in drm)])
        settings = load_drm_settings(drm)
        with running_license_server(settings) as licence, running_stack(media_root=root / "media") as stack:
            licence.service.entitlements.grant("alice", "film", ("mobile",))
            yield root, record, licence, stack


def test_download_plays_offline_on_its_device_only(world):
    root, record, licence, stack = world
    device = DeviceIdentity.load_or_create(root / "device-a.key")
    token = licence.service.signer.issue("alice", "film", "mobile", ttl_s=60)
    rendition = record.renditions[0].id
    folder = download_title("film", rendition, token, stack.edge_url, licence.url, root / "downloads", device)
    assert (folder / rendition / "init.mp4").is_file() and (folder / "licence.json").is_file()
    played = play_offline(folder, device)
    assert played.frames_decoded > 200 and played.duration_s == pytest.approx(9.0, abs=0.3)
    other = DeviceIdentity.load_or_create(root / "device-b.key")
    with pytest.raises(OfflineLicenceError, match="wrong_device"):
        play_offline(folder, other)
    with pytest.raises(OfflineLicenceError, match="licence_expired"):
        play_offline(folder, device, now=time.time() + 2 * 3600)


def test_download_needs_an_entitled_token(world):
    root, record, licence, stack = world
    device = DeviceIdentity.load_or_create(root / "device-a.key")
    wrong_device_class = licence.service.signer.issue("alice", "film", "tv", ttl_s=60)
    with pytest.raises(DownloadError, match="403 device_not_allowed"):
        download_title("film", record.renditions[0].id, wrong_device_class, stack.edge_url, licence.url,
                       root / "downloads2", device)
    assert not (root / "downloads2" / "film").exists()


def test_segments_on_disk_are_encrypted(world):
    root, record, licence, stack = world
    import subprocess

    from streamlab.streaming.ffmpeg import ffmpeg_exe

    folder = published_dir(root / "media", record) / record.renditions[0].id
    joined = root / "joined.mp4"
    joined.write_bytes(b"".join(p.read_bytes() for p in [folder / "init.mp4", *sorted(folder.glob("seg_*.m4s"))]))
    result = subprocess.run([ffmpeg_exe(), "-v", "error", "-xerror", "-i", str(joined), "-f", "null", "-"],
                            capture_output=True, text=True)
    assert result.returncode != 0  # the public tree holds only ciphertext
