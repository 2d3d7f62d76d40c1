"""HDR10 rung beside an SDR ladder, from a generated 10-bit BT.2020 PQ source, packaged by Shaka Packager.

Checked by probing what a player downloads (init + a later segment, decoded by the bundled FFmpeg and
PyAV) and by parsing the manifests with ``m3u8`` and ``mpegdash``; not in chromium (no HEVC there).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import av
import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.packaging.hdr import CICP_TRANSFER, make_hdr_essential
from streamlab.streaming.packaging.shaka import CODEC_MASTERS, TrackInput, repackage
from streamlab.streaming.transcode import hdr
from streamlab.streaming.transcode.encode import INIT_SEGMENT, SEGMENT_GLOB, EncodeJob, video_args
from streamlab.streaming.transcode.ladder import LadderProfile, LadderSettings, Rung, RungSpec

SEGMENT_S = 2.0
MASTER_DISPLAY = "G(8500,39850)B(6550,2300)R(35400,14600)WP(15635,16450)L(40000000,50)"  # BT.2020, 4000 nits
HDR_RUNG = Rung(id="360p_hevc_hdr10_800k", profile=hdr.HDR10_PROFILE, codec="hevc", width=640, height=360,
                bitrate_kbps=800)
SDR_RUNG = Rung(id="360p_500k", profile="main", codec="h264", width=640, height=360, bitrate_kbps=500)


def _pq_source(path: Path) -> Path:
    """4 s of testsrc2 converted (zimg) to BT.2020 / PQ 10-bit, HEVC with its own HDR10 metadata."""
    params = ("hdr10=1:repeat-headers=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:"
              f"master-display={MASTER_DISPLAY}:max-cll=2000,300:log-level=error")
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=4",
                "-vf", "zscale=tin=bt709:pin=bt709:min=bt709:t=smpte2084:p=bt2020:m=2020_ncl:npl=100,format=yuv420p10le",
                "-c:v", "libx265", "-preset", "ultrafast", "-crf", "16", "-profile:v", "main10", "-tag:v", "hvc1",
                "-x265-params", params, *hdr.HDR_COLOUR_TAGS, path], "generating a PQ source")
    return path


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("hdr")
    source = _pq_source(work / "pq.mp4")
    metadata = hdr.probe_hdr10(source)
    assert metadata is not None
    out = work / "title"
    out.mkdir()
    for rung in (HDR_RUNG, SDR_RUNG):
        job = EncodeJob(kind="video", source=source, out_dir=out / rung.id, segment_duration_s=SEGMENT_S,
                        rung=rung, gop_frames=50, preset="ultrafast", threads=1)
        job.out_dir.mkdir()
        run_ffmpeg(hdr.pq_source_video_args(video_args(job), rung, metadata), f"encoding {rung.id}")
    repackage(out, [TrackInput(folder=r.id, kind="video") for r in (HDR_RUNG, SDR_RUNG)], SEGMENT_S)
    return out


def _last_segment(title: Path, rung: Rung, tmp_path: Path) -> Path:
    """init + the last media segment: what a player joining late decodes first."""
    segments = sorted((title / rung.id).glob(SEGMENT_GLOB))
    assert len(segments) == 2
    joined = tmp_path / f"{rung.id}.mp4"
    with joined.open("wb") as sink:
        for part in (title / rung.id / INIT_SEGMENT, segments[-1]):
            sink.write(part.read_bytes())
    return joined


def test_probe_reads_a_pq_sources_own_metadata_and_rejects_sdr(tmp_path: Path) -> None:
    source = _pq_source(tmp_path / "pq.mp4")
    assert hdr.probe_hdr10(source) == hdr.Hdr10Metadata(master_display=MASTER_DISPLAY, max_cll=2000, max_fall=300)
    sdr = tmp_path / "sdr.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=0.2", "-c:v", "libx264", "-pix_fmt", "yuv420p", sdr],
               "generating an SDR source")
    assert hdr.probe_hdr10(sdr) is None


def test_hdr10_rung_keeps_main10_colour_tags_and_static_metadata_in_packaged_segments(
    title: Path, tmp_path: Path
) -> None:
    joined = _last_segment(title, HDR_RUNG, tmp_path)
    with av.open(str(joined)) as container:
        context = container.streams.video[0].codec_context
        assert (context.profile, context.pix_fmt) == ("Main 10", "yuv420p10le")
        assert (context.color_primaries, context.color_trc, context.colorspace) == (9, 16, 9)
        assert container.streams.video[0].codec_context.codec_tag == "hvc1"
    log = run_ffmpeg(["-i", joined, "-vf", "showinfo", "-frames:v", "1", "-f", "null", "-"], "probing").stderr
    assert "Mastering display metadata" in log and "max_luminance=4000.000000" in log
    assert "MaxCLL=2000, MaxFALL=300" in log
    assert "color_space:bt2020nc color_primaries:bt2020 color_trc:smpte2084" in log


def test_sdr_rung_of_a_pq_source_is_tone_mapped_to_bt709(title: Path, tmp_path: Path) -> None:
    log = run_ffmpeg(["-i", _last_segment(title, SDR_RUNG, tmp_path), "-vf", "showinfo", "-frames:v", "1",
                      "-f", "null", "-"], "probing").stderr
    assert "yuv420p(tv, bt709" in log and "Mastering display" not in log
    assert "Content light level" not in log
    # tone-mapped, not re-tagged: PQ code values of a 100-nit picture sit near 50% and read as grey
    stats = run_ffmpeg(["-i", _last_segment(title, SDR_RUNG, tmp_path), "-vf", "signalstats,metadata=print",
                        "-frames:v", "1", "-f", "null", "-"], "measuring").stderr
    ymax = max(float(line.rsplit("=", 1)[1]) for line in stats.splitlines() if "lavfi.signalstats.YMAX=" in line)
    # the same frame only re-tagged peaks at Y=126 (PQ's code value for 100 cd/m2 is 0.508); Hable brings
    # testsrc2's white back up (146-151 here, with the source's 2000-nit MaxCLL as the peak)
    assert ymax > 140


def test_hls_signals_video_range_and_keeps_hdr_out_of_the_default_master(title: Path) -> None:
    default = m3u8.load(str(title / CODEC_MASTERS["h264"]))
    hevc = m3u8.load(str(title / CODEC_MASTERS["hevc"]))
    assert [p.uri for p in default.playlists] == [f"{SDR_RUNG.id}/playlist.m3u8"]
    assert [p.stream_info.video_range for p in default.playlists] == ["SDR"]
    assert [(p.uri, p.stream_info.video_range) for p in hevc.playlists] == [(f"{HDR_RUNG.id}/playlist.m3u8", "PQ")]
    assert "hvc1.2." in hevc.playlists[0].stream_info.codecs  # hvc1 sample entry, Main10 (general_profile_idc 2)
    assert all("VIDEO-RANGE=PQ" in line for line in (title / CODEC_MASTERS["hevc"]).read_text().splitlines()
               if line.startswith("#EXT-X-I-FRAME-STREAM-INF"))


def test_dash_marks_the_pq_set_essential_and_leaves_sdr_supplemental(title: Path) -> None:
    mpd = MPEGDASHParser.parse(str(title / "manifest.mpd"))
    sets = {a.representations[0].id: a for a in mpd.periods[0].adaptation_sets}
    essential = {(p.scheme_id_uri.rsplit(":", 1)[1], p.value) for p in sets[HDR_RUNG.id].essential_properties or []}
    assert essential == {("ColourPrimaries", "9"), ("TransferCharacteristics", "16"), ("MatrixCoefficients", "9")}
    assert not any(p.scheme_id_uri.startswith("urn:mpeg:mpegB:cicp")
                   for p in sets[HDR_RUNG.id].supplemental_properties or [])
    assert not sets[SDR_RUNG.id].essential_properties
    assert sets[HDR_RUNG.id].representations[0].codecs.startswith("hvc1.2.")


def test_make_hdr_essential_is_idempotent_and_ignores_sdr() -> None:
    ns = "urn:mpeg:dash:schema:mpd:2011"
    root = ET.fromstring(f'<MPD xmlns="{ns}"><Period><AdaptationSet><ContentProtection schemeIdUri="x"/>'
                         f'<SupplementalProperty schemeIdUri="{CICP_TRANSFER}" value="16"/><Representation id="a"/>'
                         f'</AdaptationSet><AdaptationSet><SupplementalProperty schemeIdUri="{CICP_TRANSFER}" '
                         'value="1"/></AdaptationSet></Period></MPD>')
    assert make_hdr_essential(root) == 1
    assert make_hdr_essential(root) == 0
    hdr_set = root.find(f"{{{ns}}}Period/{{{ns}}}AdaptationSet")
    assert hdr_set is not None
    assert [c.tag.split("}")[1] for c in hdr_set] == ["ContentProtection", "EssentialProperty", "Representation"]


def test_an_hdr10_rung_that_is_not_hevc_is_one_clear_error(tmp_path: Path) -> None:
    rung = HDR_RUNG.model_copy(update={"codec": "h264", "id": "360p_hdr"})
    job = EncodeJob(kind="video", source=tmp_path / "pq.mp4", out_dir=tmp_path / rung.id, segment_duration_s=2,
                    rung=rung, gop_frames=50)
    with pytest.raises(hdr.HdrError, match="HEVC Main10"):
        hdr.pq_source_video_args(video_args(job), rung, hdr.Hdr10Metadata())


def test_hdr10_rungs_come_from_their_own_profile_only_when_configured_and_never_upscale() -> None:
    sdr = LadderProfile(codec="h264", rungs=[RungSpec(name="360p", width=640, height=360, bitrate_kbps=800)])
    boxes = [RungSpec(name="2160p", width=3840, height=2160, bitrate_kbps=16000),
             RungSpec(name="1080p", width=1920, height=1080, bitrate_kbps=8000)]
    settings = LadderSettings(profiles=["main"], ladders={
        "main": sdr, hdr.HDR10_PROFILE: LadderProfile(codec="hevc", rungs=boxes)})
    assert [(r.id, r.width, r.height) for r in hdr.hdr10_rungs(1920, 1080, settings)] == [
        ("1080p_hevc_hdr10_8000k", 1920, 1080)]
    assert hdr.hdr10_rungs(1920, 1080, LadderSettings(profiles=["main"], ladders={"main": sdr})) == []
    wrong = LadderSettings(profiles=["main"], ladders={"main": sdr, hdr.HDR10_PROFILE: sdr})
    with pytest.raises(hdr.HdrError, match="HEVC Main10"):
        hdr.hdr10_rungs(1920, 1080, wrong)
