"""Alert records and the tracker that turns per-window causes into alerts.

An alert opens when the same (dimension, value) is named the cause in ``confirm_windows``
consecutive windows (or as many as the cause itself asks, :attr:`Cause.confirm`; or in one window scoring
``instant_ratio`` times the threshold: a blip of two chance failures in a small group is not worth a page, a collapse
is), stays open while it keeps being named, and closes after ``close_after_windows`` quiet windows. ``start`` is the
first flagged window's start, ``end`` the last flagged window's end, ``detected_at`` the end of the window that
confirmed it (the moment an operator would be paged, so detection delay = ``detected_at`` - incident start).

"Consecutive" is in the naming lane's own steps: a lane scored every ``every`` windows (:attr:`Cause.every`) can name a
cause at most that often, so its run continues across that gap; counted in windows, a cause only that lane sees
could confirm only through the instant bar (20+ minutes for a sparse device model's crash).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel

Severity = Literal["minor", "major", "critical"]


class Alert(BaseModel):
    id: str
    start: float
    end: float
    detected_at: float
    dimension: str
    value: str
    severity: Severity
    score: float
    detector: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Cause:
    """One window's attributed cause: the group, its detector score, and what it saw."""

    window: int
    dimension: str
    value: str
    score: float
    evidence: dict[str, Any]
    every: int = 1
    """The naming lane's interval in windows: a run of namings continues across a gap this long."""
    confirm: int | None = None
    """Namings in a row that confirm it (None: the tracker's ``confirm_windows``). A lane whose consecutive scorings
    share most of their span gains little from a second look (:attr:`EbSettings.long_confirm`)."""


def severity(score: float, threshold: float) -> Severity:
    ratio = score / threshold if threshold > 0 else float("inf")
    return "critical" if ratio >= 3.0 else "major" if ratio >= 1.5 else "minor"


@dataclass
class _Open:
    first: int
    last: int
    run: int
    confirmed_at: int | None
    peak: Cause
    ident: str | None = None
    every: int = 1
    """The interval of the lane that named it last: an alert stays open across two of that lane's scorings."""
    lane: str = ""
    """The lane that named it last (``evidence["lane"]``, where the detector has lanes)."""


@dataclass
class AlertTracker:
    window_s: float
    threshold: float
    detector: str
    confirm_windows: int = 1
    close_after_windows: int = 4
    instant_ratio: float = float("inf")
    open: dict[tuple[str, str], _Open] = field(default_factory=dict)
    closed: list[Alert] = field(default_factory=list)
    _count: int = 0

    def feed(self, window: int, causes: list[Cause]) -> list[Alert]:
        """Advance to ``window`` with its causes; return alerts confirmed in this window."""
        opened = []
        for cause in causes:
            key = (cause.dimension, cause.value)
            state = self.open.get(key)
            if state is None or window - state.last > self.quiet(state) + 1:
                if state is not None:
                    self._close(key)
                state = self.open[key] = _Open(window, window, 0, None, cause)
            state.run = state.run + 1 if window - state.last <= max(cause.every, 1) else 1
            state.last = window
            state.every = max(cause.every, 1)
            state.lane = str(cause.evidence.get("lane", ""))
            if cause.score > state.peak.score:
                state.peak = cause
            strong = cause.score >= self.instant_ratio * self.threshold if self.threshold > 0 else True
            need = self.confirm_windows if cause.confirm is None else cause.confirm
            if state.confirmed_at is None and (state.run >= need or strong):
                state.confirmed_at = window
                state.ident = f"a{self._count:04d}"
                self._count += 1
                opened.append(self._alert(key, state))
        for key in [k for k, s in self.open.items() if window - s.last > self.quiet(s)]:
            self._close(key)
        return opened

    def quiet(self, state: _Open) -> int:
        """Windows without a naming before ``state`` closes: ``close_after_windows``, or two scorings of a lane that
        scores less often (a long lane every 10 windows would otherwise close its alert between its scorings). A
        cause named every window keeps ``close_after_windows`` exactly, whatever it is set to (the sequence detector's
        own record of open alerts counts it so)."""
        return max(self.close_after_windows, 2 * state.every) if state.every > 1 else self.close_after_windows

    def open_alerts(self) -> list[Alert]:
        """The alerts confirmed and still open (a live channel's status shows them while they last)."""
        return [self._alert(key, state) for key, state in self.open.items() if state.confirmed_at is not None]

    def _alert(self, key: tuple[str, str], state: _Open) -> Alert:
        return Alert(id=state.ident or "", start=state.first * self.window_s, end=(state.last + 1) * self.window_s,
                     detected_at=((state.confirmed_at if state.confirmed_at is not None else state.last) + 1) * self.window_s,
                     dimension=key[0], value=key[1], severity=severity(state.peak.score, self.threshold),
                     score=round(float(state.peak.score), 4), detector=self.detector, evidence=state.peak.evidence)

    def _close(self, key: tuple[str, str]) -> None:
        state = self.open.pop(key)
        if state.confirmed_at is not None:
            self.closed.append(self._alert(key, state))

    def finish(self) -> list[Alert]:
        for key in list(self.open):
            self._close(key)
        return sorted(self.closed, key=lambda a: (a.start, a.dimension, a.value))


ALERT_COLUMNS: tuple[str, ...] = tuple(Alert.model_fields)


def alerts_frame(alerts: list[Alert]) -> pd.DataFrame:
    """One row per alert, ``evidence`` as JSON text (a flat frame: the registered pyfunc's output)."""
    rows = [{**a.model_dump(), "evidence": json.dumps(a.evidence, sort_keys=True)} for a in alerts]
    return pd.DataFrame(rows, columns=list(ALERT_COLUMNS))


def write_alerts(alerts: list[Alert], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for alert in alerts:
            handle.write(alert.model_dump_json() + "\n")


def read_alerts(path: Path) -> list[Alert]:
    from streamlab.models.qoe.errors import TelemetryError

    path = Path(path)
    if not path.is_file():
        raise TelemetryError(f"alerts file {path} not found")
    alerts = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                alerts.append(Alert.model_validate(json.loads(line)))
            except Exception as exc:  # noqa: BLE001 - one clear line per bad alert
                raise TelemetryError(f"{path}:{n}: not an alert written by `streamlab qoe detect` ({exc})") from None
    return alerts
