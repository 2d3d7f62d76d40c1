"""The content-steering server (``streamlab edge steer``): steering manifests per region, QoE beacons, probes.

``GET /v1/steer/hls?region=R``   HLS steering manifest: ``{"VERSION":1,"TTL":…,"RELOAD-URI":…,"PATHWAY-PRIORITY":[…]}``
``GET /v1/steer/dash?region=R``  DASH-IF steering manifest: the same with ``SERVICE-LOCATION-PRIORITY``
``POST /v1/qoe``                 a :class:`~.policy.QoeBeacon` (JSON) from a player
``GET /v1/state``                every region's order and window metrics
``GET /healthz``

Players add ``_HLS_pathway``/``_HLS_throughput`` (``_DASH_…``) to each steering request; the
throughput they report is telemetry for that pathway and region too. The server also probes
every pathway per region every ``probe_interval_s`` (a request carrying a country of that
region, through that pathway's edge), so a pathway no player is steered to any more is still
judged and can win its traffic back after the hysteresis.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import httpx
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamlab.streaming.delivery.cors import CorsMiddleware
from streamlab.streaming.delivery.settings import CorsSettings
from streamlab.streaming.edge.settings import EdgeSettings
from streamlab.streaming.steering.policy import QoeBeacon, SteeringPolicy

MAX_BEACON_BYTES = 4096


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status, headers={"Cache-Control": "no-store"})


class SteeringServer:
    def __init__(self, settings: EdgeSettings, policy: SteeringPolicy | None = None) -> None:
        self.settings = settings
        self.steering = settings.steering
        if len(self.steering.pathways) < 2:
            raise ValueError("content steering needs at least two pathways (steering.pathways)")
        self.policy = policy or SteeringPolicy(self.steering)
        region = settings.hook.region
        self.regions = sorted(set(region.countries) | {region.default})
        self.probe_country = {name: codes[0] for name, codes in region.countries.items() if codes}
        self.country_header = region.headers[0]
        self.manifests_served: Counter[str] = Counter()
        """Steering manifests answered, by kind (``hls``/``dash``): proof that players ask."""

    def _region(self, request: Request) -> str | Response:
        region = request.query_params.get("region", self.settings.hook.region.default)
        if region not in self.regions:
            return _error(400, f"unknown region {region!r}; known: {', '.join(self.regions)}")
        return region

    def _reported_throughput(self, request: Request, prefix: str, region: str) -> None:
        pathway, bps = request.query_params.get(f"{prefix}_pathway"), request.query_params.get(f"{prefix}_throughput")
        if pathway in self.policy.pathways and bps and bps.isdigit():
            self.policy.record(QoeBeacon(region=region, pathway=pathway, requests=0, throughput_kbps=min(int(bps) / 1000, 1e7)))

    async def steer(self, request: Request) -> Response:
        dash = request.path_params["kind"] == "dash"
        if request.path_params["kind"] not in ("hls", "dash"):
            return _error(404, "steering manifests are /v1/steer/hls and /v1/steer/dash")
        region = self._region(request)
        if isinstance(region, Response):
            return region
        self.manifests_served[request.path_params["kind"]] += 1
        self._reported_throughput(request, "_DASH" if dash else "_HLS", region)
        order = self.policy.order(region)
        body = {"VERSION": 1, "TTL": self.steering.ttl_s,
                "RELOAD-URI": f"{request.url.path}?{urlencode({'region': region})}",
                ("SERVICE-LOCATION-PRIORITY" if dash else "PATHWAY-PRIORITY"): order}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def qoe(self, request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > MAX_BEACON_BYTES:
            return _error(413 if length and length.isdigit() else 411, f"a beacon is JSON with a Content-Length of at most {MAX_BEACON_BYTES} bytes")
        try:
            beacon = QoeBeacon.model_validate_json(await request.body())
        except ValidationError as exc:
            return _error(400, f"bad beacon: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}")
        if beacon.region not in self.regions:
            return _error(400, f"unknown region {beacon.region!r}; known: {', '.join(self.regions)}")
        try:
            self.policy.record(beacon)
        except ValueError as exc:
            return _error(400, str(exc))
        return Response(status_code=204)

    async def state(self, request: Request) -> Response:
        return JSONResponse(self.policy.snapshot(self.regions), headers={"Cache-Control": "no-store"})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def probe_forever(self) -> None:
        """Probe every (pathway, region) each interval; failures are telemetry, never a crash."""
        s = self.steering
        async with httpx.AsyncClient(timeout=s.probe_timeout_s, trust_env=False) as client:
            while True:
                started = time.monotonic()
                await asyncio.gather(*(self._probe(client, p.id, p.url, region)
                                       for p in s.pathways for region in self.regions))
                await asyncio.sleep(max(0.0, s.probe_interval_s - (time.monotonic() - started)))

    async def _probe(self, client: httpx.AsyncClient, pathway: str, url: str, region: str) -> None:
        country = self.probe_country.get(region)
        headers = {self.country_header: country} if country else {self.country_header: "ZZ"}
        try:
            response = await client.get(url.rstrip("/") + self.steering.probe_path, headers=headers)
            failed = response.status_code >= 500
        except httpx.HTTPError:
            failed = True
        # no throughput from a probe: a tiny object's rate says nothing about a link's capacity
        self.policy.record(QoeBeacon(region=region, pathway=pathway, requests=1, errors=int(failed)))


def create_steering_app(server: SteeringServer, probe: bool = True) -> CorsMiddleware:
    """The server as an ASGI app; ``probe`` runs the pathway probes for the app's lifetime."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(server.probe_forever()) if probe else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(lifespan=lifespan, routes=[
        Route("/v1/steer/{kind}", server.steer, methods=["GET"]),
        Route("/v1/qoe", server.qoe, methods=["POST"]),
        Route("/v1/state", server.state, methods=["GET"]),
        Route("/healthz", server.health, methods=["GET"]),
    ])
    return CorsMiddleware(app, CorsSettings(allow_methods=["GET", "POST", "OPTIONS"]))  # hls.js/Shaka fetch it cross-origin
