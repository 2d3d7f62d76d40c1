"""Ingest of a 10-bit BT.2020 PQ source: the title gets the HDR10 rungs of the ``hdr10`` ladder beside its SDR
ladder, and the SDR rungs are tone-mapped (no HDR side data); an SDR source gets no HDR rung."""

from __future__ import annotations

from pathlib import Path

import av
import m3u8

from streamlab.streaming.catalog import published_dir
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.transcode import hdr

MASTER_DISPLAY = "G(8500,39850)B(6550,2300)R(35400,14600)WP(15635,16450)L(10000000,50)"


def _pq_source(path: Path) -> Path:
    params = ("hdr10=1:repeat-headers=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:"
              f"master-display={MASTER_DISPLAY}:max-cll=1000,400:log-level=error")
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=4",
                "-vf", "zscale=tin=bt709:pin=bt709:min=bt709:t=smpte2084:p=bt2020:m=2020_ncl:npl=100,format=yuv420p10le",
                "-c:v", "libx265", "-preset", "ultrafast", "-crf", "20", "-profile:v", "main10", "-tag:v", "hvc1",
                "-x265-params", params, *hdr.HDR_COLOUR_TAGS, path], "generating a PQ source")
    return path


def test_a_pq_source_gets_hdr10_rungs_and_a_tone_mapped_sdr_ladder(source_dir: Path, fast: list[str],
                                                                   media_root: Path) -> None:
    source = _pq_source(source_dir / "pq.mp4")
    record = ingest_title(source, "hdr", overrides=[*fast, "transcode.profiles=[mobile]"], media_root=media_root)
    hdr_rungs = [r for r in record.renditions if "hdr10" in r.id]
    sdr_rungs = [r for r in record.renditions if r.codec == "h264"]
    assert [r.height for r in hdr_rungs] == [720] and sdr_rungs, [r.id for r in record.renditions]
    title = published_dir(media_root, record)
    for rendition, transfer, pix_fmt in ((hdr_rungs[0], 16, "yuv420p10le"), (sdr_rungs[0], 1, "yuv420p")):
        init = title / rendition.id / "init.mp4"
        first = sorted((title / rendition.id).glob("*.m4s"))[0]
        with av.open(str(_joined(init, first, media_root.parent / f"{rendition.id}.mp4"))) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.pix_fmt == pix_fmt
            assert stream.codec_context.color_trc == transfer, rendition.id
    hevc = m3u8.load(str(title / "master_hevc.m3u8"))
    ranges = {p.uri.split("/")[0]: p.stream_info.video_range for p in hevc.playlists}
    assert ranges[hdr_rungs[0].id] == "PQ"


def test_an_sdr_source_gets_no_hdr_rung(clip_360p_silent: Path) -> None:
    assert hdr.probe_hdr10(clip_360p_silent) is None


def _joined(init: Path, segment: Path, out: Path) -> Path:
    out.write_bytes(init.read_bytes() + segment.read_bytes())
    return out
