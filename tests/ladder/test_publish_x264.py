"""Published H.264 rungs carry ``grid.h264.publish_params`` (x264 options tuned for bits at equal VMAF on the
tuning clips); trials, the hull and the predictor's grid do not.

What x264 applied is read back from the stream itself: x264 writes its whole settings string into an SEI
message of every encode (``options: cabac=1 ref=5 ... psy_rd=1.00:0.00 ...``), and FFmpeg only *logs* an
x264 option it cannot parse, so the encode log or the command line prove nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from streamlab.models.ladder.decide import LadderDecideRequest, decide
from streamlab.models.ladder.predictor import DEFAULT_DIR, LadderPredictor
from streamlab.models.ladder.schema import Ladder, ShotSetting
from streamlab.models.ladder.settings import load_ladder_settings
from streamlab.streaming.transcode.encode import EncodeJob, encode
from streamlab.streaming.transcode.encoder_args import codec_args
from streamlab.streaming.transcode.per_title.selector import to_stack_rungs
from streamlab.streaming.transcode.per_title.source import inspect_source
from streamlab.streaming.transcode.per_title.trials import build_grid

from .test_publish_preset import FEATURES

X264_PRINTS: dict[str, Callable[[str], str]] = {
    # publish_params key -> the token x264's settings string shows when it applied the value
    "psy": lambda v: f" psy={int(v)} ",
    "psy-rd": lambda v: " psy_rd={:.2f}:{:.2f} ".format(*map(float, v.split(","))),
    "aq-mode": lambda v: f" aq={int(v)}",
    "aq-strength": lambda v: f" aq=\\d:{float(v):.2f}",
    "bframes": lambda v: f" bframes={int(v)} ",
    "b-adapt": lambda v: f" b_adapt={int(v)} ",
    "ref": lambda v: f" ref={int(v)} ",
    "deblock": lambda v: " deblock=1:{}:{} ".format(*v.split(",")),
}


def _x264_settings(stream: bytes) -> list[str]:
    """Every x264 settings string in ``stream`` (one per encode: a shot-based rung has one per shot)."""
    return [m.decode() for m in re.findall(rb"x264 - core \d+[^\x00]*? options: ([^\x00]+)", stream)]


def test_the_shot_and_publish_options_travel_in_one_x264_params() -> None:
    """FFmpeg keeps the last ``-x264-params`` only: stitching (shot by shot) and the publish options must share it."""
    settings = load_ladder_settings()
    request = LadderDecideRequest(features=FEATURES, codecs=["h264"], segment_duration_s=4.0)
    rung = decide(request, LadderPredictor.load(DEFAULT_DIR), settings).ladders[0].rungs[0]
    args = codec_args(rung.encoder, gop_frames=100, segment_duration_s=4.0, threads=1, stitchable=True)
    assert args.count("-x264-params") == 1
    given = dict(kv.split("=", 1) for kv in args[args.index("-x264-params") + 1].split(":"))
    assert given == {"stitchable": "1", **settings.grid.h264.publish_params}
    assert "-x264-params" not in codec_args(rung.encoder.model_copy(update={"params": {}}), gop_frames=100,
                                            segment_duration_s=4.0)  # fmt: skip


def test_a_published_shot_based_h264_rung_carries_the_publish_params(small_source: Path, tmp_path: Path) -> None:
    """The committed x264 options reach the published bitstream, shot by shot, next to ``stitchable=1``;
    the trial grid (what the hull and the predictor see) stays without them."""
    settings = load_ladder_settings(["segment_duration_s=1"])
    params = settings.grid.h264.publish_params
    assert params, "the committed config tunes x264's published rungs (grid.h264.publish_params)"
    unknown = set(params) - set(X264_PRINTS)
    assert not unknown, f"say how x264 prints {sorted(unknown)} in X264_PRINTS"
    request = LadderDecideRequest(features=FEATURES, codecs=["h264"], segment_duration_s=1.0)
    ladder = decide(request, LadderPredictor.load(DEFAULT_DIR), settings).ladders[0]
    assert all(r.encoder.params == params for r in ladder.rungs)
    facts = inspect_source(small_source, 1.0)
    assert all(not spec.encoder.params for spec in build_grid(facts, "h264", settings, tmp_path))

    crf = ladder.rungs[0].encoder.crf or 23.0
    shots = [ShotSetting(start_s=0.0, duration_s=1.0, crf=crf), ShotSetting(start_s=1.0, duration_s=1.0, crf=crf + 6)]
    top = ladder.rungs[0].model_copy(update={"width": 320, "height": 180, "shots": shots, "max_bitrate_kbps": None})
    (rung,) = to_stack_rungs(Ladder(source=str(small_source), method="shots", codec="h264", segment_duration_s=1.0,
                                    rungs=[top]))  # fmt: skip
    out = tmp_path / rung.id
    encode(EncodeJob(kind="video", source=small_source, out_dir=out, segment_duration_s=1.0, rung=rung,
                     gop_frames=25, threads=1))  # fmt: skip
    stream = b"".join(f.read_bytes() for f in [out / "init.mp4", *sorted(out.glob("seg_*.m4s"))])
    found = _x264_settings(stream)
    assert len(found) == 2, f"one x264 settings string per shot, found {len(found)}"
    for options in found:
        options = f" {options} "
        assert " stitchable=1 " in options
        for key, value in params.items():
            assert re.search(X264_PRINTS[key](value), options), f"{key}={value} not applied: {options}"
