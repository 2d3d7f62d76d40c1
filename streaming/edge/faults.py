"""Degrading one edge on purpose: a 5xx rate or a bandwidth cap, for steering drills and their tests.

Sits between the viewer-request hook and the cache tier, so a fault can target one region (the
hook's ``X-Streamlab-Region``) the way a real CDN degrades in one place. The knobs are plain
attributes, changed at run time by the test or drill that owns the process; the edge's own
``/_stats`` and ``/_viewers`` are never faulted (operators must still see in).
"""

from __future__ import annotations

import asyncio
import random

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXEMPT = ("/_stats", "/_viewers", "/metrics")


class FaultInjector:
    def __init__(self, app: ASGIApp, seed: int = 0) -> None:
        self.app = app
        self.error_rate = 0.0
        """Share of requests answered ``503`` instead of served."""
        self.cap_kbps: float | None = None
        """Body bytes are paced to this rate (a congested link); ``None``: no cap."""
        self.regions: set[str] | None = None
        """Only requests from these regions are faulted; ``None``: every region."""
        self.random = random.Random(seed)

    def clear(self) -> None:
        self.error_rate, self.cap_kbps, self.regions = 0.0, None, None

    def _applies(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            return False
        if self.regions is None:
            return True
        region = dict(scope["headers"]).get(b"x-streamlab-region", b"").decode("latin-1")
        return region in self.regions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._applies(scope):
            await self.app(scope, receive, send)
            return
        if self.error_rate > 0 and self.random.random() < self.error_rate:
            await PlainTextResponse("service unavailable: injected fault\n", 503,
                                    headers={"Cache-Control": "no-store"})(scope, receive, send)
            return
        cap = self.cap_kbps
        if cap is None:
            await self.app(scope, receive, send)
            return

        async def paced(message: Message) -> None:
            if message["type"] == "http.response.body":
                await asyncio.sleep(len(message.get("body", b"")) * 8 / 1000 / max(cap, 1e-3))
            await send(message)

        await self.app(scope, receive, paced)
