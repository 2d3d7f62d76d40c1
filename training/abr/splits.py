"""The validation split: by file, stratified across Norway HSDPA and FCC, with a fixed seed."""

from __future__ import annotations

import numpy as np

from streamlab.models.abr.traces import Trace, trace_group


def split_traces(traces: list[Trace], validation_fraction: float, seed: int) -> tuple[list[Trace], list[Trace]]:
    """(train, validation), each in sorted name order; every group keeps at least one of each."""
    rng = np.random.default_rng(seed)
    train: list[Trace] = []
    validation: list[Trace] = []
    for group in sorted({trace_group(t.name) for t in traces}):
        members = sorted((t for t in traces if trace_group(t.name) == group), key=lambda t: t.name)
        order = rng.permutation(len(members))
        n_val = int(round(validation_fraction * len(members)))
        n_val = min(max(n_val, 1), len(members) - 1) if len(members) > 1 else 0
        chosen = set(order[:n_val].tolist())
        for i, trace in enumerate(members):
            (validation if i in chosen else train).append(trace)
    return sorted(train, key=lambda t: t.name), sorted(validation, key=lambda t: t.name)
