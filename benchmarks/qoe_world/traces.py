"""Real throughput traces (the 127 Norwegian 3G/HSDPA logs shipped with the ABR data) as 1 s arrays.

A session replays one trace from a random offset, scaled by its ISP and connection, so that its
throughput has the real traces' dips and outages instead of a smooth random walk.
"""

from __future__ import annotations

from pathlib import Path

from streamlab.core import project
from streamlab.core.errors import UsageError


def find_trace_dir(explicit: Path | None = None) -> Path:
    """The project's ABR traces (``streamlab data fetch``), else the shared copy; an explicit one must exist."""
    candidates = (
        (explicit,)
        if explicit is not None
        else (project.raw_data_dir() / "abr" / "train_traces", Path("/work/shared/data/abr/train_traces"))
    )
    for path in candidates:
        if path is not None and path.is_dir() and any(path.iterdir()):
            return path
    raise UsageError(f"no throughput traces in {', '.join(str(p) for p in candidates)} (need Pensieve-format logs)")


def load_traces(folder: Path, limit: int | None = None) -> list[list[float]]:
    """Each trace resampled to one value per second, in kbit/s (the files are `seconds<TAB>Mbit/s`)."""
    traces: list[list[float]] = []
    for path in sorted(folder.iterdir())[:limit]:
        times: list[float] = []
        mbps: list[float] = []
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2:
                times.append(float(parts[0]))
                mbps.append(float(parts[1]))
        if len(times) < 30:
            continue
        per_second: list[float] = []
        j = 0
        for second in range(int(times[-1] - times[0])):
            t = times[0] + second
            while j + 1 < len(times) and times[j + 1] <= t:
                j += 1
            per_second.append(max(mbps[j], 0.02) * 1000.0)
        traces.append(per_second)
    if not traces:
        raise UsageError(f"no usable traces in {folder}")
    return traces
