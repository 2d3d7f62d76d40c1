"""Headless-browser playback check: does a published title actually play in a real browser?

Drives Debian's chromium (never a Playwright browser download) with Playwright for Python through
the player page (``static/index.html``), which exposes its state on ``window.streamlab``.
Playback counts only when media time advances *and* decoded frames increase with no fatal player
error: a missing decryption key or an undecodable codec stalls silently (no error event), so
"no error fired" proves nothing (see field-notes.md, "Browser playback").
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from streamlab.core.errors import StreamlabError

CHROMIUM_PATH = Path("/usr/bin/chromium")
# Flags measured to work headless on this machine; QUIC and background traffic off so every
# request goes to the stack under test, autoplay allowed so muted playback starts without a click.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)
VIEWPORT = {"width": 1280, "height": 800}
POLL_INTERVAL_MS = 100
PAGE_READY_TIMEOUT_S = 15.0
# A title that ends counts as fully played when it stopped within this much media time of its end.
END_TOLERANCE_S = 0.25
# MSE type strings probed by the page (static/app.js PROBE_TYPES) and by :func:`codec_support`.
CODEC_PROBES = {
    "h264": 'video/mp4; codecs="avc1.64001f"',
    "hevc": 'video/mp4; codecs="hvc1.1.6.L93.B0"',
    "av1": 'video/mp4; codecs="av01.0.05M.08"',
    "vp9": 'video/mp4; codecs="vp09.00.10.08"',
    "aac": 'audio/mp4; codecs="mp4a.40.2"',
}
READ_STATE_JS = "() => window.streamlab ? JSON.parse(JSON.stringify(window.streamlab)) : null"
Protocol = Literal["hls", "dash"]
PROTOCOLS: tuple[str, ...] = ("hls", "dash")


class BrowserUnavailable(StreamlabError):
    """Chromium or Playwright is missing: playback cannot be checked at all."""


class PlaybackError(StreamlabError):
    """The title did not play: fatal player error, stall, too short, or page unreachable.

    ``result`` holds what the page reported when the check gave up; ``console_errors`` what the
    browser console said.
    """

    def __init__(self, message: str, result: PlaybackResult | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.console_errors = result.console_errors if result else []


@dataclass(frozen=True)
class PlaybackResult:
    """What one playback check observed. Times are media seconds unless named ``wall_s``.

    ``origins`` lists every ``scheme://host:port`` the page requested (page, players, manifests,
    segments): through the delivery stack that is the edge tier, plus the model server the page
    asks for ABR decisions and sends beacons to. ``abr_decisions`` counts segments by where their
    rendition came from (``model``/``fallback``; HLS only), ``abr_fallbacks`` the fallbacks by reason,
    ``beacons_sent``/``beacons_failed`` the QoE events the page posted (static/abr.js, telemetry.js).
    """

    protocol: str
    title_id: str
    advanced_s: float
    decoded_frames: int
    dropped_frames: int
    fatal_error: str | None
    console_errors: list[str]
    rendition: dict[str, Any] | None
    renditions_seen: list[str]
    level_switches: int
    playback_rate: float
    state: str
    warnings: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    ok: bool = False
    abr_decisions: dict[str, int] = field(default_factory=dict)
    abr_fallbacks: dict[str, int] = field(default_factory=dict)
    beacons_sent: int = 0
    beacons_failed: int = 0


@contextmanager
def chromium(headless: bool = True) -> Iterator[Any]:
    """A Playwright ``BrowserContext`` on Debian's chromium with a fresh, throw-away profile.

    One context can serve many checks (each opens its own page), which keeps test modules quick:
    starting chromium costs about a second.
    """
    if not CHROMIUM_PATH.is_file():
        raise BrowserUnavailable(f"chromium not found at {CHROMIUM_PATH}: install it with `make browser`")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a pinned dependency
        raise BrowserUnavailable(f"playwright is not installed: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="streamlab-chromium-") as profile, sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM_PATH),
                headless=headless,
                args=list(CHROMIUM_ARGS),
                viewport=VIEWPORT,
            )
        except PlaywrightError as exc:
            raise BrowserUnavailable(f"could not start {CHROMIUM_PATH}: {exc.message.splitlines()[0]}") from exc
        try:
            yield context
        finally:
            context.close()


def player_url(
    page_url: str,
    title_id: str,
    protocol: str,
    playback_rate: float = 4.0,
    token: str | None = None,
    viewer_token: str | None = None,
) -> str:
    """The page URL that starts ``title_id`` at once: muted autoplay at ``playback_rate``.

    ``token`` is the viewer's playback token for a protected title (the page sends it to the
    licence server as a bearer token); ``viewer_token`` a signed viewer link token
    (``streamlab catalog link``), naming the viewer in the page's QoE beacons.
    """
    parts = urlsplit(page_url)
    params: dict[str, str | int] = {"title": title_id, "protocol": protocol, "autoplay": 1, "rate": f"{playback_rate:g}"}
    if token is not None:
        params["token"] = token
    if viewer_token is not None:
        params["viewer_token"] = viewer_token
    query = urlencode(params)
    merged = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", merged, ""))


def check_playback(
    page_url: str,
    title_id: str,
    protocol: Protocol,
    min_advance_s: float = 5.0,
    timeout_s: float = 60.0,
    screenshot: Path | None = None,
    *,
    playback_rate: float = 4.0,
    token: str | None = None,
    context: Any | None = None,
    viewer_token: str | None = None,
) -> PlaybackResult:
    """Play ``title_id`` over ``protocol`` in headless chromium and return what was observed.

    Loads ``page_url?title=..&protocol=..&autoplay=1&rate=..`` (``page_url`` is the player page,
    normally the edge tier's ``/``) and waits until media time advanced by ``min_advance_s`` with
    decoded frames increasing; a title shorter than that passes by playing through to its end. Raises :class:`PlaybackError` on a fatal player error, on a title
    that ends or stalls before advancing far enough, or after ``timeout_s`` wall seconds. Pass
    ``context`` (from :func:`chromium`) to reuse one browser across checks; ``screenshot`` saves a
    PNG of the page when the check ends, pass or fail; ``token`` is the playback token a protected
    title needs; ``viewer_token`` the signed viewer the beacons speak for.
    """
    if protocol not in PROTOCOLS:
        raise PlaybackError(f"protocol {protocol!r} is not supported: use one of {', '.join(PROTOCOLS)}")
    if min_advance_s <= 0 or timeout_s <= 0 or playback_rate <= 0:
        raise PlaybackError(
            f"min_advance_s, timeout_s and playback_rate must be positive, "
            f"got {min_advance_s}, {timeout_s}, {playback_rate}"
        )
    if context is None:
        with chromium() as own_context:
            return _check(own_context, player_url(page_url, title_id, protocol, playback_rate, token, viewer_token), title_id,
                          protocol, min_advance_s, timeout_s, screenshot)
    return _check(context, player_url(page_url, title_id, protocol, playback_rate, token, viewer_token), title_id, protocol,
                  min_advance_s, timeout_s, screenshot)


def codec_support(page_url: str | None = None, *, context: Any | None = None) -> dict[str, bool]:
    """Which codecs this chromium decodes through Media Source Extensions.

    ``MediaSource.isTypeSupported`` for H.264, HEVC, AV1, VP9 and AAC. The ladder must give the
    browser a codec that is ``True`` here (Debian's chromium decodes H.264 and AV1, not HEVC).
    Probes on ``page_url`` when given (a secure-context origin), else on ``about:blank``.
    """
    if context is None:
        with chromium() as own_context:
            return codec_support(page_url, context=own_context)
    page = context.new_page()
    try:
        page.goto(page_url or "about:blank")
        support = page.evaluate(
            "(types) => Object.fromEntries(Object.entries(types).map("
            "([name, type]) => [name, Boolean(window.MediaSource && MediaSource.isTypeSupported(type))]))",
            CODEC_PROBES,
        )
    finally:
        page.close()
    return {name: bool(ok) for name, ok in support.items()}


def _check(
    context: Any,
    url: str,
    title_id: str,
    protocol: str,
    min_advance_s: float,
    timeout_s: float,
    screenshot: Path | None,
) -> PlaybackResult:
    from playwright.sync_api import Error as PlaywrightError

    shown_url = re.sub(r"token=[^&]*", "token=<redacted>", url)  # also viewer_token=  # errors and logs never carry the token
    console_errors: list[str] = []
    page = context.new_page()
    # Every check is a first-time viewer: with chromium's HTTP cache on, a second check in the same
    # context would get the (immutable, year-long max-age) segments from disk and the edge would
    # never see the requests.
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    origins: list[str] = []
    page.on("request", lambda request: _note_origin(origins, request.url))
    started = time.monotonic()
    deadline = started + timeout_s
    state: dict[str, Any] = {}
    decoded_at_start: int | None = None
    try:
        try:
            page.goto(url, wait_until="load", timeout=min(timeout_s, PAGE_READY_TIMEOUT_S) * 1000)
        except PlaywrightError as exc:
            raise PlaybackError(f"player page {shown_url} did not load: {exc.message.splitlines()[0]}") from exc
        while True:
            try:
                state = page.evaluate(READ_STATE_JS) or {}
            except PlaywrightError as exc:  # the page crashed, navigated away or was closed
                raise PlaybackError(
                    f"{protocol} playback of {title_id!r}: the player page went away ({exc.message.splitlines()[0]}); "
                    f"console: {_tail(console_errors)}",
                    _result(state, protocol, title_id, console_errors, origins, started),
                ) from exc
            result = _result(state, protocol, title_id, console_errors, origins, started)
            if not state and time.monotonic() - started > PAGE_READY_TIMEOUT_S:
                raise PlaybackError(
                    f"player page {shown_url} never set window.streamlab (app.js failed?); console: {_tail(console_errors)}",
                    result,
                )
            if state.get("fatalErrors") or state.get("state") == "error":
                raise PlaybackError(
                    f"{protocol} playback of {title_id!r} failed: {state.get('error')}; console: {_tail(console_errors)}",
                    result,
                )
            if state.get("startTime") is not None and decoded_at_start is None:
                decoded_at_start = int(state.get("decodedFrames") or 0)
            if result.advanced_s >= min_advance_s and decoded_at_start is not None:
                if result.decoded_frames > decoded_at_start:
                    result = _result(state, protocol, title_id, console_errors, origins, started, ok=True)
                    return result
            if state.get("state") == "ended":
                if _played_to_end(state, result, min_advance_s, decoded_at_start):
                    return _result(state, protocol, title_id, console_errors, origins, started, ok=True)
                raise PlaybackError(
                    f"{protocol} playback of {title_id!r} ended after {result.advanced_s:.2f} s of media, "
                    f"short of the {min_advance_s:.2f} s required (title duration {state.get('duration')} s)",
                    result,
                )
            if time.monotonic() > deadline:
                raise PlaybackError(
                    f"{protocol} playback of {title_id!r} advanced only {result.advanced_s:.2f} s of the "
                    f"{min_advance_s:.2f} s required within {timeout_s:.0f} s (state {state.get('state')!r}, "
                    f"{result.decoded_frames} frames decoded, buffer {state.get('bufferAhead_s', 0):.1f} s ahead; "
                    f"stalled: missing key or undecodable codec?); console: {_tail(console_errors)}",
                    result,
                )
            page.wait_for_timeout(POLL_INTERVAL_MS)
    finally:
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            with suppress(PlaywrightError):  # a crashed page has nothing to show; keep the real error
                page.screenshot(path=str(screenshot))
        with suppress(PlaywrightError):
            page.close()


def _result(
    state: dict[str, Any],
    protocol: str,
    title_id: str,
    console_errors: list[str],
    origins: list[str],
    started: float,
    ok: bool = False,
) -> PlaybackResult:
    start_time = state.get("startTime")
    current = float(state.get("currentTime") or 0.0)
    advanced_s = max(0.0, current - float(start_time)) if start_time is not None else 0.0
    return PlaybackResult(
        protocol=protocol,
        title_id=title_id,
        advanced_s=advanced_s,
        decoded_frames=int(state.get("decodedFrames") or 0),
        dropped_frames=int(state.get("droppedFrames") or 0),
        fatal_error=state.get("error"),
        console_errors=list(console_errors),
        rendition=state.get("rendition"),
        renditions_seen=list(state.get("renditionsSeen") or []),
        level_switches=int(state.get("levelSwitches") or 0),
        playback_rate=float(state.get("playbackRate") or 0.0),
        state=str(state.get("state") or "unknown"),
        warnings=[f"{w.get('source')}: {w.get('message')}" for w in state.get("warnings") or []],
        origins=list(origins),
        wall_s=time.monotonic() - started,
        ok=ok,
        abr_decisions={k: int(v) for k, v in ((state.get("abr") or {}).get("decisions") or {}).items()},
        abr_fallbacks={k: int(v) for k, v in ((state.get("abr") or {}).get("fallbacks") or {}).items()},
        beacons_sent=int((state.get("beacons") or {}).get("sent") or 0),
        beacons_failed=int((state.get("beacons") or {}).get("failed") or 0),
    )


def _played_to_end(state: dict[str, Any], result: PlaybackResult, min_advance_s: float, decoded_at_start: int | None) -> bool:
    """A title shorter than ``min_advance_s`` passes by playing from its start through its end."""
    duration_s, start_s = state.get("duration"), state.get("startTime")
    if duration_s is None or start_s is None or decoded_at_start is None:
        return False
    required_s = min(min_advance_s, float(duration_s) - float(start_s)) - END_TOLERANCE_S
    return result.advanced_s >= required_s and result.decoded_frames > decoded_at_start


def _note_origin(origins: list[str], url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)


def _tail(lines: list[str], count: int = 3) -> str:
    return " | ".join(lines[-count:]) if lines else "(none)"
