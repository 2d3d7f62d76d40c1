"""``streamlab stream download`` and the offline Python player.

The download goes through the edge like any viewer (catalog, playlist, init and media segments),
and the licence comes from the licence server, wrapped to this device. Playing offline decrypts
locally with FFmpeg's CENC decryption and decodes every frame; it needs no network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from streamlab.core.errors import StreamlabError
from streamlab.streaming.catalog import TitleRecord, validate_title_id
from streamlab.streaming.drm.crypto import b64url
from streamlab.streaming.drm.offline import DeviceIdentity, unlock_offline_licence
from streamlab.streaming.ffmpeg import ffmpeg_exe

LICENCE_FILE = "licence.json"
MANIFEST_FILE = "download.json"


class DownloadError(StreamlabError):
    pass


@dataclass(frozen=True)
class OfflinePlayback:
    frames_decoded: int
    duration_s: float
    tracks: list[str]


def download_title(title_id: str, rendition_id: str, token: str, edge_url: str, license_url: str,
                   out_dir: Path, device: DeviceIdentity, timeout_s: float = 30.0) -> Path:
    """Fetch one rendition (plus audio) and a device-bound licence into ``out_dir/<title_id>/``."""
    validate_title_id(title_id)
    edge = edge_url.rstrip("/")
    with httpx.Client(timeout=timeout_s) as client:
        response = client.get(f"{edge}/api/titles/{title_id}")
        if response.status_code == 404:
            raise DownloadError(f"title {title_id!r} is not in the catalog at {edge}")
        response.raise_for_status()
        record = TitleRecord.model_validate(response.json())
        if record.drm not in ("clearkey", "all"):
            raise DownloadError(f"title {title_id!r} is not CENC-protected (drm={record.drm}); offline needs --drm clearkey")
        known = [r.id for r in record.renditions if r.browser_playable]
        if rendition_id not in known:
            raise DownloadError(f"rendition {rendition_id!r} is not one of {', '.join(known)}")
        licence = client.post(license_url.rstrip("/") + "/drm/offline/license",
                              json={"device_public_key": b64url(device.public_bytes)},
                              headers={"Authorization": f"Bearer {token}"})
        if licence.status_code != 200:
            body = licence.json() if licence.headers.get("content-type", "").startswith("application/json") else {}
            raise DownloadError(f"licence refused ({licence.status_code} {body.get('error', '')}): {body.get('detail', '')}")
        target = out_dir / title_id
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{title_id}-", dir=out_dir))
        try:
            tracks = [rendition_id] + ([record.audio.id] if record.audio else [])
            for track in tracks:
                _fetch_track(client, f"{edge}/media/{title_id}/{record.media_path(track)}", staging / track)
            (staging / LICENCE_FILE).write_text(json.dumps(licence.json(), indent=2))
            (staging / MANIFEST_FILE).write_text(json.dumps({"title": record.model_dump(mode="json"), "tracks": tracks}, indent=2))
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _fetch_track(client: httpx.Client, base: str, folder: Path) -> None:
    folder.mkdir(parents=True)
    playlist = client.get(f"{base}/playlist.m3u8")
    playlist.raise_for_status()
    names = ["init.mp4"] + [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    for name in names:
        if "/" in name or name.startswith("."):
            raise DownloadError(f"unexpected segment URI {name!r} in {base}/playlist.m3u8")
        part = client.get(f"{base}/{name}")
        part.raise_for_status()
        (folder / name).write_bytes(part.content)
    (folder / "playlist.m3u8").write_text(playlist.text)


def play_offline(download_dir: Path, device: DeviceIdentity, now: float | None = None) -> OfflinePlayback:
    """Decrypt and decode every frame of a download; refuses on another device or after expiry."""
    manifest_path = download_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise DownloadError(f"{download_dir} is not a streamlab download (no {MANIFEST_FILE})")
    manifest = json.loads(manifest_path.read_text())
    keys = unlock_offline_licence(json.loads((download_dir / LICENCE_FILE).read_text()), device, now)
    key_hex = next(iter(keys.values())).hex() if len(keys) == 1 else None
    frames = 0
    duration_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for track in manifest["tracks"]:
            folder = download_dir / track
            joined = Path(tmp) / f"{track}.mp4"
            names = ["init.mp4"] + [line for line in (folder / "playlist.m3u8").read_text().splitlines() if line and not line.startswith("#")]
            joined.write_bytes(b"".join((folder / n).read_bytes() for n in names))
            kid = _default_kid(joined)
            key = keys.get(kid) if kid else None
            key_for_track = (key.hex() if key else key_hex)
            if key_for_track is None:
                raise DownloadError(f"the licence has no key for track {track} (kid {kid})")
            result = subprocess.run(
                [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-xerror", "-decryption_key", key_for_track,
                 "-i", str(joined), "-map", "0", "-f", "framecrc", "-"],
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise DownloadError(f"track {track} does not decode: {result.stderr.strip()[-300:]}")
            lines = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
            frames += len(lines)
            if lines:
                last = lines[-1].split(",")
                duration_s = max(duration_s, (int(last[2]) + int(last[3])) * _timebase(result.stdout, int(last[0])))
    return OfflinePlayback(frames_decoded=frames, duration_s=duration_s, tracks=manifest["tracks"])


def _default_kid(mp4: Path) -> str | None:
    data = mp4.read_bytes()
    at = data.find(b"tenc")
    if at < 0:
        return None
    return data[at + 4 + 4 + 4:at + 4 + 4 + 4 + 16].hex()  # version/flags, reserved+pattern, isProtected+iv size, KID


def _timebase(framecrc: str, stream: int) -> float:
    for line in framecrc.splitlines():
        if line.startswith(f"#tb {stream}:"):
            num, den = line.split(":", 1)[1].strip().split("/")
            return int(num) / int(den)
    return 0.0
