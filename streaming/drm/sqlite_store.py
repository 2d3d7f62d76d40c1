"""One way to open the DRM's SQLite stores: a short-lived connection per operation, in a transaction.

Short-lived connections keep the stores safe to use from the licence server's threads and from the
CLI at the same time; SQLite's own locking (with a timeout) serialises writers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(path, timeout=10)
    try:
        with db:
            yield db
    finally:
        db.close()
