"""A small ISO-BMFF (MP4) box reader for the CMAF files FFmpeg writes.

Packaging needs facts only the encoded files know: the codec configuration (for RFC 6381
``CODECS`` strings), the track timescale, and each fragment's decode time, duration and whether
it starts on a sync sample (for the DASH SegmentTimeline and the alignment checks). Reading the
boxes directly (ISO/IEC 14496-12 and -15) is exact and needs no second FFmpeg pass.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streamlab.core.errors import StreamlabError

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"edts", b"dinf"}
_SAMPLE_IS_NON_SYNC = 0x00010000


class MP4BoxError(StreamlabError):
    """An MP4 file lacks a box packaging needs, or a box is cut short."""


@dataclass(frozen=True)
class InitInfo:
    """What the init segment says about the one track it describes."""

    handler: str  # "vide" or "soun"
    sample_entry: str  # avc1, hvc1, hev1, mp4a
    codecs: str  # RFC 6381, e.g. avc1.64001f
    timescale: int
    default_sample_duration: int  # from trex; fragments may omit per-sample durations
    default_sample_flags: int
    width: int | None = None
    height: int | None = None
    channels: int | None = None
    sample_rate_hz: int | None = None


@dataclass(frozen=True)
class FragmentInfo:
    """One media segment: when it starts (decode time), how long it lasts, in track timescale units."""

    base_media_decode_time: int
    duration: int
    sample_count: int
    starts_with_sync_sample: bool
    earliest_presentation_time: int  # min(decode time + composition offset) over the samples


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(type, payload_start, box_end)`` for each box in ``data[start:end]``."""
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > end:
                raise MP4BoxError(f"box {kind!r} at {offset}: truncated 64-bit size")
            size = struct.unpack_from(">Q", data, offset + 8)[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise MP4BoxError(f"box {kind!r} at {offset} claims {size} bytes; only {end - offset} remain")
        yield kind, offset + header, offset + size
        offset += size


def find_all(data: bytes, path: list[str], start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Payload ranges of every box at ``path`` (e.g. ``["moof", "traf", "tfdt"]``)."""
    want = path[0].encode()
    found = []
    for kind, payload, box_end in iter_boxes(data, start, end):
        if kind != want:
            continue
        if len(path) == 1:
            found.append((payload, box_end))
        elif kind in _CONTAINERS:
            found.extend(find_all(data, path[1:], payload, box_end))
    return found


def find_one(data: bytes, path: list[str], what: str) -> tuple[int, int]:
    found = find_all(data, path)
    if not found:
        raise MP4BoxError(f"{what}: no {'/'.join(path)} box")
    return found[0]


def read_init(path: Path) -> InitInfo:
    """Parse a CMAF init segment (ftyp + moov with one track and mvex)."""
    data = path.read_bytes()
    try:
        return parse_init(data, str(path))
    except MP4BoxError as exc:
        raise _naming(path, exc) from None
    except (struct.error, IndexError, StopIteration, UnicodeDecodeError) as exc:
        raise MP4BoxError(f"{path}: malformed init segment ({type(exc).__name__}: {exc})") from None


def parse_init(data: bytes, where: str) -> InitInfo:
    """Parse an init segment already in memory: live channels read theirs from the encoder's pipe."""
    hdlr, _ = find_one(data, ["moov", "trak", "mdia", "hdlr"], where)
    handler = data[hdlr + 8 : hdlr + 12].decode("ascii", "replace")
    mdhd, _ = find_one(data, ["moov", "trak", "mdia", "mdhd"], where)
    version = data[mdhd]
    timescale = struct.unpack_from(">I", data, mdhd + (20 if version == 1 else 12))[0]
    default_duration, default_flags = 0, 0
    trex = find_all(data, ["moov", "mvex", "trex"])
    if trex:
        _, default_duration, _, default_flags = struct.unpack_from(">IIII", data, trex[0][0] + 8)
    stsd, stsd_end = find_one(data, ["moov", "trak", "mdia", "minf", "stbl", "stsd"], where)
    entry_kind, entry_payload, entry_end = next(iter_boxes(data, stsd + 8, stsd_end))
    entry = entry_kind.decode("ascii", "replace")
    if entry in {"encv", "enca"}:  # CENC: the original format is in sinf/frma, the codec config stays put
        entry = _original_format(data, entry_payload + (78 if entry == "encv" else 28), entry_end, where)
    if handler == "vide":
        width, height = struct.unpack_from(">HH", data, entry_payload + 24)
        codecs = _video_codecs(data, entry, entry_payload + 78, entry_end, where)
        return InitInfo(handler, entry, codecs, timescale, default_duration, default_flags, width=width, height=height)
    if handler == "soun":
        channels = struct.unpack_from(">H", data, entry_payload + 16)[0]
        sample_rate = struct.unpack_from(">I", data, entry_payload + 24)[0] >> 16
        codecs = _audio_codecs(data, entry, entry_payload + 28, entry_end, where)
        return InitInfo(
            handler,
            entry,
            codecs,
            timescale,
            default_duration,
            default_flags,
            channels=channels,
            sample_rate_hz=sample_rate,
        )
    raise MP4BoxError(f"{where}: track handler {handler!r} is neither video nor audio")


def _original_format(data: bytes, start: int, end: int, where: str) -> str:
    for kind, payload, box_end in iter_boxes(data, start, end):
        if kind == b"sinf":
            for inner, inner_payload, _ in iter_boxes(data, payload, box_end):
                if inner == b"frma":
                    return data[inner_payload : inner_payload + 4].decode("ascii", "replace")
    raise MP4BoxError(f"{where}: encrypted sample entry without sinf/frma")


def read_fragment(path: Path, init: InitInfo) -> FragmentInfo:
    """Decode time, duration and first-sample sync flag of a CMAF media segment (one or more moofs)."""
    data = path.read_bytes()
    try:
        return parse_fragment(data, init, str(path))
    except MP4BoxError as exc:
        raise _naming(path, exc) from None
    except (struct.error, IndexError) as exc:
        raise MP4BoxError(f"{path}: malformed media segment ({type(exc).__name__}: {exc})") from None


def _naming(path: Path, exc: MP4BoxError) -> MP4BoxError:
    """Box-level errors do not know the file; the user needs it."""
    return exc if str(path) in str(exc) else MP4BoxError(f"{path}: {exc}")


def parse_fragment(data: bytes, init: InitInfo, where: str) -> FragmentInfo:
    """Parse one moof+mdat fragment in memory (a live CMAF chunk as it leaves the encoder)."""
    base_time: int | None = None
    duration = 0
    samples = 0
    first_sync: bool | None = None
    earliest: int | None = None
    for traf, traf_end in find_all(data, ["moof", "traf"]):
        default_duration, default_flags = init.default_sample_duration, init.default_sample_flags
        for kind, payload, _box_end in iter_boxes(data, traf, traf_end):
            if kind == b"tfhd":
                default_duration, default_flags = _tfhd_defaults(data, payload, default_duration, default_flags)
            elif kind == b"tfdt" and base_time is None:
                version = data[payload]
                fmt = ">Q" if version == 1 else ">I"
                base_time = struct.unpack_from(fmt, data, payload + 4)[0]
            elif kind == b"trun":
                if base_time is None:
                    raise MP4BoxError(f"{where}: trun before tfdt")
                count, total, sync, first_pts = _trun(data, payload, default_duration, default_flags)
                if first_sync is None and count:
                    first_sync = sync
                if count:
                    pts = base_time + duration + first_pts
                    earliest = pts if earliest is None else min(earliest, pts)
                samples += count
                duration += total
    if base_time is None:
        raise MP4BoxError(f"{where}: no moof/traf/tfdt box (not a CMAF media segment)")
    return FragmentInfo(base_time, duration, samples, bool(first_sync), base_time if earliest is None else earliest)


def _tfhd_defaults(data: bytes, payload: int, duration: int, flags_default: int) -> tuple[int, int]:
    flags = int.from_bytes(data[payload + 1 : payload + 4], "big")
    offset = payload + 8  # version/flags + track_ID
    if flags & 0x01:
        offset += 8
    if flags & 0x02:
        offset += 4
    if flags & 0x08:
        duration = struct.unpack_from(">I", data, offset)[0]
        offset += 4
    if flags & 0x10:
        offset += 4
    if flags & 0x20:
        flags_default = struct.unpack_from(">I", data, offset)[0]
    return duration, flags_default


def _trun(data: bytes, payload: int, default_duration: int, default_flags: int) -> tuple[int, int, bool, int]:
    """``(sample_count, total_duration, first_sample_is_sync, earliest_pts)`` of one track run.

    ``earliest_pts`` is relative to the run's first decode time; composition offsets are signed in
    version 1 runs (CMAF's negative offsets, so a B-frame stream can present its first frame at 0).
    """
    version = data[payload]
    flags = int.from_bytes(data[payload + 1 : payload + 4], "big")
    count = struct.unpack_from(">I", data, payload + 4)[0]
    offset = payload + 8
    if flags & 0x001:
        offset += 4
    first_flags: int | None = None
    if flags & 0x004:
        first_flags = struct.unpack_from(">I", data, offset)[0]
        offset += 4
    total = 0
    earliest: int | None = None
    cto_format = ">i" if version == 1 else ">I"
    for i in range(count):
        duration = default_duration
        sample_flags = default_flags
        cto = 0
        if flags & 0x100:
            duration = struct.unpack_from(">I", data, offset)[0]
            offset += 4
        if flags & 0x200:
            offset += 4
        if flags & 0x400:
            sample_flags = struct.unpack_from(">I", data, offset)[0]
            offset += 4
        if flags & 0x800:
            cto = struct.unpack_from(cto_format, data, offset)[0]
            offset += 4
        if i == 0 and first_flags is None:
            first_flags = sample_flags
        earliest = total + cto if earliest is None else min(earliest, total + cto)
        total += duration
    sync = first_flags is not None and not (first_flags & _SAMPLE_IS_NON_SYNC)
    return count, total, sync, earliest or 0


def _video_codecs(data: bytes, entry: str, start: int, end: int, where: str) -> str:
    boxes = {kind: payload for kind, payload, _ in iter_boxes(data, start, end)}
    if entry in {"avc1", "avc3"}:
        if b"avcC" not in boxes:
            raise MP4BoxError(f"{where}: {entry} sample entry without avcC")
        c = boxes[b"avcC"]
        # RFC 6381 §3.3: avc1.PPCCLL = profile_idc, constraint flags, level_idc in hex.
        return f"{entry}.{data[c + 1]:02x}{data[c + 2]:02x}{data[c + 3]:02x}"
    if entry in {"hvc1", "hev1"}:
        if b"hvcC" not in boxes:
            raise MP4BoxError(f"{where}: {entry} sample entry without hvcC")
        return _hevc_codecs(entry, data, boxes[b"hvcC"])
    if entry == "av01":
        if b"av1C" not in boxes:
            raise MP4BoxError(f"{where}: av01 sample entry without av1C")
        return _av1_codecs(data, boxes[b"av1C"])
    raise MP4BoxError(f"{where}: video sample entry {entry!r} is not H.264, HEVC or AV1")


def _av1_codecs(data: bytes, c: int) -> str:
    """``av01.P.LLT.DD`` (AV1 ISOBMFF binding, codecs parameter): profile, level, tier, bit depth from av1C."""
    profile = data[c + 1] >> 5
    level = data[c + 1] & 0x1F
    tier = "H" if data[c + 2] & 0x80 else "M"
    high_bitdepth, twelve_bit = data[c + 2] & 0x40, data[c + 2] & 0x20
    depth = 12 if (high_bitdepth and twelve_bit) else 10 if high_bitdepth else 8
    return f"av01.{profile}.{level:02d}{tier}.{depth:02d}"


def _hevc_codecs(entry: str, data: bytes, c: int) -> str:
    """ISO/IEC 14496-15 Annex E: hvc1.<space><profile>.<compat, bit-reversed>.<tier><level>.<constraints>."""
    byte = data[c + 1]
    space = "" if byte >> 6 == 0 else "ABC"[(byte >> 6) - 1]
    tier = "H" if byte & 0x20 else "L"
    profile_idc = byte & 0x1F
    compat = struct.unpack_from(">I", data, c + 2)[0]
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    constraints = list(data[c + 6 : c + 12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    level_idc = data[c + 12]
    parts = [entry, f"{space}{profile_idc}", f"{reversed_compat:x}", f"{tier}{level_idc}"]
    parts += [f"{b:02X}" for b in constraints]
    return ".".join(parts)


def _audio_codecs(data: bytes, entry: str, start: int, end: int, where: str) -> str:
    if entry != "mp4a":
        raise MP4BoxError(f"{where}: audio sample entry {entry!r} is not AAC (mp4a)")
    for kind, payload, box_end in iter_boxes(data, start, end):
        if kind == b"esds":
            object_type, audio_object_type = _esds_types(data, payload + 4, box_end)
            # RFC 6381 §3.3: mp4a.<objectTypeIndication hex>.<audio object type decimal>, e.g. mp4a.40.2 (AAC-LC).
            return f"mp4a.{object_type:02x}.{audio_object_type}" if audio_object_type else f"mp4a.{object_type:02x}"
    raise MP4BoxError(f"{where}: mp4a sample entry without esds")


def _esds_types(data: bytes, offset: int, end: int) -> tuple[int, int]:
    """Walk the ES_Descriptor (tag 3) → DecoderConfigDescriptor (4) → DecoderSpecificInfo (5)."""
    object_type, audio_object_type = 0x40, 0
    while offset < end:
        tag = data[offset]
        offset += 1
        size = 0
        for _ in range(4):
            b = data[offset]
            offset += 1
            size = (size << 7) | (b & 0x7F)
            if not b & 0x80:
                break
        if tag == 0x03:
            flags = data[offset + 2]
            offset += 3
            if flags & 0x80:
                offset += 2
            if flags & 0x40:
                offset += 1 + data[offset]
            if flags & 0x20:
                offset += 2
            continue  # descend into the nested descriptors
        if tag == 0x04:
            object_type = data[offset]
            offset += 13
            continue
        if tag == 0x05:
            audio_object_type = data[offset] >> 3
            if audio_object_type == 31:
                audio_object_type = 32 + (((data[offset] & 0x07) << 3) | (data[offset + 1] >> 5))
            return object_type, audio_object_type
        offset += size
    return object_type, audio_object_type
