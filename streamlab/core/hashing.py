"""Content hashes of files: "the same file" means the same bytes, not the same name or time.

One streamed SHA-256 for every place that asks (fetched datasets, recsys training files, registered
model artifacts), read in 1 MiB blocks so a multi-gigabyte file costs no memory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path | str) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
