"""A two-language title with subtitles: the page's menus offer both audio languages and both subtitle
languages, switch the audio language and the subtitles on and off, in Debian chromium with Shaka Player
(DASH) and hls.js (HLS).

What plays is *heard*, not read from the player: each language is a different tone (440 Hz English,
660 Hz French), and a Web Audio analyser on the video element names the dominant frequency. A player
state that says ``fr`` while English still sounds fails (Shaka 5 had dropped ``selectAudioLanguage``, so
the menu threw and English went on playing while nothing in the player state looked wrong).

The title goes through the real ingest pipeline: a source with two tagged audio streams publishes one
track per language, and the sidecar subtitle files are packaged beside them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamlab.streaming.ffmpeg import run_ffmpeg
from tests.player.conftest import wait_for_page

pytestmark = pytest.mark.slow

TITLE = "two-languages"
SRT_FR = "1\n00:00:00,500 --> 00:00:20,000\nBonjour tout le monde\n"
VTT_EN = "WEBVTT\n\n00:00:00.500 --> 00:00:20.000\nHello everyone\n"
TONE_HZ = {"en": 440.0, "fr": 660.0}
# 8192-point FFT at 48 kHz: 5.9 Hz bins, so a tone is found within one bin either side.
TONE_TOLERANCE_HZ = 12.0
# The element's audio goes through an analyser (and on to the speakers), unmuted: a muted element
# feeds silence to Web Audio. Chromium runs the context without a gesture (--autoplay-policy flag).
LISTEN_JS = """(() => { const video = document.getElementById('video'); const context = new AudioContext();
  const analyser = context.createAnalyser(); analyser.fftSize = 8192;
  context.createMediaElementSource(video).connect(analyser); analyser.connect(context.destination);
  video.muted = false; context.resume(); window.__listen = {context, analyser}; return true; })()"""
DOMINANT_HZ_JS = """(() => { const {context, analyser} = window.__listen;
  const power = new Float32Array(analyser.frequencyBinCount); analyser.getFloatFrequencyData(power);
  let best = 1; for (let i = 2; i < power.length; i++) if (power[i] > power[best]) best = i;
  return best * context.sampleRate / analyser.fftSize; })()"""

# What the viewer reads: Shaka's UI draws subtitles in its own layer over the video; hls.js shows them
# through the video element's text tracks.
SHOWN_SUBTITLES_JS = """[...Array.from(document.querySelectorAll('.shaka-text-container')).map(e => e.innerText),
  ...Array.from(document.getElementById('video').textTracks).filter(t => t.mode === 'showing' && t.cues)
     .flatMap(t => Array.from(t.cues).map(c => c.text))].filter(Boolean).join('|')"""


def hears(language: str) -> str:
    """A page expression true while the dominant frequency is ``language``'s tone."""
    return f"Math.abs(({DOMINANT_HZ_JS}) - {TONE_HZ[language]}) < {TONE_TOLERANCE_HZ}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.ingest import pipeline
    from streamlab.streaming.packaging.subtitles import subtitle

    root = tmp_path_factory.mktemp("languages")
    (root / "src").mkdir()
    source = root / "src" / "clip.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=16",
                "-f", "lavfi", "-i", f"sine=f={TONE_HZ['en']:g}:duration=16",
                "-f", "lavfi", "-i", f"sine=f={TONE_HZ['fr']:g}:duration=16",
                "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                "-ac", "2", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", source],
               "a two-language source")
    (root / "en.vtt").write_text(VTT_EN)
    (root / "fr.srt").write_text(SRT_FR)
    subtitles = [subtitle(root / "en.vtt", "en", "English"), subtitle(root / "fr.srt", "fr", "Français")]

    pipeline.ingest_title(source, TITLE, name="two languages", media_root=root / "media", subtitles=subtitles,
                          overrides=[f"ingest.allowed_roots=[{root / 'src'}]", "transcode.mode=serial",
                                     "transcode.profiles=[mobile]"])
    with running_stack(media_root=root / "media") as running:
        yield running


@pytest.mark.parametrize("protocol", ["dash", "hls"])
def test_the_page_switches_audio_language_and_subtitles(stack: Any, protocol: str) -> None:
    from streamlab.streaming.player.browser import chromium, player_url

    with chromium() as context:
        page = context.new_page()
        page.goto(player_url(stack.edge_url + "/", TITLE, protocol, playback_rate=1.0), wait_until="load")
        wait_for_page(page, "window.streamlab && window.streamlab.state === 'playing' "
                    "&& window.streamlab.audioLanguages.length === 2 && window.streamlab.textLanguages.length === 2")
        state = page.evaluate("({a: window.streamlab.audioLanguages, t: window.streamlab.textLanguages, "
                              "now: window.streamlab.audioLanguage})")
        assert sorted(state["a"]) == ["en", "fr"] and sorted(state["t"]) == ["en", "fr"] and state["now"] == "en"
        assert page.is_visible("#tracks")
        page.evaluate(LISTEN_JS)
        wait_for_page(page, hears("en"))
        page.select_option("#audio-language", "fr")
        wait_for_page(page, "window.streamlab.audioLanguage === 'fr'")
        wait_for_page(page, hears("fr"), timeout_s=15)  # the French track is what plays now
        switched_at = page.evaluate("document.getElementById('video').currentTime")
        assert switched_at < 12, "the switch must land mid-title, not at the end of what was buffered"
        page.select_option("#subtitles", "fr")
        wait_for_page(page, "window.streamlab.textLanguage === 'fr'")
        shown = wait_for_page(page, SHOWN_SUBTITLES_JS)
        assert "Bonjour" in shown and "Hello" not in shown
        before = page.evaluate("document.getElementById('video').currentTime")
        wait_for_page(page, f"document.getElementById('video').currentTime > {before} + 1")  # still playing after the switch
        page.select_option("#subtitles", "")
        wait_for_page(page, "window.streamlab.textLanguage === null")
        assert page.evaluate("window.streamlab.fatalErrors.length") == 0
