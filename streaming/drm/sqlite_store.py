"""One way to open the DRM's SQLite stores: one connection per thread, WAL, a transaction per operation.

WAL lets readers (key lookups, entitlement checks) run while a writer counts token uses, and
``synchronous=NORMAL`` drops the fsync from every commit: a crash loses at most the last moments of
use counts, never a key (keys are written once, at packaging). Reusing each thread's connection
saves the open on the licence path. SQLite's locking (with a timeout) serialises writers across
processes, so the CLI and the server can share a store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_local = threading.local()


def _connection(path: Path) -> sqlite3.Connection:
    connections: dict[Path, sqlite3.Connection] = _local.__dict__.setdefault("connections", {})
    db = connections.get(path)
    if db is None or not path.exists():
        db = sqlite3.connect(path, timeout=10, check_same_thread=True)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        connections[path] = db
    return db


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    db = _connection(path)
    with db:
        yield db
