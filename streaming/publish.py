"""Publish a title atomically: build it out of sight, then make it visible with one rename.

A title is built under ``<media_root>/.staging/<title>-<random>/`` (same filesystem, so the
final ``rename`` is atomic) and only then moved to ``<media_root>/<title_id>``. The origin and
the catalog therefore see either no title or a complete one. Any failure, including Ctrl-C,
removes the staging folder.

Replacing a published title swaps the two folders with ``renameat2(RENAME_EXCHANGE)`` (Linux),
so readers see the old title or the new one and never a gap; where that call is unavailable it
falls back to two renames with a moment in between when the title is absent (never half-written).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streamlab.streaming.catalog import STAGING_DIR, title_dir
from streamlab.streaming.ingest.errors import TitleExists

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@contextmanager
def staging_dir(media_root: Path, title_id: str) -> Iterator[Path]:
    """A fresh private folder for building ``title_id``; removed on exit unless it was published."""
    staging_root = media_root / STAGING_DIR
    path = staging_root / f"{title_id}-{secrets.token_hex(4)}"
    path.mkdir(parents=True)  # creates .staging too; racing ingests never see it vanish in between
    try:
        yield path
    finally:
        _remove_tree(path)
        _remove_if_empty(staging_root)


def sweep_stale_staging(media_root: Path, older_than_s: float) -> list[Path]:
    """Remove staging folders left by ingests that were killed (SIGKILL, power loss) long ago.

    A live ingest touches its folder continuously, so anything untouched for ``older_than_s``
    is an orphan. Returns what was removed.
    """
    staging_root = media_root / STAGING_DIR
    if not staging_root.is_dir():
        return []
    now = time.time()
    removed = []
    for child in staging_root.iterdir():
        try:
            newest = max([child.stat().st_mtime] + [p.stat().st_mtime for p in child.rglob("*")])
        except OSError:
            continue  # vanished while we looked: its own ingest is cleaning up
        if now - newest > older_than_s:
            _remove_tree(child)
            removed.append(child)
    _remove_if_empty(staging_root)
    return removed


def _remove_tree(path: Path, attempts: int = 5) -> None:
    """rmtree that tolerates a straggling writer (an FFmpeg still closing its last segment)."""
    for attempt in range(attempts):
        if not path.exists():
            return
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.1 * (attempt + 1))


def publish(staged: Path, media_root: Path, title_id: str, *, replace: bool) -> Path:
    """Move ``staged`` to ``<media_root>/<title_id>``; refuse an existing title unless ``replace``."""
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
    if _exchange(staged, target):
        _remove_tree(staged)  # now holds the previous version
        return target
    retired = staged.with_name(staged.name + "-old")
    os.rename(target, retired)
    os.rename(staged, target)
    _remove_tree(retired)
    return target


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
