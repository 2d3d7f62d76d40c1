"""The title as a player sees it: the HLS multivariant playlist and its media playlists, over HTTP.

Only what ABR needs: the browser-playable (H.264) video rungs, lowest bandwidth first, each
with its init segment and media segment URLs and durations. The rung bitrate is the
``AVERAGE-BANDWIDTH`` (``BANDWIDTH`` when absent), which is what a chunk costs on average.

Chunk sizes, as far as a manifest states them: each segment's ``EXTINF`` duration times its
bitrate, which is the segment's own ``EXT-X-BITRATE`` (RFC 8216bis 4.4.4.8; it applies until
the next one) when the packager wrote it, else the rung's. So a short last segment, or a
title with uneven segments, is priced right. Titles packaged by Shaka Packager carry
``EXT-X-BITRATE`` per segment from the real file sizes (``streaming.packaging.shaka``), so their
chunk sizes are exact to the tag's 1 kbit/s rounding; ``chunk_sizes: nominal`` (headless settings)
ignores them, to measure what they change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urljoin

import httpx
import m3u8

from streamlab.core.errors import StreamlabError


class ManifestError(StreamlabError):
    """The title's playlists are missing or unusable for the headless player."""


@dataclass(frozen=True)
class PlayerRung:
    bitrate_kbps: float
    peak_kbps: float
    resolution: str
    init_url: str
    segment_urls: tuple[str, ...]
    segment_durations_s: tuple[float, ...]
    segment_sizes_bytes: tuple[int, ...] = ()
    """Expected bytes per segment (see the module docstring); empty means bitrate x duration."""


@dataclass(frozen=True)
class PlayerTitle:
    title_id: str
    master_url: str
    rungs: tuple[PlayerRung, ...]

    @property
    def segment_count(self) -> int:
        return len(self.rungs[0].segment_urls)

    @property
    def segment_duration_s(self) -> float:
        durations = self.rungs[0].segment_durations_s
        return max(durations) if durations else 0.0


def _get(client: httpx.Client, url: str) -> str:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise ManifestError(f"cannot fetch {url}: {exc}") from None
    if response.status_code != 200:
        raise ManifestError(f"{url}: HTTP {response.status_code} (is the title published and the edge up?)")
    return response.text


def segment_sizes(media: m3u8.M3U8, rung_kbps: float) -> tuple[int, ...]:
    """Bytes per segment from ``EXTINF`` x bitrate, ``EXT-X-BITRATE`` carried forward where present."""
    sizes = []
    kbps = rung_kbps
    for segment in media.segments:
        if getattr(segment, "bitrate", None):
            kbps = float(segment.bitrate)
        sizes.append(max(1, int(round(kbps * 1000.0 / 8.0 * float(segment.duration)))))
    return tuple(sizes)


def load_title(client: httpx.Client, base_url: str, title_id: str) -> PlayerTitle:
    """Read ``<base>/media/<title>/master.m3u8`` and every H.264 rung's media playlist."""
    master_url = f"{base_url.rstrip('/')}/media/{title_id}/master.m3u8"
    master = m3u8.loads(_get(client, master_url))
    rungs: dict[float, PlayerRung] = {}
    for variant in master.playlists:
        info = variant.stream_info
        if info.codecs and not info.codecs.startswith(("avc1", "avc3")):
            continue  # HEVC rungs are packaged but not what a browser (or this player) plays
        url = urljoin(master_url, variant.uri)
        media = m3u8.loads(_get(client, url))
        if not media.segments or not media.segment_map:
            raise ManifestError(f"{url}: no segments or no EXT-X-MAP init segment")
        bitrate = (info.average_bandwidth or info.bandwidth) / 1000.0
        resolution = "x".join(str(v) for v in info.resolution) if info.resolution else "?"
        rungs.setdefault(
            bitrate,
            PlayerRung(
                bitrate_kbps=bitrate,
                peak_kbps=info.bandwidth / 1000.0,
                resolution=resolution,
                init_url=urljoin(url, media.segment_map[0].uri),
                segment_urls=tuple(urljoin(url, s.uri) for s in media.segments),
                segment_durations_s=tuple(float(s.duration) for s in media.segments),
                segment_sizes_bytes=segment_sizes(media, bitrate),
            ),
        )
    if not rungs:
        raise ManifestError(f"{master_url}: no H.264 video rung to play")
    ordered = tuple(rungs[b] for b in sorted(rungs))
    counts = {len(r.segment_urls) for r in ordered}
    if len(counts) != 1:
        raise ManifestError(f"{master_url}: rungs have different segment counts {sorted(counts)}; segments must align")
    return PlayerTitle(title_id, master_url, ordered)


def binge(title: PlayerTitle, episodes: int) -> PlayerTitle:
    """The title's segments repeated ``episodes`` times: one long session over a short real clip.

    Real sessions last minutes; our real clips last seconds. A session shorter than a minute is
    mostly startup, where every policy starts low, so ABR comparisons need sessions about as long
    as the simulator's 48-chunk title (``headless.episodes``).
    """
    if episodes <= 1:
        return title
    rungs = tuple(
        replace(r, segment_urls=r.segment_urls * episodes, segment_durations_s=r.segment_durations_s * episodes,
                segment_sizes_bytes=r.segment_sizes_bytes * episodes)
        for r in title.rungs
    )
    return replace(title, rungs=rungs)


def nominal_sizes(title: PlayerTitle) -> PlayerTitle:
    """The title with every chunk priced at its rung's bitrate x duration, as before packagers stated sizes."""
    return replace(title, rungs=tuple(replace(r, segment_sizes_bytes=()) for r in title.rungs))
