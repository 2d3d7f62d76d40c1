"""The eb batch path on two processes (issue 19: 50k events/s on two cores) decides exactly what one detector decides.

:func:`detect_lines` ingests in this process and hands each window's units to a forked child that closes the windows
(:class:`~streamlab.models.qoe.eb.WindowUnits`, :class:`~streamlab.core.forked.ForkedConsumer`). These tests hold the
split to one detector's alerts and counters to the bit, through the branches a hand-off must mirror (a gap that
resets the context, tuples forgotten past ``max_sessions``, empty windows, a file of one window), and the child's
failures to errors in the parent.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from streamlab.core.forked import ForkedConsumer, ForkedConsumerError, fork_available
from streamlab.models.qoe import eb
from streamlab.models.qoe.eb import EbDetector, EbSettings, detect_lines
from streamlab.models.qoe.schema_v2 import parse_event
from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream
from tests.qoe.test_eb_batch import _stream_with_bad_events

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only (these tests fork "
                                "explicitly; fork_available's CPU and thread checks only steer the default)")


def _dump(result: tuple[list[Any], dict[str, int]]) -> tuple[list[str], str]:
    alerts, counts = result
    return [a.model_dump_json() for a in alerts], json.dumps(counts)


@needs_fork
def test_pipelined_batch_gives_the_one_process_alerts_and_counters_to_the_bit() -> None:
    lines = [line.encode() for line in _stream_with_bad_events()]
    one = _dump(detect_lines(lines, pipelined=False))
    two = _dump(detect_lines(lines, pipelined=True))
    assert two == one
    assert one[0], "the incident must page"
    assert detect_lines(lines[:50], pipelined=True)[1] == detect_lines(lines[:50], pipelined=False)[1]  # one window


def _gappy_events() -> list[Any]:
    """Two stretches of traffic with an hour's gap (a context reset) and an incident in the second."""
    groups = {"region": ["zz-north", "zz-south"], "device_class": ["fridge", "car", "watch"]}
    later = START_EPOCH_S + 3 * 3600
    crash = lambda t, d: {"crash": 0.4} if t >= later + 600 and d["device_class"] == "fridge" else {}  # noqa: E731
    raw = steady_stream(6, 30, seed=3, groups=groups) + steady_stream(20, 30, seed=4, start_s=later, groups=groups,
                                                                        effect=crash)
    return [parse_event(e)[0] for e in raw]


def test_a_front_and_its_closer_make_one_detectors_alerts_through_gaps_and_forgotten_tuples() -> None:
    """In process (the hand-off itself, no fork): a reset by a gap, empty windows, tuples forgotten at every close."""
    settings = EbSettings(max_sessions=64, max_gap_windows=40)
    events = _gappy_events()
    one = EbDetector(settings)
    for e in events:
        one.ingest(e)
    expected = [a.model_dump_json() for a in one.flush()]

    front, closer = EbDetector(settings), EbDetector(settings)
    handed: list[eb.WindowUnits] = []
    front.handoff = handed.append
    for e in events:
        front.ingest(e)
    assert front.flush() == []
    alerts: list[Any] = []
    for units in handed:
        alerts = closer.close_units(units)
    assert [a.model_dump_json() for a in alerts] == expected and expected, "the incident must page"
    assert closer.counters["context_resets"] == one.counters["context_resets"] == 1
    assert closer.counters["windows_closed"] == one.counters["windows_closed"]
    assert closer.stats()["groups"] == one.stats()["groups"]
    assert "handoff" not in vars(one), "a detector that is checkpointed keeps its pickled layout"


def _fail_on_third(items: Iterator[int]) -> int:
    total = 0
    for i, item in enumerate(items):
        if i == 2:
            raise ValueError(f"bad item {item}")
        total += item
    return total


def _die(items: Iterator[int]) -> int:
    for _ in items:
        os.kill(os.getpid(), signal.SIGKILL)
    return 0


@needs_fork
def test_a_forked_consumer_returns_its_result_and_reraises_its_exception() -> None:
    with ForkedConsumer(sum) as child:
        for i in range(1000):
            child.send(i)
        assert child.finish() == sum(range(1000))
    with ForkedConsumer(_fail_on_third) as child, pytest.raises(ValueError, match="bad item 2"):
        for i in range(100_000):  # the child is gone after the third; the parent hears of it at a send or at finish
            child.send(i)
        child.finish()


@needs_fork
def test_a_killed_consumer_is_an_error_not_a_hang() -> None:
    with ForkedConsumer(_die) as child, pytest.raises(ForkedConsumerError, match="died"):
        for i in range(100_000):
            child.send(i)
        child.finish()


def _sum_forked(n: int) -> int:
    with ForkedConsumer(sum) as child:
        for i in range(n):
            child.send(i)
        return child.finish()


@needs_fork
def test_a_daemonic_process_forks_its_consumer_too() -> None:
    """A pool's worker (where the benchmark detects) is daemonic: multiprocessing would refuse it a child."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_sum_forked, (100,)) == sum(range(100))


def test_no_fork_while_a_thread_runs() -> None:
    """Forking with a second thread alive can copy a held lock into the child: then the batch stays in process."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert not fork_available()
    finally:
        stop.set()
        thread.join()
