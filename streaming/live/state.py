"""Where a channel's bookkeeping lives: ``<state dir>/live/<channel>/`` (PID files, state, logs).

PID files are the only link between ``live start``, ``live status`` and ``live stop``, which run
as separate commands; each records a process *and its start time*, so a recycled PID is never
mistaken for (or killed as) one of ours.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from streamlab.core import project


def write_json_atomically(path: Path, payload: object) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=1))
    os.replace(temporary, path)


def start_ticks(pid: int) -> int:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22).

    It never changes while the process lives; psutil's ``create_time()`` adds the kernel's boot
    time, which is wall clock minus uptime and moves by whole seconds when the clock is stepped.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[19])  # fields after "pid (comm)" start at field 3


@dataclass(frozen=True)
class ChannelPaths:
    folder: Path

    @classmethod
    def for_channel(cls, channel: str) -> ChannelPaths:
        folder = project.state_dir() / "live" / channel
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        return cls(folder)

    @property
    def state(self) -> Path:
        return self.folder / "state.json"

    def pid_file(self, role: str) -> Path:
        return self.folder / f"{role}.pid"

    def log(self, role: str) -> Path:
        return self.folder / "logs" / f"{role}.log"

    def record(self, role: str, pid: int) -> None:
        """Write ``<role>.pid``: the PID and its start time in clock ticks since boot.

        Since boot, not since the epoch: psutil's epoch start time adds the kernel's ``btime``,
        which moves (by whole seconds) when the wall clock is stepped or slewed, so a channel that
        ran through that failed the identity check in :meth:`process`, and ``live stop`` left its
        contribution encoder running (seen after 12-minute DVR runs). The tick count never changes.
        """
        write_json_atomically(self.pid_file(role), {"pid": pid, "start_ticks": start_ticks(pid)})

    def process(self, role: str) -> psutil.Process | None:
        """The recorded process if it is still the one we started (same PID *and* start time)."""
        path = self.pid_file(role)
        try:
            recorded = json.loads(path.read_text())
            process = psutil.Process(int(recorded["pid"]))
            if "start_ticks" not in recorded:  # written by an older streamlab: its epoch start time, to 10 ms
                if abs(process.create_time() - float(recorded["create_time"])) > 0.01:
                    return None
            elif start_ticks(process.pid) != int(recorded["start_ticks"]):
                return None
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return process
        except (FileNotFoundError, ProcessLookupError, ValueError, KeyError, TypeError, psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def roles(self) -> list[str]:
        return sorted(path.stem for path in self.folder.glob("*.pid"))

    def read_state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state.read_text())
        except (FileNotFoundError, ValueError):
            return None
