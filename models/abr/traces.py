"""Throughput traces in the Mahimahi/Pensieve "cooked" format.

One line per sample: ``<time s> <throughput Mbit/s>``, whitespace separated. Line ``i`` describes
the interval ``(t[i-1], t[i]]`` (see :mod:`streamlab.models.abr.simulator`), so a trace needs at least two
lines, strictly increasing times and non-negative throughput, and must deliver *some* data or a
download would never finish. Every problem is reported with the file and 1-based line number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamlab.models.abr.errors import TraceFormatError


@dataclass(frozen=True)
class Trace:
    """One throughput trace: sample times (s) and throughputs (Mbit/s), as read from ``path``."""

    name: str
    time_s: np.ndarray
    bandwidth_mbps: np.ndarray

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1] - self.time_s[0])

    def scaled(self, factor: float) -> Trace:
        """The same trace with every throughput multiplied by ``factor`` (training augmentation)."""
        return Trace(f"{self.name}*{factor:.3g}", self.time_s, self.bandwidth_mbps * factor)


def parse_trace(text: str, name: str) -> Trace:
    """Parse trace text; ``name`` is used in error messages (the file path) and as the trace name."""
    times: list[float] = []
    rates: list[float] = []
    data_lines: list[int] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        data_lines.append(line_no)
        if len(fields) < 2:
            raise TraceFormatError(
                f"{name}:{line_no}: expected '<time s> <throughput Mbit/s>', got {raw.strip()!r}"
            )
        try:
            time_s, rate = float(fields[0]), float(fields[1])
        except ValueError:
            raise TraceFormatError(
                f"{name}:{line_no}: non-numeric value in {raw.strip()!r}; expected two numbers"
            ) from None
        if not (math.isfinite(time_s) and math.isfinite(rate)):
            raise TraceFormatError(f"{name}:{line_no}: values must be finite, got {raw.strip()!r}")
        if rate < 0:
            raise TraceFormatError(f"{name}:{line_no}: negative throughput {rate} Mbit/s; must be >= 0")
        if times and time_s <= times[-1]:
            raise TraceFormatError(
                f"{name}:{line_no}: time {time_s} s is not after the previous line's {times[-1]} s;"
                " times must strictly increase"
            )
        times.append(time_s)
        rates.append(rate)
    if not times:
        raise TraceFormatError(f"{name}:1: empty trace; a trace needs at least 2 (time, throughput) lines")
    if len(times) < 2:
        raise TraceFormatError(
            f"{name}:{data_lines[0]}: the only data line; a trace needs at least 2 (time, throughput) lines"
        )
    if not any(r > 0 for r in rates[1:]):
        raise TraceFormatError(
            f"{name}: every interval has zero throughput (lines 2..{len(times)}); nothing could download"
        )
    return Trace(Path(name).name, np.asarray(times, dtype=float), np.asarray(rates, dtype=float))


def load_trace(path: Path) -> Trace:
    path = Path(path)
    if not path.is_file():
        raise TraceFormatError(f"{path}: trace file not found")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise TraceFormatError(f"{path}: not a text file (cannot decode as UTF-8)") from None
    trace = parse_trace(text, str(path))
    return Trace(path.name, trace.time_s, trace.bandwidth_mbps)


def load_traces(directory: Path) -> list[Trace]:
    """Every regular, non-hidden file in ``directory``, in sorted file-name order.

    The order matters: the reference evaluation runs traces in sorted order in one process and
    RobustMPC's error memory carries across traces (see :mod:`streamlab.models.abr.policies.mpc`).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise TraceFormatError(f"{directory}: trace directory not found")
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise TraceFormatError(f"{directory}: no trace files in the directory")
    return [load_trace(p) for p in files]


def trace_category(name: str) -> str:
    """The report's category of a trace: ``fcc`` or the Norway HSDPA transport (``bus``, ``car``,
    ``ferry``, ``metro``, ``train``, ``tram``: the file name's first dotted part)."""
    return "fcc" if trace_group(name) == "fcc" else name.split(".", 1)[0]


def trace_group(name: str) -> str:
    """The dataset a training trace comes from: ``fcc`` (``trace_*`` files) or ``norway`` (HSDPA)."""
    return "fcc" if name.startswith("trace_") else "norway"
