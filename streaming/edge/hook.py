"""The viewer-request hook: device class, region and A/B arms of every request, as headers to the origin.

The CloudFront/Lambda@Edge pattern, as ASGI middleware in front of an edge tier: it runs before
the cache lookup, drops whatever of its own headers (below) the client sent (a viewer must not
pick their own arm or device cap) and sets its own:

``X-Streamlab-Device``  tv, mobile, tablet, desktop, console or unknown
``X-Streamlab-Region``  the region the country header maps to (``configs/edge.yaml`` ``hook.region``)
``X-Streamlab-Arms``    ``<experiment>=<arm>;...`` for every running experiment (none without a viewer id)

Because they are request headers, the origin decides on them (device-capped manifests), the
caches key on them through the origin's ``Vary``, and they come back on the response so player
beacons and logs carry them as telemetry dimensions; :class:`ViewerRequestHook` also counts
requests per (device, region) at ``/_viewers``.

Device detection (:func:`classify`): User-Agent rules catch what client hints cannot say (a
console or a TV); otherwise the client hints (``Sec-CH-UA-Mobile``, ``Sec-CH-UA-Platform``,
``Sec-CH-UA-Model``) win over the UA, because Chromium's reduced UA no longer names the device
("Linux; Android 10; K"); otherwise the UA rules in order.
"""

from __future__ import annotations

import functools
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamlab.streaming.edge.settings import HookSettings
from streamlab.streaming.experiment.definition import Experiment
from streamlab.streaming.experiment.edge import ARMS_HEADER, assignments, header_value, running

DEVICE_HEADER = "X-Streamlab-Device"
REGION_HEADER = "X-Streamlab-Region"
OUTPUTS = frozenset(h.lower().encode("latin-1") for h in (DEVICE_HEADER, REGION_HEADER, ARMS_HEADER))
"""The hook's own headers: whatever a client sent under these names is dropped, never forwarded."""
STATS_PATH = "/_viewers"
COUNTRY = re.compile(r"^[A-Za-z]{2}$")
CLASSIFY_CACHE = 4096
"""Distinct (User-Agent, hints) combinations whose class is remembered (least recently used dropped)."""
MAX_COUNTED = 1_000
"""Bound on the (device, region) telemetry combinations (regions come from config, so it is never reached)."""


@dataclass(frozen=True)
class ViewerContext:
    device_class: str
    region: str
    arms: dict[str, str]

    def headers(self) -> list[tuple[str, str]]:
        out = [(DEVICE_HEADER, self.device_class), (REGION_HEADER, self.region)]
        if self.arms:
            out.append((ARMS_HEADER, header_value(self.arms)))
        return out


class DeviceClassifier:
    """User-Agent rules and client hints -> one device class; compiled once from ``hook.device``."""

    def __init__(self, settings: HookSettings) -> None:
        device = settings.device
        self.rules = [(re.compile(r.pattern, re.IGNORECASE), r.device_class) for r in device.ua_rules]
        self.platforms = {name.lower(): hint for name, hint in device.hint_platforms.items()}
        self.tv_models = re.compile(device.tv_models, re.IGNORECASE)
        self._decide = functools.lru_cache(maxsize=CLASSIFY_CACHE)(self._classify)

    def classify(self, headers: Mapping[str, str]) -> str:
        """The device class of a request (header names lower-case); ``unknown`` when nothing matches.

        Memoised on the four headers it reads: a few hundred User-Agents make most of the traffic,
        and the rules cost ~100 us a request in regex searches.
        """
        return self._decide(headers.get("user-agent", "")[:1024], headers.get("sec-ch-ua-model", "")[:128],
                            headers.get("sec-ch-ua-platform", "")[:64], headers.get("sec-ch-ua-mobile", "")[:8])

    def _classify(self, ua: str, model: str, platform_hint: str, mobile: str) -> str:
        by_ua = next((cls for pattern, cls in self.rules if pattern.search(ua)), None)
        if by_ua in ("tv", "console"):
            return by_ua
        model = _unquote(model)
        if model and self.tv_models.search(model):
            return "tv"
        platform = self.platforms.get(_unquote(platform_hint).lower())
        mobile = mobile.strip()
        if platform is not None and mobile in ("?0", "?1"):
            return platform.mobile if mobile == "?1" else platform.not_mobile
        return by_ua or "unknown"


class RegionMapper:
    def __init__(self, settings: HookSettings) -> None:
        self.headers = [h.lower() for h in settings.region.headers]
        self.countries = settings.region.country_map()
        self.default = settings.region.default

    def region(self, headers: Mapping[str, str]) -> str:
        """The first country header present, mapped; a malformed or unmapped country is the default region."""
        for name in self.headers:
            value = headers.get(name)
            if value is not None:
                value = value.strip()
                return self.countries.get(value.upper(), self.default) if COUNTRY.match(value) else self.default
        return self.default


class ViewerHook:
    """Device, region and arms of one request: the hook's decisions, without the HTTP plumbing."""

    def __init__(self, settings: HookSettings, experiments: list[Experiment] | None = None) -> None:
        self.settings = settings
        self.devices = DeviceClassifier(settings)
        self.regions = RegionMapper(settings)
        self._fixed = experiments
        self._experiments: list[Experiment] = list(experiments or [])
        self._loaded_at = float("-inf")

    def experiments(self) -> list[Experiment]:
        """The running experiments, re-read every ``experiments_reload_s`` (fixed when given at construction)."""
        if self._fixed is not None:
            return self._fixed
        now = time.monotonic()
        if now - self._loaded_at >= self.settings.experiments_reload_s:
            self._experiments, self._loaded_at = running(), now
        return self._experiments

    def viewer_id(self, headers: Mapping[str, str]) -> str | None:
        value = headers.get(self.settings.viewer.header.lower(), "").strip()
        if not value and "cookie" in headers:
            jar = SimpleCookie()
            try:
                jar.load(headers["cookie"])
            except Exception:  # noqa: BLE001 - a malformed cookie header is the client's, not a server error
                return None
            morsel = jar.get(self.settings.viewer.cookie)
            value = morsel.value.strip() if morsel else ""
        return value[:128] or None

    def context(self, headers: Mapping[str, str]) -> ViewerContext:
        viewer = self.viewer_id(headers)
        arms = assignments(viewer, self.experiments()) if viewer else {}
        return ViewerContext(self.devices.classify(headers), self.regions.region(headers), arms)


class ViewerRequestHook:
    """ASGI middleware: decide, replace the request's ``X-Streamlab-*`` headers, echo them on the response."""

    def __init__(self, app: ASGIApp, hook: ViewerHook) -> None:
        self.app = app
        self.hook = hook
        self.counts: Counter[tuple[str, str]] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == STATS_PATH:
            rows = [{"device_class": d, "region": r, "requests": n} for (d, r), n in sorted(self.counts.items())]
            await JSONResponse(rows, headers={"Cache-Control": "no-store"})(scope, receive, send)
            return
        raw = [(k, v) for k, v in scope["headers"] if k.lower() not in OUTPUTS]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
        context = self.hook.context(headers)
        key = (context.device_class, context.region)
        if key in self.counts or len(self.counts) < MAX_COUNTED:
            self.counts[key] += 1
        added = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in context.headers()]
        scope = dict(scope, headers=raw + added)

        async def echo(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in OUTPUTS]
                message = dict(message, headers=kept + added)
            await send(message)

        await self.app(scope, receive, echo)


def _unquote(value: str) -> str:
    """Structured-header strings arrive quoted (``"Android"``)."""
    return value.strip().strip('"')
