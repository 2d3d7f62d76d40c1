"""Manifests per device class and per pathway: capped master playlists / MPDs, with content steering.

Capping: a variant (HLS ``EXT-X-STREAM-INF``, DASH ``Representation``) stays when its height is
within the class's ``max_height`` and every video codec it names is one the class decodes
(``configs/edge.yaml`` ``manifests.caps``). A phone then never sees a 1080p rung it cannot use
(hls.js's and Shaka's ABR would otherwise climb to it on a fast link), and a TV sees the 4K/HEVC
rungs the title has. When nothing would be left, the lowest-bandwidth variant stays: a capped
manifest is never empty, so an odd device degrades to low quality instead of an error.

Content steering (HLS 2nd edition §4.4.6.6, DASH-IF Content Steering 1.0): every variant is
cloned once per pathway with ``PATHWAY-ID`` and an absolute URI on that pathway's edge, and the
master names the steering server (``EXT-X-CONTENT-STEERING``). Rendition groups (audio) are
cloned per pathway too (``GROUP-ID`` suffixed), so switching pathway moves every request. In
DASH, one ``BaseURL`` per pathway (``serviceLocation``) and a ``ContentSteering`` element.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from streamlab.streaming.edge.settings import DeviceCap, SteeringSettings

ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
CODEC_FAMILY = {"avc1": "h264", "avc3": "h264", "hvc1": "hevc", "hev1": "hevc", "dvh1": "hevc", "dvhe": "hevc", "av01": "av1"}
MPD_NS = "urn:mpeg:dash:schema:mpd:2011"


def video_families(codecs: str) -> set[str]:
    """``"avc1.64001f,mp4a.40.2"`` -> ``{"h264"}``: audio and unknown codecs say nothing about the video."""
    return {CODEC_FAMILY[c.strip().split(".")[0]] for c in codecs.split(",") if c.strip().split(".")[0] in CODEC_FAMILY}


def allowed(height: int | None, codecs: str, cap: DeviceCap) -> bool:
    if height is not None and height > cap.max_height:
        return False
    return video_families(codecs) <= set(cap.codecs)


def _attributes(tag_line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in ATTRIBUTE.findall(tag_line.split(":", 1)[1] if ":" in tag_line else "")}


def _height(attributes: dict[str, str]) -> int | None:
    resolution = attributes.get("RESOLUTION", "")
    return int(resolution.split("x")[1]) if re.fullmatch(r"\d+x\d+", resolution) else None


def _variants(lines: list[str]) -> list[tuple[int, int]]:
    """``(tag index, uri index)`` of each ``EXT-X-STREAM-INF`` and the URI line after it."""
    out = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            j = next((k for k in range(i + 1, len(lines)) if lines[k] and not lines[k].startswith("#")), None)
            if j is not None:
                out.append((i, j))
    return out


def cap_hls_master(text: str, cap: DeviceCap) -> str:
    """The master playlist without the variants (and I-frame playlists) ``cap`` excludes."""
    lines = text.splitlines()
    variants = _variants(lines)
    keep = [(i, j) for i, j in variants if allowed(_height(_attributes(lines[i])), _attributes(lines[i]).get("CODECS", ""), cap)]
    if not keep and variants:
        keep = [min(variants, key=lambda v: int(_attributes(lines[v[0]]).get("BANDWIDTH", "0") or 0))]
    dropped = {index for v in variants if v not in keep for index in v}
    out = []
    for index, line in enumerate(lines):
        if index in dropped:
            continue
        if line.startswith("#EXT-X-I-FRAME-STREAM-INF:"):
            attributes = _attributes(line)
            if not allowed(_height(attributes), attributes.get("CODECS", ""), cap):
                continue
        out.append(line)
    return text if out == lines else "\n".join(out) + "\n"


def steering_uri(steering: SteeringSettings, region: str, dash: bool = False) -> str:
    """The steering server's URL for one region (players add ``_HLS_pathway``/``_DASH_pathway`` themselves)."""
    base = str(steering.server_url).rstrip("/") + ("/v1/steer/dash" if dash else "/v1/steer/hls")
    return f"{base}?{urlencode({'region': region})}"


def steer_hls_master(text: str, steering: SteeringSettings, region: str, media_dir: str) -> str:
    """Clone every variant and rendition per pathway (absolute URIs under ``<pathway url><media_dir>``)."""
    lines = text.splitlines()
    order = steering.preference(region)
    by_id = {p.id: p.url.rstrip("/") for p in steering.pathways}
    header, body = [], []
    variants = dict(_variants(lines))
    uri_lines = set(variants.values())
    for index, line in enumerate(lines):
        if index in uri_lines:
            continue
        if line.startswith("#EXT-X-STREAM-INF:") or line.startswith("#EXT-X-MEDIA:"):
            body.append((index, line))
        elif line.startswith("#EXT-X-I-FRAME-STREAM-INF:"):
            continue  # I-frame playlists have no pathway clone here; trick play is not steered
        else:
            header.append(line)
    out = header + [f'#EXT-X-CONTENT-STEERING:SERVER-URI="{steering_uri(steering, region)}",PATHWAY-ID="{order[0]}"']
    for pathway in order:
        base = by_id[pathway] + media_dir
        for index, line in body:
            if line.startswith("#EXT-X-MEDIA:"):
                line = _suffix_group(line, "GROUP-ID", pathway)
                line = re.sub(r'URI="([^"]+)"', lambda m: f'URI="{_absolute(base, m.group(1))}"', line)
                out.append(line)
            else:
                for group in ("AUDIO", "SUBTITLES", "VIDEO"):
                    line = _suffix_group(line, group, pathway)
                out.append(f'{line},PATHWAY-ID="{pathway}"')
                out.append(_absolute(base, lines[variants[index]].strip()))
    return "\n".join(out) + "\n"


def _suffix_group(line: str, attribute: str, pathway: str) -> str:
    return re.sub(rf'(?<![A-Z-]){attribute}="([^"]+)"', lambda m: f'{attribute}="{m.group(1)}-{pathway}"', line)


def _absolute(base: str, uri: str) -> str:
    return uri if re.match(r"^[a-z][a-z0-9+.-]*://", uri) else f"{base}{uri}"


def _tag(element: ET.Element) -> str:
    return element.tag.split("}", 1)[-1]


def cap_dash_mpd(text: str, cap: DeviceCap) -> str:
    """The MPD without the video ``Representation``s ``cap`` excludes (an emptied video set keeps its lowest)."""
    ET.register_namespace("", MPD_NS)
    root = ET.fromstring(text)
    removed = 0
    for period in [e for e in root if _tag(e) == "Period"]:
        for adaptation in [e for e in period if _tag(e) == "AdaptationSet"]:
            reps = [e for e in adaptation if _tag(e) == "Representation"]
            video = [r for r in reps if _is_video(adaptation, r)]
            def height(r: ET.Element) -> int | None:
                value = r.get("height") or adaptation.get("height")
                return int(value) if value and value.isdigit() else None
            keep = [r for r in video if allowed(height(r), r.get("codecs") or adaptation.get("codecs") or "", cap)]
            if video and not keep:
                keep = [min(video, key=lambda r: int(r.get("bandwidth", "0") or 0))]
            for r in video:
                if r not in keep:
                    adaptation.remove(r)
                    removed += 1
    # Nothing capped: the published bytes as they are (re-serializing would change the file a player or cache
    # compares against, e.g. the XML declaration's quoting).
    return _serialize(root) if removed else text


def steer_dash_mpd(text: str, steering: SteeringSettings, region: str, media_dir: str) -> str:
    """One ``BaseURL`` per pathway (``serviceLocation``) and the ``ContentSteering`` element."""
    ET.register_namespace("", MPD_NS)
    root = ET.fromstring(text)
    ns = root.tag.split("}", 1)[0] + "}" if root.tag.startswith("{") else ""
    for existing in [e for e in root if _tag(e) in ("BaseURL", "ContentSteering")]:
        root.remove(existing)
    order = steering.preference(region)
    by_id = {p.id: p.url.rstrip("/") for p in steering.pathways}
    position = next((i for i, e in enumerate(root) if _tag(e) not in ("ProgramInformation", "Location", "PatchLocation")), 0)
    elements = []
    for pathway in order:
        base = ET.Element(f"{ns}BaseURL", {"serviceLocation": pathway})
        base.text = by_id[pathway] + media_dir
        elements.append(base)
    steer = ET.Element(f"{ns}ContentSteering", {"defaultServiceLocation": order[0], "queryBeforeStart": "true"})
    steer.text = steering_uri(steering, region, dash=True)
    elements.append(steer)
    for offset, element in enumerate(elements):
        root.insert(position + offset, element)
    return _serialize(root)


def _is_video(adaptation: ET.Element, representation: ET.Element) -> bool:
    kind = representation.get("mimeType") or adaptation.get("mimeType") or adaptation.get("contentType") or ""
    return kind.startswith("video") or (representation.get("height") or adaptation.get("height")) is not None


def _serialize(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


HLS_MASTER_NAME = "master.m3u8"
DASH_MANIFEST_NAME = "manifest.mpd"
VARY = "X-Streamlab-Device, X-Streamlab-Region"
"""What a rewritten manifest depends on: the caches in front key on both (the origin sends this ``Vary``)."""


def is_rewritten(relative: str) -> bool:
    """Master playlists and MPDs are per device (and per region with steering); media playlists are not."""
    return relative.rsplit("/", 1)[-1] in (HLS_MASTER_NAME, DASH_MANIFEST_NAME)


def rewrite(text: str, name: str, device_class: str | None, region: str | None, media_dir: str,
            caps: dict[str, DeviceCap], steering: SteeringSettings) -> str:
    """The manifest ``name`` as the hook's device class and region get it (no class: uncapped, unsteered).

    A request without the hook's headers did not come through a hooked edge (an operator, a test
    on the origin): it gets the published manifest as is.
    """
    if device_class is None:
        return text
    cap = caps.get(device_class, caps["unknown"])
    dash = name == DASH_MANIFEST_NAME
    text = cap_dash_mpd(text, cap) if dash else cap_hls_master(text, cap)
    if steering.active:
        region = region or "other"
        text = steer_dash_mpd(text, steering, region, media_dir) if dash else steer_hls_master(text, steering, region, media_dir)
    return text
