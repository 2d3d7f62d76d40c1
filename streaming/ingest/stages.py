"""An ingest's progress by stage, on the shared progress bars (:mod:`streamlab.core.progress`).

A real title's ingest runs for minutes (the demo's: probe, the ladder with its top-rung checks, ten
rungs encoded, packaging, DRM) and used to print nothing until it was done. The title gets one bar
counting its stages; each stage gets a bar of its own, named after it, under which the work that
counts itself (the codecs' top-rung checks, the encodes per track: ``map_tasks``/``track``) draws
its bars. Bars draw on a terminal only (silent in CI logs and when ``STREAMLAB_PROGRESS=0``),
exactly like every other long job's: there is no second mechanism here, only names and counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from streamlab.core.progress import progress_bar

STAGES: tuple[str, ...] = ("probe", "ladder", "encode", "package", "protect", "publish")
"""What ``ingest_title`` does, in order; ``protect`` only when the title is encrypted."""


@dataclass
class IngestProgress:
    """Opens one bar per stage and counts the stages done on the title's bar."""

    title_id: str
    _stage_done: Callable[[float], None]

    @contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[None]:
        """A one-step bar ``<title>: <name> <detail>`` around the stage; the title's bar counts it when it ends."""
        description = f"{self.title_id}: {name}" + (f" {detail}" if detail else "")
        with progress_bar(description, 1) as advance:
            yield
            advance(1)
        self._stage_done(1)


@contextmanager
def ingest_progress(title_id: str, stages: Sequence[str]) -> Iterator[IngestProgress]:
    """The title's bar (``ingest <title>``, N/len(stages) stages) around the stages' own bars."""
    with progress_bar(f"ingest {title_id} ({len(stages)} stages)", total=len(stages)) as advance:
        yield IngestProgress(title_id, advance)
