"""Ray, the same way everywhere: local by default, a cluster by ``RAY_ADDRESS`` or config.

Every distributed pipeline (encoding probes, rollouts, tuning, batch scoring) calls
:func:`init_ray` and :func:`map_tasks`, so going from a laptop to a cluster is a config change.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from streamlab.core import project
from streamlab.core.progress import progress_bar

T = TypeVar("T")
R = TypeVar("R")


def init_ray(num_cpus: int | None = None) -> None:
    """Start (or join) Ray once per process.

    Local Ray runs without the dashboard and with usage stats off; ``RAY_ADDRESS`` (or
    ``ray.address`` in ``configs/project.yaml``) joins an existing cluster instead.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    import ray

    if ray.is_initialized():
        return
    settings = project.settings().ray
    address = os.environ.get("RAY_ADDRESS") or settings.address
    # Workers import streamlab's packages; the editable install makes them importable there too.
    if address:
        ray.init(address=address, logging_level="warning", log_to_driver=False)
    else:
        # A local, loopback-only Ray needs no token; token auth stays whatever a cluster sets.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(
            num_cpus=num_cpus or settings.num_cpus,
            include_dashboard=False,
            logging_level="warning",
            log_to_driver=False,
        )


def map_tasks(
    fn: Callable[..., R],
    items: Sequence[T] | Iterable[T],
    description: str,
    num_cpus: float = 1,
    **remote_options: Any,
) -> list[R]:
    """Run ``fn(item)`` for every item as Ray tasks; results in input order, progress as they land.

    Errors raised in a task re-raise here with their original type, so a bad input fails the
    pipeline with the same clear message it would give in-process.
    """
    import ray

    init_ray()
    remote_fn = ray.remote(num_cpus=num_cpus, **remote_options)(fn)
    items = list(items)
    refs = [remote_fn.remote(item) for item in items]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    pending = list(refs)
    with progress_bar(description, total=len(refs)) as advance:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    results[index[ref]] = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    for other in pending:  # the pipeline has failed: stop spending cores on it
                        ray.cancel(other, force=True)
                    raise exc.as_instanceof_cause() from None
                advance()
    return results
