"""Several audio tracks per title: one CMAF track per language (stereo, or 5.1 kept as 5.1).

A source may carry dubbed audio (``-metadata:s:a:N language=fra``) and a surround mix. Each audio
stream becomes ``audio_<lang>`` (``audio_<lang>_51`` for a 5.1 mix) so packaging can signal it as
an ``EXT-X-MEDIA`` rendition and a DASH AdaptationSet with ``lang``. Language tags are checked
here, before anything is encoded: a track tagged ``und`` or with a code no standard defines would
be published as a menu entry no player can name, so it is one clear error instead.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from streamlab.core.errors import StreamlabError
from streamlab.streaming.ffmpeg import FFmpegError, ffmpeg_exe, run_ffmpeg
from streamlab.streaming.transcode.encode import INIT_SEGMENT, SEGMENT_PATTERN

ISO_639_1 = set(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee "
    "el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is "
    "it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms "
    "mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk "
    "sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi "
    "yo za zh zu".split()
)
"""Every ISO 639-1 code: what DASH ``lang`` / HLS ``LANGUAGE`` (BCP 47) use for a language that has one."""
ISO_639_2: dict[str, str] = {
    "ara": "ar", "bul": "bg", "cat": "ca", "ces": "cs", "cze": "cs", "chi": "zh", "zho": "zh", "dan": "da",
    "deu": "de", "ger": "de", "ell": "el", "gre": "el", "eng": "en", "spa": "es", "est": "et", "fas": "fa",
    "per": "fa", "fin": "fi", "fra": "fr", "fre": "fr", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu",
    "ind": "id", "ita": "it", "jpn": "ja", "kor": "ko", "lit": "lt", "lav": "lv", "msa": "ms", "may": "ms",
    "nld": "nl", "dut": "nl", "nor": "no", "nob": "nb", "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro",
    "rus": "ru", "slk": "sk", "slo": "sk", "slv": "sl", "srp": "sr", "swe": "sv", "tha": "th", "tur": "tr",
    "ukr": "uk", "vie": "vi", "cym": "cy", "wel": "cy", "eus": "eu", "baq": "eu", "glg": "gl", "isl": "is",
    "ice": "is", "gle": "ga", "mlt": "mt", "tam": "ta", "tel": "te", "urd": "ur", "ben": "bn", "yue": "yue",
}
"""ISO 639-2 (what MP4/Matroska metadata carries) to the BCP 47 tag players show; ``yue`` has no 639-1 code."""
_BCP47 = re.compile(r"^(?P<language>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|\d{3}))?$")
_STREAM = re.compile(r"Stream #0:(?P<index>\d+)(?:\[0x[0-9a-f]+\])?(?:\((?P<lang>[^)]*)\))?: Audio: [^,]+, "
                     r"(?P<rate>\d+) Hz, (?P<layout>[^,]+)")
SURROUND_BITRATE_KBPS = 384


class AudioTrackError(StreamlabError):
    pass


@dataclass(frozen=True)
class AudioStream:
    """One audio stream of a source: its position among the audio streams, language and layout."""

    order: int  # 0-based among the source's audio streams (``-map 0:a:<order>``)
    language: str  # BCP 47, normalized
    channels: int  # 2 or 6 after encoding

    @property
    def folder(self) -> str:
        return f"audio_{self.language.lower()}" + ("_51" if self.channels == 6 else "")

    @property
    def name(self) -> str:
        return f"{self.language}" + (" 5.1" if self.channels == 6 else "")


def normalize_language(tag: str | None, where: str) -> str:
    """``tag`` as a BCP 47 tag players name (``eng`` -> ``en``, ``pt-br`` -> ``pt-BR``); unknown: an error."""
    match = _BCP47.match((tag or "").strip())
    if match is None:
        raise AudioTrackError(f"{where}: language tag {tag!r} is not a BCP 47 / ISO 639 code")
    language = match.group("language").lower()
    if len(language) == 3:
        if language not in ISO_639_2:
            raise AudioTrackError(f"{where}: unknown language tag {tag!r} (und/mul/zxx or a code no standard defines)")
        language = ISO_639_2[language]
    elif language not in ISO_639_1:
        raise AudioTrackError(f"{where}: unknown language tag {tag!r} (not an ISO 639-1 code)")
    parts = [language]
    if match.group("script"):
        parts.append(match.group("script").title())
    if match.group("region"):
        parts.append(match.group("region").upper())
    return "-".join(parts)


def probe_audio_streams(source: Path) -> list[AudioStream]:
    """The source's audio streams with normalized languages; 5.1 (or more) stays 5.1, the rest is stereo."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(source)], capture_output=True, text=True,
                            timeout=60)
    streams = []
    for order, match in enumerate(_STREAM.finditer(result.stderr)):
        language = normalize_language(match.group("lang"), f"{source.name} audio stream {order}")
        layout = match.group("layout").strip()
        channels = 6 if layout.startswith(("5.1", "6 channels", "7.1")) else 2
        streams.append(AudioStream(order, language, channels))
    folders = [s.folder for s in streams]
    duplicates = sorted({f for f in folders if folders.count(f) > 1})
    if duplicates:
        raise AudioTrackError(f"{source.name}: two audio streams would both be {duplicates[0]} "
                              "(same language and layout); tag them apart")
    return streams


def encode_audio_tracks(source: Path, title_dir: Path, streams: list[AudioStream], *, bitrate_kbps: int,
                        segment_duration_s: float, sample_rate_hz: int = 48000) -> list[Path]:
    """One AAC-LC CMAF track per stream (``init.mp4`` + ``seg_*.m4s``), cut every ``segment_duration_s``."""
    folders = []
    for stream in streams:
        out = title_dir / stream.folder
        out.mkdir(parents=True, exist_ok=True)
        kbps = SURROUND_BITRATE_KBPS if stream.channels == 6 else bitrate_kbps
        try:
            run_ffmpeg(["-i", source, "-map", f"0:a:{stream.order}", "-vn", "-sn", "-dn", "-c:a", "aac",
                        "-b:a", f"{kbps}k", "-ac", str(stream.channels), "-ar", str(sample_rate_hz),
                        "-f", "hls", "-hls_time", f"{segment_duration_s:g}", "-hls_playlist_type", "vod",
                        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", INIT_SEGMENT, "-start_number", "1",
                        "-hls_segment_filename", out / SEGMENT_PATTERN, out / "encoder.m3u8"],
                       f"encoding audio {stream.folder} of {source.name}")
        except FFmpegError as exc:
            raise AudioTrackError(str(exc)) from None
        (out / "encoder.m3u8").unlink(missing_ok=True)
        folders.append(out)
    return folders
