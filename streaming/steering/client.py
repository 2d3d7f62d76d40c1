"""A headless viewer that follows HLS content steering the way hls.js does, for drills, tests and benchmarks.

It fetches the (steered) master playlist through an edge, reads ``EXT-X-CONTENT-STEERING``, and
then, like hls.js's ``ContentSteeringController``: re-asks the steering server every ``TTL``
(sending ``_HLS_pathway`` and ``_HLS_throughput``), fetches each segment from the first pathway
of ``PATHWAY-PRIORITY``, and on a failed segment retries it on the next pathway (no player error
while one pathway still works). It reports what it saw per pathway to the server's ``/v1/qoe``
once a second: the telemetry the steering decisions are made from.

Every first attempt is logged (time, pathway): "where did new requests go" is read from that.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlparse, urlunparse

import httpx

ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass
class PathwayTally:
    requests: int = 0
    errors: int = 0
    bytes: int = 0
    seconds: float = 0.0


@dataclass
class ViewerLog:
    first_attempts: list[tuple[float, str]] = field(default_factory=list)
    """``(monotonic time, pathway)`` of each segment's first attempt."""
    failed_segments: int = 0
    """Segments no pathway could deliver: a player error."""


class SteeredViewer:
    def __init__(self, client: httpx.AsyncClient, master_url: str, region: str, headers: dict[str, str],
                 segment_interval_s: float = 0.3) -> None:
        self.client = client
        self.master_url = master_url
        self.region = region
        self.headers = headers
        self.interval_s = segment_interval_s
        self.log = ViewerLog()
        self.priority: list[str] = []
        self.server_uri = ""
        self.ttl_s = 10.0
        self.variants: dict[str, str] = {}
        self.segments: dict[str, list[str]] = {}
        self.tallies: dict[str, PathwayTally] = {}

    async def start(self) -> None:
        response = await self.client.get(self.master_url, headers=self.headers)
        response.raise_for_status()
        lines = response.text.splitlines()
        lowest: dict[str, tuple[str, int]] = {}
        for index, line in enumerate(lines):
            if line.startswith("#EXT-X-CONTENT-STEERING:"):
                attributes = {k: v.strip('"') for k, v in ATTRIBUTE.findall(line.split(":", 1)[1])}
                self.server_uri = urljoin(self.master_url, attributes["SERVER-URI"])
                self.priority = [attributes["PATHWAY-ID"]]
            elif line.startswith("#EXT-X-STREAM-INF:"):
                attributes = {k: v.strip('"') for k, v in ATTRIBUTE.findall(line.split(":", 1)[1])}
                pathway = attributes.get("PATHWAY-ID", ".")
                bandwidth = int(attributes.get("BANDWIDTH", "0"))
                if pathway not in lowest or bandwidth < lowest[pathway][1]:  # the lowest rung: a drill of routing, not quality
                    lowest[pathway] = (urljoin(self.master_url, lines[index + 1].strip()), bandwidth)
        if not self.server_uri:
            raise ValueError(f"{self.master_url} has no EXT-X-CONTENT-STEERING tag")
        self.variants = {pathway: url for pathway, (url, _) in lowest.items()}
        await self.refresh_steering()

    async def refresh_steering(self) -> None:
        current = self.priority[0] if self.priority else ""
        tally = self.tallies.get(current)
        query = {"_HLS_pathway": current}
        if tally and tally.seconds > 0:
            query["_HLS_throughput"] = str(int(tally.bytes * 8 / tally.seconds))
        parts = urlparse(self.server_uri)
        url = urlunparse(parts._replace(query=urlencode(parse_qsl(parts.query) + list(query.items()))))
        try:
            response = await self.client.get(url)
            if response.status_code == 200:
                body = response.json()
                self.priority = [p for p in body["PATHWAY-PRIORITY"] if p in self.variants] or self.priority
                self.ttl_s = float(body.get("TTL", self.ttl_s))
                if body.get("RELOAD-URI"):
                    self.server_uri = urljoin(url, body["RELOAD-URI"])
        except (httpx.HTTPError, ValueError, KeyError):
            pass  # hls.js keeps the last priority when the steering server is unreachable

    async def _segments(self, pathway: str) -> list[str]:
        if pathway not in self.segments:
            url = self.variants[pathway]
            response = await self.client.get(url, headers=self.headers)
            response.raise_for_status()
            self.segments[pathway] = [urljoin(url, line) for line in response.text.splitlines() if line and not line.startswith("#")]
        return self.segments[pathway]

    async def fetch_segment(self, number: int) -> None:
        order = self.priority + [p for p in self.variants if p not in self.priority]
        self.log.first_attempts.append((time.monotonic(), order[0]))
        for pathway in order:
            tally = self.tallies.setdefault(pathway, PathwayTally())
            tally.requests += 1
            started = time.monotonic()
            try:
                segments = await self._segments(pathway)
                response = await self.client.get(segments[number % len(segments)], headers=self.headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                tally.bytes += len(response.content)
                tally.seconds += time.monotonic() - started
                return
            tally.errors += 1
        self.log.failed_segments += 1

    async def report(self) -> None:
        base = urlparse(self.server_uri)
        url = urlunparse(base._replace(path="/v1/qoe", query=""))
        tallies, self.tallies = self.tallies, {}
        for pathway, t in tallies.items():
            beacon = {"region": self.region, "pathway": pathway, "requests": t.requests, "errors": t.errors}
            if t.seconds > 0:
                beacon["throughput_kbps"] = t.bytes * 8 / 1000 / t.seconds
            try:
                await self.client.post(url, json=beacon)
            except httpx.HTTPError:
                pass

    async def play(self, until: float) -> None:
        """Fetch segments until the monotonic time ``until``, following steering and reporting QoE."""
        number, next_steer, next_report = 0, time.monotonic() + self.ttl_s, time.monotonic() + 1.0
        while time.monotonic() < until:
            await self.fetch_segment(number)
            number += 1
            now = time.monotonic()
            if now >= next_report:
                await self.report()
                next_report = now + 1.0
            if now >= next_steer:
                await self.refresh_steering()
                next_steer = now + self.ttl_s
            await asyncio.sleep(self.interval_s)


def share(logs: list[ViewerLog], pathway: str, since: float, until: float) -> tuple[float, int]:
    """The share of first attempts in ``[since, until)`` that went to ``pathway``, and their count."""
    attempts = [p for log in logs for t, p in log.first_attempts if since <= t < until]
    return (sum(p == pathway for p in attempts) / len(attempts) if attempts else float("nan")), len(attempts)
