"""Invariants every LL-HLS media playlist we publish must satisfy, shared by the unit property
test (synthetic chunks) and the running-channel test (real FFmpeg output)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import m3u8


@dataclass(frozen=True)
class Snapshot:
    """The facts of one playlist that the invariants compare across reloads."""

    first_msn: int
    segments: list[tuple[int, str, float, float, bool]]  # (msn, uri, pdt, duration, discontinuity)
    parts: list[tuple[int, int, str, bool]]  # (msn, index, uri, independent)
    hint: str | None
    skipped: int
    discontinuities: frozenset[int]  # segments (complete or open) that start after EXT-X-DISCONTINUITY


def parse(text: str) -> tuple[m3u8.M3U8, Snapshot]:
    playlist = m3u8.loads(text)
    assert playlist.server_control.can_block_reload == "YES"
    assert playlist.part_inf is not None and playlist.part_inf.part_target > 0
    assert playlist.server_control.part_hold_back >= 2 * playlist.part_inf.part_target
    assert playlist.server_control.can_skip_until >= 6 * playlist.target_duration
    skipped = playlist.skip.skipped_segments if playlist.skip else 0
    first = playlist.media_sequence + skipped
    segments, parts, discontinuities = [], [], set()
    for offset, segment in enumerate(playlist.segments):
        msn = first + offset
        for index, part in enumerate(segment.parts):
            parts.append((msn, index, part.uri, bool(part.independent == "YES")))
        if segment.uri:
            pdt = segment.program_date_time  # m3u8's current_program_date_time is the segment's *end*
            assert pdt is not None, f"segment {msn} has no program date-time"
            segments.append((msn, segment.uri, pdt.timestamp(), segment.duration, bool(segment.discontinuity)))
    msn = first  # m3u8 drops EXT-X-DISCONTINUITY before the open (parts-only) segment: read the tags
    for line in text.splitlines():
        if line == "#EXT-X-DISCONTINUITY":
            discontinuities.add(msn)
        elif line and not line.startswith("#"):
            msn += 1
    hint = playlist.preload_hint.uri if playlist.preload_hint else None
    return playlist, Snapshot(playlist.media_sequence, segments, parts, hint, skipped, frozenset(discontinuities))


def check_one(text: str) -> Snapshot:
    """Invariants inside one playlist."""
    _, snap = parse(text)
    msns = [s[0] for s in snap.segments]
    assert msns == sorted(set(msns)), f"segment numbers not increasing: {msns}"
    keys = [(p[0], p[1]) for p in snap.parts]
    assert keys == sorted(set(keys)), f"parts not in order: {keys}"
    for msn, index, uri, independent in snap.parts:
        assert uri == f"seg{msn}.{index}.m4s"
        if index == 0:
            assert independent, f"part {uri} opens a segment but is not INDEPENDENT"
    for (msn, _, pdt, duration, _), following in zip(snap.segments, snap.segments[1:], strict=False):
        if not following[4]:  # PDT continuous except at a signalled discontinuity
            assert abs(following[2] - (pdt + duration)) < 0.002, f"PDT jumps between segment {msn} and {following[0]}"
    if snap.parts and snap.hint:
        last_msn, last_index = snap.parts[-1][0], snap.parts[-1][1]
        assert snap.hint in (f"seg{last_msn}.{last_index + 1}.m4s", f"seg{last_msn + 1}.0.m4s"), snap.hint
    return snap


def check_sequence(before: Snapshot, after: Snapshot) -> None:
    """Invariants across two reloads of the same playlist."""
    assert after.first_msn >= before.first_msn
    last_before = max([(p[0], p[1]) for p in before.parts], default=(-1, -1))
    last_after = max([(p[0], p[1]) for p in after.parts], default=(-1, -1))
    assert last_after >= last_before, f"the live edge went back: {last_before} -> {last_after}"
    old = {s[0]: s for s in before.segments}
    for segment in after.segments:
        if segment[0] in old:
            assert old[segment[0]][1:4] == segment[1:4], f"segment {segment[0]} changed between reloads"
    following = [p for p in after.parts if (p[0], p[1]) > last_before]
    if before.hint and before.parts and following and following[0][0] not in after.discontinuities:
        assert following[0][2] == before.hint, f"preload hint {before.hint} but the next part was {following[0][2]}"


def check_delta(full: str, delta: str) -> None:
    """A delta update equals the full playlist with the first SKIPPED-SEGMENTS segments left out."""
    _, full_snap = parse(full)
    _, delta_snap = parse(delta)
    assert delta_snap.first_msn == full_snap.first_msn
    full_by_msn = {s[0]: s for s in full_snap.segments}
    for segment in delta_snap.segments:
        assert full_by_msn.get(segment[0]) == segment, f"segment {segment[0]} differs in the delta update"
    kept = [s for s in full_snap.segments if s[0] >= full_snap.first_msn + delta_snap.skipped]
    assert [s[0] for s in delta_snap.segments] == [s[0] for s in kept]


def pdt_of(text: str) -> datetime | None:
    playlist = m3u8.loads(text)
    return playlist.segments[0].program_date_time if playlist.segments else None
