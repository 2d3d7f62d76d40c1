"""``live start`` / ``live status`` / ``live stop``: background processes tracked by PID files.

``start`` checks everything it can before starting anything (channel name, a second start, the
source, the ports), then starts the channel process (its own session: receivers, transcoder and
origin live in its process group), waits until its SRT listeners are up, starts the contribution
encoder(s) (each in its own session, so one can be killed like a venue losing power), and returns
once the first part is packaged. ``stop`` ends every recorded process *and its descendants*, then
checks that none is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from streamlab.core import project
from streamlab.core.errors import StreamlabError, UsageError
from streamlab.streaming.ffmpeg import FFmpegError, run_ffmpeg
from streamlab.streaming.live.clock import contribution_offset_s
from streamlab.streaming.live.commands import contribution_command, ingest_url, is_lavfi_spec
from streamlab.streaming.live.settings import LiveSettings, channel_media_dir, load_live_settings, validate_channel_name
from streamlab.streaming.live.state import ChannelPaths

CHANNEL_ROLE = "channel"
POLL_S = 0.1


class ChannelError(StreamlabError):
    """A channel cannot start, is not running, or did not come up."""


def _tail(path: Path, lines: int = 4) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def check_source(source: str) -> str:
    """The source as FFmpeg should open it; one clear error if it is missing or holds no video."""
    if is_lavfi_spec(source):
        args = ["-f", "lavfi", "-i", source, "-frames:v", "1", "-f", "null", "-"]
        resolved = source
    else:
        path = project.resolve(source)
        if not path.is_file():
            raise ChannelError(f"source {source!r} does not exist (looked at {path}); give a video file or a lavfi spec such as testsrc2=size=640x360:rate=30")
        resolved = str(path)
        args = ["-i", resolved, "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-"]
    try:
        run_ffmpeg(args, "reading the source", timeout_s=20)
    except FFmpegError as exc:
        raise ChannelError(f"source {source!r} has no decodable video: {exc.stderr_tail}") from None
    return resolved


def source_has_audio(source: str) -> bool:
    """Whether a source file has an audio stream to contribute (a lavfi spec never has: a tone is sent)."""
    if is_lavfi_spec(source):
        return False
    try:
        run_ffmpeg(["-i", source, "-map", "0:a:0", "-frames:a", "1", "-f", "null", "-"], "reading the source's audio", timeout_s=20)
    except FFmpegError:
        return False
    return True


def _check_port(host: str, port: int, kind: int, what: str, protocol: str = "") -> None:
    if port == 0:
        return
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind((host, port))
    except OSError as exc:
        transport = f" ({protocol}, {'TCP' if kind == socket.SOCK_STREAM else 'UDP'})" if protocol else ""
        raise ChannelError(f"{what} port {port}{transport} on {host} is in use ({exc.strerror}); "
                           f"set another, e.g. {_port_key(what)}=<free port>") from None
    finally:
        sock.close()


def _port_key(what: str) -> str:
    return {"origin": "origin.port", "primary ingest": "ingest.primary_port", "backup ingest": "ingest.backup_port"}[what]


def _in_use(host: str, port: int, kind: int) -> bool:
    """A listener holds ``port``: found by failing to bind it, never by connecting (an RTMP
    listener serves one connection, and a probe would be it)."""
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        sock.close()


def _spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with log.open("ab") as handle:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=handle, stderr=handle, start_new_session=True, env=env,
        )
    return process.pid


INGEST_PROTOCOLS = ("srt", "rtmp")
DRM_MODES = ("none", "clearkey")


def start_channel(
    channel: str, source: str | None = None, ingest: str | None = None, overrides: list[str] | None = None,
    drm: str | None = None,
) -> dict[str, Any]:
    """Start a channel and its contribution encoder(s); returns the channel's first state snapshot.

    ``ingest`` (``--ingest``) overrides ``ingest.protocol`` of ``configs/live.yaml`` and ``drm``
    (``--drm``) ``drm.mode``; they travel to the channel process as those overrides, so both sides
    agree.
    """
    validate_channel_name(channel)
    if ingest is not None:
        if ingest not in INGEST_PROTOCOLS:
            raise UsageError(f"--ingest {ingest!r} is not supported; use one of {', '.join(INGEST_PROTOCOLS)}")
        overrides = [*(overrides or []), f"ingest.protocol={ingest}"]
    if drm is not None:
        if drm not in DRM_MODES:
            raise UsageError(f"--drm {drm!r} is not supported; use one of {', '.join(DRM_MODES)}")
        overrides = [*(overrides or []), f"drm.mode={drm}"]
    settings = load_live_settings(overrides)
    if settings.drm.mode == "clearkey":  # no master key or key store: one error now, not a channel that dies
        from streamlab.streaming.live.drm import channel_key

        channel_key(channel)
    paths = ChannelPaths.for_channel(channel)
    running = paths.process(CHANNEL_ROLE)
    if running is not None:
        raise ChannelError(f"channel {channel!r} is already running (pid {running.pid}); `streamlab live stop {channel}` first")
    resolved = check_source(source or settings.contribution.source)
    _check_port(settings.host, settings.origin.port, socket.SOCK_STREAM, "origin")
    listeners = [settings.ingest.primary_port, *([settings.ingest.backup_port] if settings.ingest.backup_port else [])]
    kind = socket.SOCK_STREAM if settings.ingest.protocol == "rtmp" else socket.SOCK_DGRAM
    for what, port in zip(("primary ingest", "backup ingest"), listeners, strict=False):
        _check_port(settings.host, port, kind, f"{what}", settings.ingest.protocol)
    for stale in [paths.state, *paths.folder.glob("*.pid"), *paths.folder.glob("logs/*.log")]:
        stale.unlink(missing_ok=True)
    shutil.rmtree(channel_media_dir(project.media_root(), channel), ignore_errors=True)

    command = [sys.executable, "-m", "streamlab.streaming.live.channel", channel, "--overrides", json.dumps(overrides or [])]
    env = {**os.environ, "STREAMLAB_MEDIA_ROOT": str(project.media_root())}
    paths.record(CHANNEL_ROLE, _spawn(command, paths.log(CHANNEL_ROLE), env))
    try:
        _wait(lambda: paths.read_state() is not None and all(_in_use(settings.host, port, kind) for port in listeners),
              settings.start_timeout_s, paths, "its ingest listeners")
        feeds = [("primary", settings.ingest.primary_port)]
        if settings.ingest.backup_port and settings.contribution.backup:
            feeds.append(("backup", settings.ingest.backup_port))
        for name, port in feeds:
            start_contribution(channel, name, resolved, settings, port)
        _wait(lambda: _first_part(paths), settings.start_timeout_s, paths, "its first part")
    except BaseException:
        stop_channel(channel, settings)
        raise
    state = paths.read_state()
    assert state is not None
    return state


def start_contribution(channel: str, name: str, source: str, settings: LiveSettings, port: int) -> int:
    """Start (or restart) one contribution encoder into the channel's ``port``; records its PID."""
    paths = ChannelPaths.for_channel(channel)
    url = ingest_url(settings, port, channel, "caller")
    command = contribution_command(source, settings.contribution, url, contribution_offset_s(), source_has_audio(source))
    pid = _spawn(command, paths.log(f"contribution-{name}"))
    paths.record(f"contribution-{name}", pid)
    return pid


def _first_part(paths: ChannelPaths) -> bool:
    state = paths.read_state() or {}
    rungs = state.get("rungs") or []
    return bool(rungs) and all(rung.get("last_part") is not None for rung in rungs)


def _wait(ready, timeout_s: float, paths: ChannelPaths, what: str) -> None:  # noqa: ANN001 - a predicate
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if paths.process(CHANNEL_ROLE) is None:
            raise ChannelError(f"the channel process exited before {what}: {_tail(paths.log(CHANNEL_ROLE)) or 'no output'}")
        for role in paths.roles():
            if role.startswith("contribution-") and paths.process(role) is None:
                raise ChannelError(f"the {role} encoder exited before {what}: {_tail(paths.log(role)) or 'no output'}")
        time.sleep(POLL_S)
    logs = "; ".join(f"{role}: {_tail(paths.log(role), 2)}" for role in paths.roles() if _tail(paths.log(role), 2))
    raise ChannelError(f"the channel did not reach {what} within {timeout_s:.0f} s{': ' + logs if logs else ''}")


def channel_status(channel: str) -> dict[str, Any]:
    """The channel's last state snapshot, with ``state`` corrected to ``stopped`` when its process is gone."""
    validate_channel_name(channel)
    paths = ChannelPaths.for_channel(channel)
    state = paths.read_state()
    if state is None:
        raise ChannelError(f"unknown channel {channel!r}: it was never started here (`streamlab live start {channel}`)")
    if paths.process(CHANNEL_ROLE) is None:  # the last snapshot's live figures no longer hold
        state.update(state="stopped", packager_latency_s=None, active_input=None)
        for feed in state.get("inputs", []):
            feed.update(alive=False, receiver_pid=None)
    state["edge_reachable"] = edge_answers(state["edge_url"]) if state.get("edge_url") else False
    state["contributions"] = {
        role.removeprefix("contribution-"): (process.pid if (process := paths.process(role)) else None)
        for role in paths.roles() if role.startswith("contribution-")
    }
    return state


def edge_answers(edge_url: str) -> bool:
    """Whether a delivery edge answers ``/healthz`` at ``edge_url`` (half a second at most)."""

    try:
        return httpx.get(f"{edge_url}/healthz", timeout=0.5, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def channel_processes(channel: str) -> list[psutil.Process]:
    """Every live process of the channel: recorded ones and all their descendants."""
    paths = ChannelPaths.for_channel(channel)
    found: dict[int, psutil.Process] = {}
    for role in paths.roles():
        process = paths.process(role)
        if process is None:
            continue
        found[process.pid] = process
        try:
            for child in process.children(recursive=True):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            pass
    return list(found.values())


def stop_channel(channel: str, settings: LiveSettings | None = None) -> list[int]:
    """Stop the contribution encoders and the channel; returns the PIDs that were ended."""
    validate_channel_name(channel)
    settings = settings or load_live_settings()
    paths = ChannelPaths.for_channel(channel)
    processes = channel_processes(channel)
    if not processes and paths.read_state() is None and not paths.roles():
        raise ChannelError(f"unknown channel {channel!r}: nothing to stop")
    for process in processes:
        try:
            process.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(processes, timeout=settings.stop_timeout_s)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=settings.stop_timeout_s)
    for role in paths.roles():
        paths.pid_file(role).unlink(missing_ok=True)
    state = paths.read_state()
    if state is not None and state.get("state") != "stopped":
        state["state"] = "stopped"
        from streamlab.streaming.live.state import write_json_atomically

        write_json_atomically(paths.state, state)
    return [process.pid for process in processes]
