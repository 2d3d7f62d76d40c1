"""Per-title renditions are named after what their encode averages, not what the optimizer expected."""

from __future__ import annotations

from pathlib import Path

from streamlab.models.ladder.grid import encoder_for
from streamlab.streaming.transcode.encode import name_by_measurement
from streamlab.streaming.transcode.ladder import Rung


def encoded(build: Path, folder: str, segment_bytes: list[int], segment_s: float = 4.0) -> None:
    track = build / folder
    track.mkdir(parents=True)
    lines = ["#EXTM3U"]
    for n, size in enumerate(segment_bytes, start=1):
        (track / f"seg_{n:05d}.m4s").write_bytes(b"\0" * size)
        lines += [f"#EXTINF:{segment_s:.6f},", f"seg_{n:05d}.m4s"]
    (track / "playlist.m3u8").write_text("\n".join(lines) + "\n")


def test_per_title_rungs_take_their_measured_average_and_fixed_rungs_keep_their_target(tmp_path: Path) -> None:
    capped = encoder_for("h264", "slow", None, 23.0, rate_control="capped_crf")
    rungs = [
        Rung(id="720p_3793k", profile="per-title", codec="h264", width=1280, height=720, bitrate_kbps=3793, encoder=capped),
        # expected 820k, really 3,793k: its true name is the one the first rung was wrongly given
        Rung(id="720p_820k", profile="per-title", codec="h264", width=1280, height=720, bitrate_kbps=820, encoder=capped),
        Rung(id="360p_800k", profile="main", codec="h264", width=640, height=360, bitrate_kbps=800),
    ]
    encoded(tmp_path, "720p_3793k", [794_500, 794_500])  # 1,589 kbit/s over 8 s
    encoded(tmp_path, "720p_820k", [1_896_625, 1_896_625])  # 3,793 kbit/s
    encoded(tmp_path, "360p_800k", [300_000, 300_000])
    renamed = name_by_measurement(tmp_path, rungs, 8.0)
    assert [(r.id, r.bitrate_kbps) for r in renamed] == [("720p_1589k", 1589), ("720p_3793k", 3793), ("360p_800k", 800)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["360p_800k", "720p_1589k", "720p_3793k"]
    assert (tmp_path / "720p_3793k" / "seg_00001.m4s").stat().st_size == 1_896_625  # the right folder moved


def test_equal_measurements_keep_ids_unique(tmp_path: Path) -> None:
    capped = encoder_for("av1", "8", None, 30.0, rate_control="capped_crf")
    rungs = [Rung(id=f"360p_av1_{k}k", profile="per-title", codec="av1", width=640, height=360, bitrate_kbps=k,
                  encoder=capped) for k in (500, 400)]  # fmt: skip
    for rung in rungs:
        encoded(tmp_path, rung.id, [250_000])
    assert [r.id for r in name_by_measurement(tmp_path, rungs, 4.0)] == ["360p_av1_500k", "360p_av1_500k_2"]


def test_a_shot_rung_off_the_segment_grid_is_refused(tmp_path: Path) -> None:
    import pytest

    from streamlab.models.ladder.schema import ShotSetting
    from streamlab.streaming.transcode.encode import EncodeFailed, EncodeJob, encode

    shots = [ShotSetting(start_s=0, duration_s=2, crf=30), ShotSetting(start_s=2, duration_s=2, crf=34)]
    rung = Rung(id="360p_500k", profile="per-title", codec="h264", width=640, height=360, bitrate_kbps=500,
                encoder=encoder_for("h264", "veryfast", None, 30.0, rate_control="capped_crf"), shots=shots)  # fmt: skip
    job = EncodeJob(kind="video", source=tmp_path / "never-read.mp4", out_dir=tmp_path / rung.id, rung=rung,
                    segment_duration_s=4.0, gop_frames=100)  # fmt: skip
    with pytest.raises(EncodeFailed, match="not on the 4 s segment grid"):
        encode(job)
