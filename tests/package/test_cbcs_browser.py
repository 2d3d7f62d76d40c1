"""A cbcs title (Shaka Packager, raw keys from our key store) in Debian chromium's ClearKey CDM.

Whether chromium's ClearKey plays ``cbcs`` (AES-CBC 1:9 pattern) and not only ``cenc`` is what this
answers, in both players: Shaka over DASH and hls.js over HLS (``SAMPLE-AES`` + ``org.w3.clearkey``).
A pass needs media time to advance with decoded frames (streaming/player/browser.py), and the
keys must come from the licence server with the viewer's token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from streamlab.streaming.catalog import DASH_MANIFEST, HLS_MASTER, TITLE_RECORD, published_dir
from streamlab.streaming.ffmpeg import generate_test_source
from streamlab.streaming.packaging.settings import EncryptionSettings
from streamlab.streaming.player.browser import check_playback, chromium

pytestmark = pytest.mark.slow

TITLE = "cbcs-title"
VIEWER = "viewer-1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, licence: tuple[Any, Any]) -> Iterator[Any]:
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.drm.packager import protect_title
    from streamlab.streaming.ingest.pipeline import ingest_title
    from streamlab.streaming.publish import write_version_aliases

    server, settings = licence
    sources = tmp_path_factory.mktemp("cbcs-sources")
    clip = generate_test_source(sources / "clip.mp4", width=640, height=360, duration_s=10.0)
    root = tmp_path_factory.mktemp("cbcs-media")
    record = ingest_title(clip, TITLE, name="cbcs", media_root=root,
                          overrides=[f"ingest.allowed_roots=[{sources}]", "transcode.mode=serial",
                                     "transcode.profiles=[mobile]"])
    as_packaged = record.model_copy(update={"version": None, "hls": HLS_MASTER, "dash": DASH_MANIFEST})
    protected = protect_title(published_dir(root, record), as_packaged, "clearkey", server.service.keys, settings,
                              server.url, encryption=EncryptionSettings(scheme="cbcs"))
    assert record.version is not None
    protected = protected.with_version(record.version)
    write_version_aliases(root / TITLE, record.version)
    (root / TITLE / TITLE_RECORD).write_text(protected.model_dump_json())
    server.service.entitlements.grant(VIEWER, TITLE)
    with running_stack(media_root=root) as running:
        yield running


@pytest.mark.parametrize("protocol", ["dash", "hls"])
def test_a_cbcs_title_plays_with_clearkey_in_chromium(stack: Any, licence: tuple[Any, Any], protocol: str) -> None:
    server, settings = licence
    token = server.service.signer.issue(VIEWER, TITLE, "web", settings.tokens.ttl_s)
    with chromium() as context:
        result = check_playback(stack.edge_url + "/", TITLE, protocol, context=context, token=token, timeout_s=40)
    assert result.ok and result.advanced_s >= 5.0 and result.fatal_error is None and result.decoded_frames > 0
    assert server.url in result.origins, "the ClearKey licence must have come from the licence server"
