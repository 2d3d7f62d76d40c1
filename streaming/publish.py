"""Publish a title atomically: build it out of sight, then make it visible with one rename.

A title is built under ``<media_root>/.staging/<title>-<random>/`` (same filesystem, so the
final ``rename`` is atomic) and only then moved to ``<media_root>/<title_id>``. The origin and
the catalog therefore see either no title or a complete one. Any failure, including Ctrl-C,
removes the staging folder.

Replacing a published title swaps the two folders with ``renameat2(RENAME_EXCHANGE)`` (Linux),
so readers see the old title or the new one and never a gap; where that call is unavailable it
falls back to two renames with a moment in between when the title is absent (never half-written).
A versioned title (see :mod:`streamlab.streaming.catalog`) is replaced without a swap: its new
``<version>/`` folder moves in beside the old one, then the manifests that name it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from streamlab.streaming.catalog import STAGING_DIR, TITLE_RECORD, VERSION_PATTERN, title_dir
from streamlab.streaming.ingest.errors import TitleExists

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


STAGING_LOCK_SUFFIX = ".lock"
"""``.staging/<name>.lock`` beside each staging folder: its ingest holds an exclusive ``flock`` on it."""


@contextmanager
def staging_dir(media_root: Path, title_id: str) -> Iterator[Path]:
    """A fresh private folder for building ``title_id``; removed on exit unless it was published.

    The ingest holds an exclusive ``flock`` on ``<folder>.lock`` for as long as it runs. The kernel
    releases it when the process dies however it dies (SIGKILL, OOM killer), so the next ingest can
    tell an orphan from a live build without trusting PIDs (which are reused) or file ages.
    """
    staging_root = media_root / STAGING_DIR
    path = staging_root / f"{title_id}-{secrets.token_hex(4)}"
    path.mkdir(parents=True)  # creates .staging too; racing ingests never see it vanish in between
    lock = _lock_path(path)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh name: nobody else can hold it
        os.write(fd, f"{os.getpid()}\n".encode())  # for a person looking; the flock is what counts
        yield path
    finally:
        _remove_tree(path)
        lock.unlink(missing_ok=True)
        os.close(fd)
        _remove_if_empty(staging_root)


def sweep_stale_staging(media_root: Path, older_than_s: float) -> list[Path]:
    """Remove staging folders left by ingests that were killed (SIGKILL, power loss, OOM).

    A folder whose lock no live process holds is an orphan, whatever its age; a folder without a
    lock (written before locks existed) is an orphan once untouched for ``older_than_s``. A live
    ingest's folder is never touched. Returns what was removed.
    """
    staging_root = media_root / STAGING_DIR
    if not staging_root.is_dir():
        return []
    now = time.time()
    removed = []
    for child in sorted(staging_root.iterdir()):
        if child.name.endswith(STAGING_LOCK_SUFFIX):
            if not child.with_name(child.name.removesuffix(STAGING_LOCK_SUFFIX)).exists():
                _remove_orphan(child, None)  # a lock whose folder is gone: its owner died between the two removals
            continue
        lock = _lock_path(child)
        if lock.exists():
            if _remove_orphan(lock, child):
                removed.append(child)
            continue
        try:
            newest = max([child.stat().st_mtime] + [p.stat().st_mtime for p in child.rglob("*")])
        except OSError:
            continue  # vanished while we looked: its own ingest is cleaning up
        if now - newest > older_than_s:
            _remove_tree(child)
            removed.append(child)
    _remove_if_empty(staging_root)
    return removed


def _lock_path(staged: Path) -> Path:
    return staged.with_name(staged.name + STAGING_LOCK_SUFFIX)


def _remove_orphan(lock: Path, folder: Path | None) -> bool:
    """Remove ``folder`` and ``lock`` if no live process holds the lock; False when its ingest still runs."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False  # removed meanwhile by its own ingest
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # held: a live ingest
        if folder is not None:
            _remove_tree(folder)
        lock.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def _remove_tree(path: Path, attempts: int = 5) -> None:
    """rmtree that tolerates a straggling writer (an FFmpeg still closing its last segment)."""
    for attempt in range(attempts):
        if not path.exists():
            return
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.1 * (attempt + 1))


def write_version_aliases(title_root: Path, version: str) -> list[Path]:
    """Write ``<title_root>/<name>`` for each top-level manifest of ``<title_root>/<version>/``.

    Clients that know only ``/media/<title>/master.m3u8`` (the headless player, scripts) keep
    working: the alias is the version's manifest with every relative URI prefixed by the version
    (HLS) or with an MPD-level ``BaseURL`` (DASH), so it, too, names only that version's segments.
    """
    written = []
    for manifest in sorted((title_root / version).iterdir()):
        if manifest.suffix == ".m3u8":
            text = _prefix_hls(manifest.read_text(), f"{version}/")
        elif manifest.suffix == ".mpd":
            text = _prefix_mpd(manifest.read_text(), f"{version}/")
        else:
            continue
        alias = title_root / manifest.name
        alias.write_text(text)
        written.append(alias)
    return written


_HLS_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')


def _is_relative(uri: str) -> bool:
    return bool(uri) and not urlsplit(uri).scheme and not uri.startswith("/")


def _prefix_hls(text: str, prefix: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            line = _HLS_URI_ATTRIBUTE.sub(
                lambda m: f'URI="{prefix + m.group(1) if _is_relative(m.group(1)) else m.group(1)}"', line
            )
        elif _is_relative(line.strip()):
            line = prefix + line.strip()
        lines.append(line)
    return "\n".join(lines) + "\n"


def _prefix_mpd(text: str, prefix: str) -> str:
    """An MPD-level ``BaseURL`` (ISO/IEC 23009-1 §5.6) resolves every SegmentTemplate below it."""
    if "<BaseURL" in text:
        raise ValueError("the MPD already has a BaseURL: cannot alias it by prefixing")
    at = text.find("<Period")
    if at < 0:
        raise ValueError("the MPD has no Period")
    line_start = text.rfind("\n", 0, at) + 1
    indent = text[line_start:at]
    return text[:line_start] + f"{indent}<BaseURL>{prefix}</BaseURL>\n" + text[line_start:]


def publish(staged: Path, media_root: Path, title_id: str, *, replace: bool, version: str | None = None,
            keep_versions: int = 2) -> Path:
    """Move ``staged`` to ``<media_root>/<title_id>``; refuse an existing title unless ``replace``.

    With ``version``, ``staged`` is a whole versioned title folder (``title.json``, the aliases and
    ``<version>/``). Replacing a versioned title then moves only ``<version>/`` in (nothing points at
    it yet), swaps the aliases and ``title.json`` one atomic rename each (every one of them names a
    single version, so no reader ever mixes two), and keeps the newest ``keep_versions`` versions so
    viewers mid-playback on the previous one can finish it.
    """
    target = title_dir(media_root, title_id)
    if not target.exists():
        try:
            os.rename(staged, target)
            return target
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # another ingest published the same id a moment ago: handled as an existing title
    if not replace:
        raise TitleExists(title_id, target)
    if version is not None and published_version(target) is not None:
        _publish_version(staged, target, version, keep_versions)
        return target
    if _exchange(staged, target):
        _remove_tree(staged)  # now holds the previous version
        return target
    retired = staged.with_name(staged.name + "-old")
    os.rename(target, retired)
    os.rename(staged, target)
    _remove_tree(retired)
    return target


def published_version(target: Path) -> str | None:
    """The version a published title folder serves, or None (flat layout, or unreadable)."""
    try:
        version = json.loads((target / TITLE_RECORD).read_text()).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) and VERSION_PATTERN.fullmatch(version) and (target / version).is_dir() else None


def _publish_version(staged: Path, target: Path, version: str, keep_versions: int) -> None:
    os.rename(staged / version, target / version)  # invisible: no manifest names it yet
    new_files = {p.name for p in staged.iterdir() if p.is_file()}
    for name in sorted(new_files - {TITLE_RECORD}) + [TITLE_RECORD]:  # the catalog entry last
        os.replace(staged / name, target / name)
    for old in target.iterdir():  # aliases of manifests the new version no longer has
        if old.is_file() and old.suffix in (".m3u8", ".mpd") and old.name not in new_files:
            old.unlink(missing_ok=True)
    versions = sorted((p for p in target.iterdir() if p.is_dir() and VERSION_PATTERN.fullmatch(p.name)),
                      key=lambda p: p.name, reverse=True)
    for retired in versions[max(1, keep_versions):]:
        if retired.name != version:
            _remove_tree(retired)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories; False where the kernel or filesystem cannot."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
