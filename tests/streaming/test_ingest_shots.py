"""`stream ingest --ladder per-title` with `per_title_method: shots`: shot-based H.264 + AV1 ladders published."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import m3u8
import pytest
import yaml

from streamlab.core.config import config_dir
from streamlab.streaming.catalog import TitleRecord
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.packaging.mp4box import read_fragment, read_init

pytestmark = pytest.mark.slow

SEGMENT_S = 2


@pytest.fixture(scope="module")
def shot_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo's configs with a small shot-based ladder (two sizes, three CRFs, fast presets)."""
    folder = tmp_path_factory.mktemp("configs")
    for f in config_dir().glob("*.yaml"):
        shutil.copy(f, folder / f.name)
    ladder = yaml.safe_load((folder / "ladder.yaml").read_text())
    ladder["per_title_method"] = "shots"
    ladder["segment_duration_s"] = 3  # ingest's segment duration wins: shots must fall on its grid
    ladder["grid"].update(heights=[108, 54], max_resolutions=2, vmaf_subsample=2, max_extensions=1)
    ladder["grid"]["h264"].update(preset="ultrafast", crf=[20, 30, 40])
    ladder["grid"]["av1"].update(preset=12, publish_preset=12, crf=[30, 42, 54])
    ladder["rules"].update(min_bitrate_kbps=5, lowest_throughput_kbps=40)
    (folder / "ladder.yaml").write_text(yaml.safe_dump(ladder))
    return folder


def _ingest_two_shot_title(root: Path, configs: Path) -> TitleRecord:
    """Ingest a 6 s source with one hard cut at 4 s (test card, then a fractal) as title ``cuts`` per-title."""
    source = root / "src" / "cuts.mp4"
    source.parent.mkdir()
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=192x108:rate=25:duration=4",
                "-f", "lavfi", "-i", "mandelbrot=size=192x108:rate=25",
                "-filter_complex", "[1]trim=duration=2,setpts=PTS-STARTPTS[b];[0][b]concat=n=2:v=1[v]",
                "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", source],
               "two-shot source")  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_CONFIG_DIR", str(configs))
        record = ingest_title(source, "cuts", ladder="per-title", media_root=root / "media",
                              overrides=[f"ingest.allowed_roots=[{source.parent}]", "transcode.mode=serial",
                                         f"transcode.segment_duration_s={SEGMENT_S}"])  # fmt: skip
    return record


@pytest.fixture(scope="module")
def published(tmp_path_factory, shot_config):
    root = tmp_path_factory.mktemp("shots-ingest")
    record = _ingest_two_shot_title(root, shot_config)
    return root / "media" / "cuts", record


def test_shot_based_rungs_are_published_for_both_codecs(published) -> None:
    folder, record = published
    assert {r.codec for r in record.renditions} == {"h264", "av1"}
    assert m3u8.load(str(folder / "master.m3u8")).playlists
    assert m3u8.load(str(folder / "master_av1.m3u8")).playlists


def test_shot_based_renditions_share_the_segment_grid_and_honest_names(published) -> None:
    folder, record = published
    grids = set()
    for rendition in record.renditions:
        track = next(folder.glob(f"**/{rendition.id}"))
        init = read_init(track / "init.mp4")
        grids.add(tuple(read_fragment(s, init).base_media_decode_time / init.timescale
                        for s in sorted(track.glob("seg_*.m4s"))))  # fmt: skip
        kbps = int(re.search(r"_(\d+)k(?:_\d+)?$", rendition.id).group(1))
        assert abs(rendition.average_bandwidth_bps / 1000 - kbps) <= 0.03 * kbps + 1  # + the packager's boxes
    assert grids == {(0.0, 2.0, 4.0)}


def test_published_av1_renditions_use_the_publish_params_quantisation_matrices(published, tmp_path: Path) -> None:
    """`grid.av1.publish_params` (committed: quantisation matrices) reaches the published bitstream, shot by shot:
    every AV1 frame header of every rendition says ``using_qmatrix = 1``."""
    folder, record = published
    av1 = [r for r in record.renditions if r.codec == "av1"]
    assert av1
    for rendition in av1:
        track = next(folder.glob(f"**/{rendition.id}"))
        joined = tmp_path / f"{rendition.id}.mp4"
        joined.write_bytes(b"".join(f.read_bytes() for f in [track / "init.mp4", *sorted(track.glob("seg_*.m4s"))]))
        trace = run_ffmpeg(["-i", joined, "-map", "0:v:0", "-c", "copy", "-bsf:v", "trace_headers", "-f", "null", "-"],
                           f"AV1 headers of {rendition.id}").stderr  # fmt: skip
        flags = re.findall(r"using_qmatrix\s+\S+ = (\d)", trace)
        assert flags and set(flags) == {"1"}, f"{rendition.id}: using_qmatrix {sorted(set(flags))}"


def test_predicted_per_shot_ladders_are_published_shot_by_shot(tmp_path_factory, shot_config) -> None:
    """`per_title_method: predicted` with `shots.predicted_per_shot`: no trial grid, per-shot CRFs still published."""
    folder = tmp_path_factory.mktemp("configs-predicted")
    for f in shot_config.glob("*.yaml"):
        shutil.copy(f, folder / f.name)
    ladder = yaml.safe_load((folder / "ladder.yaml").read_text())
    ladder["per_title_method"] = "predicted"
    ladder["shots"]["predicted_per_shot"] = True
    ladder["predictor"]["model_alias"] = "absent-alias-for-tests"  # the committed default model, not the registry
    (folder / "ladder.yaml").write_text(yaml.safe_dump(ladder))
    root = tmp_path_factory.mktemp("predicted-shots-ingest")
    record = _ingest_two_shot_title(root, folder)
    assert {r.codec for r in record.renditions} == {"h264", "av1"}
    published = root / "media" / "cuts"
    for master in ("master.m3u8", "master_av1.m3u8"):
        assert m3u8.load(str(published / master)).playlists
    from streamlab.models.ladder.settings import load_ladder_settings
    from streamlab.streaming.transcode.per_title.optimize import predicted_ladders
    from streamlab.streaming.transcode.per_title.source import source_facts

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_CONFIG_DIR", str(folder))
        settings = load_ladder_settings([f"segment_duration_s={SEGMENT_S}"])
    chosen = predicted_ladders(source_facts(root / "src" / "cuts.mp4", settings), ["h264"], settings)[0]
    assert chosen.method == "predicted" and all(r.shots and len(r.shots) == 2 for r in chosen.rungs)
