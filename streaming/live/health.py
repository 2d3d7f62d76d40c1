"""Stream health monitor: a live channel's own checks, raised as alerts in the QoE detector's format.

Every ``interval_s`` (one *window*) the monitor looks at the channel and names the checks that
fail, each as a :class:`~streamlab.models.qoe.alerts.Cause` whose score is *measured / limit*
(so 1.0 is the threshold for every check, and the QoE severity rule applies unchanged:
x1.5 major, x3 critical). The QoE :class:`~streamlab.models.qoe.alerts.AlertTracker` then opens,
holds and closes alerts exactly as it does for viewer-side incidents, so operators read one alert
stream: ``dimension`` is the check, ``value`` is ``<channel>/<subject>`` (an input or ``all``),
``detector`` is ``live_health``, and times are Unix seconds (window numbers count from the epoch).

Checks (what a venue feed or an ingest can get wrong, measured where the channel sees it):

``input_failover``     the active contribution feed went silent and the backup took over (major)
``input_lost``         every feed is silent: the slate is on air (critical, for as long as it is)
``keyframe_interval``  the active feed's longest gap between keyframes over the window is above
                       ``max_keyframe_interval_s`` (a failover or a joining transcoder waits that long)
``bitrate_variance``   the coefficient of variation of the active feed's per-interval bitrate over
                       ``bitrate_window_s`` is above ``max_bitrate_cv`` (a starving or bursting encoder)

``dropped_frames``     the share of the active feed's frame slots (its own frame interval over the
                       window's span of video PTS) that carry no frame is above ``max_dropped_ratio``
``av_drift``           the median of (audio PTS - the video PTS just before it) in arrival order at
                       ingest is further from 0 than ``max_av_drift_s``: audio stamped early or
                       late against the video it travels with (encoders send as they encode, so a
                       healthy feed measures a few ms)
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from streamlab.models.qoe.alerts import Alert, AlertTracker, Cause
from streamlab.streaming.live.settings import HealthSettings

DETECTOR = "live_health"
CHECKS = ("input_failover", "input_lost", "keyframe_interval", "bitrate_variance", "dropped_frames", "av_drift")
MIN_FRAMES = 10
"""Fewer video frames than this in the window say nothing about drops (the feed just started)."""
FAILOVER_SCORE = 1.5
"""A failover kept the channel on air: major. Losing every input (the slate) is critical."""
LOST_SCORE = 3.0


class MonitoredFeed(Protocol):
    name: str
    bytes_total: int
    keyframe_times: deque[float]
    frame_times: deque[tuple[float, float]]
    av_offsets: deque[tuple[float, float]]

    def alive(self, within_s: float) -> bool: ...


class MonitoredChannel(Protocol):
    """What the monitor reads from a running channel (:class:`~streamlab.streaming.live.channel.Channel`)."""

    name: str
    events: list[dict[str, object]]

    @property
    def active_feed(self) -> MonitoredFeed | None: ...

    @property
    def on_slate(self) -> bool: ...


@dataclass
class _FeedWindow:
    """Samples of the active feed since it became active (reset on every switch)."""

    name: str
    last_bytes: int
    since_s: float
    rates_kbps: deque[float] = field(default_factory=deque)


class HealthMonitor:
    """The channel's checks, evaluated once per window by :meth:`tick`; alerts in :attr:`tracker`."""

    def __init__(self, channel: MonitoredChannel, settings: HealthSettings, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.channel = channel
        self.settings = settings
        self.clock = clock
        self.monotonic = monotonic
        self.tracker = AlertTracker(
            window_s=settings.interval_s, threshold=1.0, detector=DETECTOR, confirm_windows=settings.confirm_windows,
            close_after_windows=settings.close_after_windows, instant_ratio=FAILOVER_SCORE,
        )
        self.raised: list[Alert] = []
        self.measures: dict[str, float | None] = {
            "bitrate_cv": None, "bitrate_kbps": None, "keyframe_interval_s": None, "dropped_ratio": None, "av_drift_s": None,
        }
        self._window: _FeedWindow | None = None
        self._events_seen_at = clock()

    # ---- checks ----------------------------------------------------------------------------------
    def _input_causes(self, window: int) -> list[Cause]:
        causes = []
        new = [event for event in self.channel.events if float(event["at"]) > self._events_seen_at]  # type: ignore[arg-type]
        if new:
            self._events_seen_at = max(float(event["at"]) for event in new)  # type: ignore[arg-type]
        for event in new:
            if event["kind"] == "input_failover":
                causes.append(Cause(window, "input_failover", f"{self.channel.name}/{_left(str(event['detail']))}",
                                    FAILOVER_SCORE, {"detail": event["detail"], "at": event["at"]}))
        lost_now = [event for event in new if event["kind"] == "input_lost"]
        if self.channel.on_slate or lost_now:
            detail = lost_now[-1]["detail"] if lost_now else "on slate"
            causes.append(Cause(window, "input_lost", f"{self.channel.name}/all", LOST_SCORE, {"detail": detail}))
        return causes

    def _feed_causes(self, window: int, now_s: float) -> list[Cause]:
        """Bitrate and keyframe checks on the active contribution feed (not on the slate)."""
        feed = self.channel.active_feed
        if feed is None or self.channel.on_slate or not feed.alive(self.settings.interval_s):
            self._window = None
            return []
        if self._window is None or self._window.name != feed.name:
            self._window = _FeedWindow(feed.name, feed.bytes_total, now_s)
            return []
        current = self._window
        rate_kbps = (feed.bytes_total - current.last_bytes) * 8 / 1000 / self.settings.interval_s
        current.last_bytes = feed.bytes_total
        current.rates_kbps.append(rate_kbps)
        samples = max(2, math.ceil(self.settings.bitrate_window_s / self.settings.interval_s))
        while len(current.rates_kbps) > samples:
            current.rates_kbps.popleft()
        causes = []
        subject = f"{self.channel.name}/{feed.name}"
        if len(current.rates_kbps) == samples:
            mean = statistics.fmean(current.rates_kbps)
            cv = statistics.pstdev(current.rates_kbps) / mean if mean > 0 else 0.0
            self.measures.update(bitrate_cv=round(cv, 3), bitrate_kbps=round(mean, 1))
            if cv > self.settings.max_bitrate_cv:
                causes.append(Cause(window, "bitrate_variance", subject, cv / self.settings.max_bitrate_cv,
                                    {"cv": round(cv, 3), "mean_kbps": round(mean, 1), "limit_cv": self.settings.max_bitrate_cv,
                                     "window_s": self.settings.bitrate_window_s}))
            causes += self._timing_causes(window, feed, subject)
        interval = self._keyframe_interval_s(feed, now_s - current.since_s)
        self.measures["keyframe_interval_s"] = round(interval, 2)
        if interval > self.settings.max_keyframe_interval_s:
            causes.append(Cause(window, "keyframe_interval", subject, interval / self.settings.max_keyframe_interval_s,
                                {"interval_s": round(interval, 2), "limit_s": self.settings.max_keyframe_interval_s}))
        return causes

    def _timing_causes(self, window: int, feed: MonitoredFeed, subject: str) -> list[Cause]:
        """Dropped frames and A/V drift over the window, from the feed's PES timestamps at ingest."""
        since = self.monotonic() - self.settings.bitrate_window_s
        causes = []
        dropped = dropped_ratio([pts for at, pts in feed.frame_times if at >= since])
        self.measures["dropped_ratio"] = None if dropped is None else round(dropped, 3)
        if dropped is not None and dropped > self.settings.max_dropped_ratio:
            causes.append(Cause(window, "dropped_frames", subject, dropped / self.settings.max_dropped_ratio,
                                {"dropped_ratio": round(dropped, 3), "limit": self.settings.max_dropped_ratio,
                                 "window_s": self.settings.bitrate_window_s}))
        offsets = [offset for at, offset in feed.av_offsets if at >= since]
        drift = statistics.median(offsets) if offsets else None
        self.measures["av_drift_s"] = None if drift is None else round(drift, 3)
        if drift is not None and abs(drift) > self.settings.max_av_drift_s:
            causes.append(Cause(window, "av_drift", subject, abs(drift) / self.settings.max_av_drift_s,
                                {"av_drift_s": round(drift, 3), "limit_s": self.settings.max_av_drift_s,
                                 "meaning": "audio PTS minus the video PTS beside it at ingest (negative: audio stamped early)"}))
        return causes

    def _keyframe_interval_s(self, feed: MonitoredFeed, active_for_s: float) -> float:
        """The longest keyframe gap seen in the bitrate window, the open gap since the last keyframe included.

        The open gap counts: a feed with a 10 s GOP must alert before its second keyframe arrives.
        """
        now = self.monotonic()
        times = [t for t in feed.keyframe_times if t >= now - self.settings.bitrate_window_s]
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        gaps.append(now - times[-1] if times else active_for_s)
        return max(gaps)

    # ---- the loop ----------------------------------------------------------------------------------
    def tick(self) -> list[Alert]:
        """Evaluate every check for the window now ending; returns the alerts it confirmed."""
        now_s = self.clock()
        window = int(now_s // self.settings.interval_s)
        causes = self._input_causes(window) + self._feed_causes(window, now_s)
        confirmed = self.tracker.feed(window, causes)
        self.raised.extend(confirmed)
        del self.raised[: max(0, len(self.raised) - self.settings.alerts_kept)]
        return confirmed

    def open_alerts(self) -> list[Alert]:
        return self.tracker.open_alerts()

    def snapshot(self) -> dict[str, Any]:
        """For ``state.json`` / ``live status``: open alerts, the last raised ones, the measures."""
        return {
            "open": [alert.model_dump(mode="json") for alert in self.open_alerts()],
            "raised": [alert.model_dump(mode="json") for alert in self.raised],
            "measures": dict(self.measures),
        }

    def prometheus(self) -> str:
        """Prometheus text for the live origin's ``/metrics``: open alerts, counts, measures."""
        channel = self.channel.name
        raised = {check: sum(alert.dimension == check for alert in self.raised) for check in CHECKS}
        lines = [
            "# HELP streamlab_live_health_alert An open stream-health alert (1 while open).",
            "# TYPE streamlab_live_health_alert gauge",
            *(f'streamlab_live_health_alert{{channel="{channel}",check="{alert.dimension}",value="{alert.value}",'
              f'severity="{alert.severity}",detector="{alert.detector}"}} 1' for alert in self.open_alerts()),
            "# HELP streamlab_live_health_alerts_total Stream-health alerts raised since the channel started, by check.",
            "# TYPE streamlab_live_health_alerts_total counter",
            *(f'streamlab_live_health_alerts_total{{channel="{channel}",check="{check}"}} {count}' for check, count in raised.items()),
            "# HELP streamlab_live_health_measure The active feed's measures the checks compare with their limits.",
            "# TYPE streamlab_live_health_measure gauge",
            *(f'streamlab_live_health_measure{{channel="{channel}",measure="{name}"}} {value}'
              for name, value in self.measures.items() if value is not None),
        ]
        return "\n".join(lines) + "\n"


def dropped_ratio(pts_s: list[float]) -> float | None:
    """The share of frame slots with no frame: the stream's own frame interval (the gaps between
    consecutive presentation times near the smallest one, so B-frame reordering, any rate and
    millisecond-rounded timestamps are fine) against
    the span the frames cover. ``None`` with too few frames to judge."""
    if len(pts_s) < MIN_FRAMES:
        return None
    ordered = sorted(pts_s)
    gaps = [later - earlier for earlier, later in zip(ordered, ordered[1:], strict=False) if later - earlier > 1e-4]
    if not gaps:
        return None
    shortest = min(gaps)
    interval = statistics.fmean(gap for gap in gaps if gap < 1.5 * shortest)  # FLV's ms timestamps: 33, 34, 33 ms
    slots = round((ordered[-1] - ordered[0]) / interval) + 1
    return max(0.0, 1.0 - len(ordered) / slots)


def _left(detail: str) -> str:
    """The feed a failover left, from the channel's event detail (``"primary silent for ..."``)."""
    return detail.split(" ", 1)[0] or "input"
