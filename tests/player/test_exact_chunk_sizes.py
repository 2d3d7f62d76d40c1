"""The headless player prices chunks with the sizes the playlists state, in every episode of a binge."""

from __future__ import annotations

from streamlab.streaming.headless.manifest import PlayerRung, PlayerTitle, binge, nominal_sizes
from streamlab.streaming.headless.player import request_for


def _title() -> PlayerTitle:
    rungs = tuple(
        PlayerRung(bitrate_kbps=kbps, peak_kbps=kbps * 1.2, resolution="?", init_url="i",
                   segment_urls=("a", "b", "c"), segment_durations_s=(4.0, 4.0, 1.0),
                   segment_sizes_bytes=tuple(int(kbps * 125 * d * f) for d, f in ((4.0, 0.5), (4.0, 1.5), (1.0, 1.0))))
        for kbps in (500.0, 1500.0)
    )
    return PlayerTitle("t", "http://127.0.0.1/master.m3u8", rungs)


def test_a_binge_keeps_the_real_sizes_after_the_first_episode() -> None:
    title = binge(_title(), 3)
    assert len(title.rungs[0].segment_sizes_bytes) == len(title.rungs[0].segment_urls) == 9
    request = request_for(title, 4, 0, 4.0, [], None, horizon=2)  # episode 2, chunk 2
    assert [r.chunk_sizes_bytes for r in request.ladder] == [list(r.segment_sizes_bytes[1:3]) for r in _title().rungs]


def test_nominal_sizes_leave_pricing_to_bitrate_times_duration() -> None:
    request = request_for(nominal_sizes(_title()), 0, 0, 4.0, [], None)
    assert [r.chunk_sizes_bytes for r in request.ladder] == [None, None]
    assert [r.bitrate_kbps for r in request.ladder] == [500.0, 1500.0]
