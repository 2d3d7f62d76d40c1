"""Shot-based ladders end to end on a small three-shot clip: detection, per-shot grid, encode shot by shot."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.models.ladder.settings import load_ladder_settings
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.packaging.mp4box import read_fragment, read_init
from streamlab.streaming.quality import measure_quality
from streamlab.streaming.transcode.encode import EncodeJob, encode, gop_frames
from streamlab.streaming.transcode.per_title.selector import to_stack_rungs
from streamlab.streaming.transcode.per_title.shots import detect_cuts, shot_search
from streamlab.streaming.transcode.per_title.source import inspect_source

pytestmark = pytest.mark.slow

SEGMENT_S = 1.0


@pytest.fixture(scope="module")
def three_shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """192x108, 7 s: 3 s of testsrc2, 2.5 s of mandelbrot (cut at 3 s), 1.5 s of cellauto (cut at 5.5 s).

    cellauto fills its first row at random unless seeded: unseeded, every run scored another clip, and
    the check below failed once in the 27 runs on record (the verify scored the top rung without its VBV caps).
    """
    out = tmp_path_factory.mktemp("shots") / "three.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=192x108:rate=25:duration=3",
                "-f", "lavfi", "-i", "mandelbrot=size=192x108:rate=25",
                "-f", "lavfi", "-i", "cellauto=s=192x108:rate=25:seed=15",
                "-filter_complex", "[1]trim=duration=2.5,setpts=PTS-STARTPTS[b];[2]trim=duration=1.5,"
                "setpts=PTS-STARTPTS[c];[0][b][c]concat=n=3:v=1[v]",
                "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", out],
               "three-shot source")  # fmt: skip
    return out


def settings_for(codec_crfs: str):  # noqa: ANN201
    return load_ladder_settings([
        f"segment_duration_s={SEGMENT_S}", "grid.heights=[108,54]", "grid.max_resolutions=2",
        "grid.h264.preset=ultrafast", "grid.av1.preset=12", "grid.av1.publish_preset=12", codec_crfs,
        "grid.vmaf_subsample=1",
        "grid.max_extensions=1", "rules.min_bitrate_kbps=5", "rules.lowest_throughput_kbps=40",
        "rules.top_vmaf=95",
    ])  # fmt: skip


def test_ffmpeg_scene_score_finds_the_cuts(three_shots: Path) -> None:
    cuts = detect_cuts(three_shots, 0.3)
    assert cuts.times_s == pytest.approx([3.0, 5.5], abs=0.05)  # 2.5 s of 25 fps is 63 frames: 5.52 s


@pytest.mark.parametrize("codec, crfs", [("h264", "grid.h264.crf=[20,30,40]"), ("av1", "grid.av1.crf=[30,42,54]")])
def test_shot_ladder_is_encoded_shot_by_shot_on_the_segment_grid(three_shots, tmp_path, codec, crfs) -> None:
    settings = settings_for(crfs)
    facts = inspect_source(three_shots, SEGMENT_S)
    search = shot_search(facts, codec, settings)
    # the 5.5 s cut snaps to the nearest segment boundary (5 or 6 s): every shot is whole segments
    assert search.shots[0] == (0.0, 3.0) and all(start % SEGMENT_S == 0 for start, _ in search.shots)
    assert len(search.shots) == 3
    ladder = search.ladder
    top, bottom = ladder.rungs[0], ladder.rungs[-1]
    assert top.expected_vmaf >= 95 or top.width == 192  # the ceiling, unless even the source size cannot
    # the top rung was encoded as published (publish preset, every frame scored) and measured, not only trialled
    assert search.verify_cpu_s > 0 and top.measured_vmaf == top.expected_vmaf
    assert any("verified shot by shot" in note for note in ladder.notes)
    assert bottom.bitrate_kbps <= 40 * 1.05
    for rung in ladder.rungs:
        assert rung.shots is not None and len(rung.shots) == 3

    # the rung the stack encodes: shot by shot at the chosen CRFs, joined into aligned CMAF segments
    stack_rung = next(r for r in to_stack_rungs(ladder) if r.id == ladder.rungs[0].id)
    job = EncodeJob(kind="video", source=three_shots, out_dir=tmp_path / stack_rung.id, rung=stack_rung,
                    segment_duration_s=SEGMENT_S, gop_frames=gop_frames(25, SEGMENT_S))  # fmt: skip
    encode(job)
    init = read_init(job.out_dir / "init.mp4")
    starts = [read_fragment(s, init).base_media_decode_time / init.timescale
              for s in sorted(job.out_dir.glob("seg_*.m4s"))]  # fmt: skip
    assert starts == [float(n) for n in range(len(starts))] and len(starts) >= 7
    playlist = job.out_dir / "playlist.m3u8"
    measured = measure_quality(playlist, three_shots)
    assert measured.frames_scored == measured.reference_frames
    # what the ladder publishes is what is delivered, per shot too: the verify scored the rung under its VBV caps
    # (uncapped, this clip's last shot measured 93.2 and was delivered at 100); only the thread count differs
    assert abs(measured.vmaf.mean - top.expected_vmaf) < 0.5
    frames, first = measured.per_frame["vmaf"], 0
    for shot in top.shots or []:
        n = round(shot.duration_s * 25)
        assert shot.expected_vmaf is not None
        assert abs(sum(frames[first : first + n]) / n - shot.expected_vmaf) < 1.0, (shot, first)
        first += n


def test_hull_grid_extends_to_the_ceiling_and_the_lowest_throughput(small_source: Path) -> None:
    # AV1 at CRF 44-56 stops short of VMAF 95 (why AV1 ladders ended at 88-93): the grid must reach further
    from streamlab.streaming.transcode.per_title.optimize import hull_search

    settings = load_ladder_settings(["segment_duration_s=1", "grid.heights=[180,90]", "grid.max_resolutions=2",
                                     "grid.av1.preset=12", "grid.av1.crf=[44,56]", "grid.max_extensions=2",
                                     "rules.min_bitrate_kbps=5", "rules.lowest_throughput_kbps=20"])  # fmt: skip
    search = hull_search(inspect_source(small_source, 1.0), "av1", settings)
    base = [p for p in search.points if p.encoder.crf in (44, 56)]
    assert max(p.vmaf for p in base) < 95 <= search.ladder.rungs[0].expected_vmaf
    # and the cheapest grid point is over the lowest throughput named: a higher CRF gives the bottom rung
    assert min(p.bitrate_kbps for p in base) > 20 >= search.ladder.rungs[-1].bitrate_kbps
    # the same search again recalls every trial (with the CPU it cost then); cache=False measures them all now,
    # as `ladder acceptance` does for the CPU it sets beside a fresh shot search
    again = hull_search(inspect_source(small_source, 1.0), "av1", settings)
    assert all(p.remembered for p in again.points) and again.ladder.decision_cpu_s == search.ladder.decision_cpu_s
    fresh = hull_search(inspect_source(small_source, 1.0), "av1", settings, cache=False)
    assert not any(p.remembered for p in fresh.points) and len(fresh.points) == len(search.points)
    assert "remembered" not in fresh.points[0].model_dump_json()


def test_shot_features_are_each_shots_own(three_shots: Path, tmp_path: Path) -> None:
    """Per-shot SI/TI and probe of a shot equal the title features of that shot cut out on its own."""
    from streamlab.streaming.transcode.per_title.features import shot_features, title_features

    settings = load_ladder_settings(["segment_duration_s=1", "predictor.si_ti_max_frames=75"])
    facts = inspect_source(three_shots, SEGMENT_S)
    shots = [(0.0, 3.0), (3.0, 2.0), (5.0, 2.0)]
    features = shot_features(facts, shots, settings.predictor)
    assert len(features) == 3 and features[0].cpu_s > 0 and features[1].cpu_s == 0  # the CPU is counted once
    alone = tmp_path / "shot2.mp4"
    run_ffmpeg(["-ss", "3", "-t", "2", "-i", three_shots, "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
                "-pix_fmt", "yuv420p", alone], "cutting shot 2")  # fmt: skip
    own = title_features(inspect_source(alone, SEGMENT_S), settings.predictor)
    assert features[1].si_mean == pytest.approx(own.si_mean, rel=0.02)
    assert features[1].probe_bpp == pytest.approx(own.probe_bpp, rel=0.05)
    # and the shots really differ (testsrc2, mandelbrot, cellauto): a title average would hide it
    assert abs(features[0].si_mean - features[1].si_mean) > 0.1 * own.si_mean


def test_predicted_shot_ladder_needs_no_trial_encodes_and_is_what_predicted_ingest_publishes(three_shots: Path) -> None:
    from streamlab.models.ladder.predictor import DEFAULT_DIR, LadderPredictor
    from streamlab.streaming.transcode.per_title.optimize import predicted_ladders
    from streamlab.streaming.transcode.per_title.shots import predicted_shot_search

    settings = settings_for("grid.h264.crf=[20,30,40]")
    facts = inspect_source(three_shots, SEGMENT_S)
    predictor = LadderPredictor.load(DEFAULT_DIR)
    search = predicted_shot_search(facts, "h264", settings, predictor)
    assert len(search.shots) == 3 and search.ladder.method == "predicted"
    assert search.cpu_s == pytest.approx(search.detect_cpu_s + search.features_cpu_s + search.verify_cpu_s)
    # the top rung was encoded shot by shot and measured: within the tolerance of the ceiling, or the best it got
    top = search.ladder.rungs[0]
    assert search.verify_cpu_s > 0 and top.measured_vmaf is not None
    assert any("verified shot by shot" in note for note in search.ladder.notes)
    assert top.measured_vmaf >= 95 - settings.verify.tolerance_vmaf or top.shots[0].crf <= 20
    for rung in search.ladder.rungs:
        assert rung.shots is not None and [(s.start_s, s.duration_s) for s in rung.shots] == search.shots
    # `--ladder per-title` (method predicted) publishes exactly this when shots.predicted_per_shot is on
    on = settings.model_copy(update={"shots": settings.shots.model_copy(update={"predicted_per_shot": True})})
    wired = predicted_ladders(facts, ["h264"], on, predictor)[0]
    assert [r.shots for r in wired.rungs] == [r.shots for r in search.ladder.rungs]
    off = predicted_ladders(facts, ["h264"], settings.model_copy(update={"verify": settings.verify.model_copy(
        update={"enabled": False})}), predictor)[0]  # fmt: skip
    assert all(r.shots is None for r in off.rungs)
