"""How the headless player picks the next rung: locally, or by asking ``abr/decide`` with a budget.

Every policy answers the same typed request with the family's own decisions
(:mod:`streamlab.models.abr.decide`: the wire contract of ``abr/decide`` and the one ``decide``), so
the player builds one state and the comparison is policy against policy, not protocol against
protocol. :class:`RemotePolicy` is what a production player does: one HTTP call with a hard
timeout (50 ms by default), BOLA when it fails or is late, and the fallback counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from streamlab.models.abr.decide import AbrDecideRequest, decide, decide_bola


@dataclass(frozen=True)
class Choice:
    rung: int
    reason: str
    source: Literal["local", "model", "fallback"]
    """``model``: the server's learned policy; ``fallback``: BOLA because the server failed or was late."""
    model_version: str | None = None


class AbrPolicy(Protocol):
    name: str

    def choose(self, request: AbrDecideRequest) -> Choice: ...

    def close(self) -> None: ...


class BolaPolicy:
    name = "bola"

    def choose(self, request: AbrDecideRequest) -> Choice:
        decision = decide_bola(request)
        return Choice(decision.rung, decision.reason, "local")

    def close(self) -> None:
        pass


class LocalLearnedPolicy:
    """The learned policy in-process (no server): the model's decisions without the network."""

    name = "learned-local"

    def __init__(self, policy=None) -> None:  # noqa: ANN001 - a LearnedPolicy
        from streamlab.models.abr.policies.learned import load_learned

        self.policy = policy or load_learned()

    def choose(self, request: AbrDecideRequest) -> Choice:
        decision = decide(self.policy, request)
        return Choice(decision.rung, decision.reason, "local")

    def close(self) -> None:
        pass


class RemotePolicy:
    """``POST <url>/abr/decide`` within ``timeout_ms``; BOLA on any failure, counted in ``fallbacks``."""

    name = "learned-remote"

    def __init__(self, url: str, timeout_ms: float = 50.0) -> None:
        self.url = url.rstrip("/") + "/abr/decide"
        self.client = httpx.Client(trust_env=False, timeout=timeout_ms / 1000.0)
        self.fallbacks = 0
        self.last_error: str | None = None

    def choose(self, request: AbrDecideRequest) -> Choice:
        try:
            response = self.client.post(
                self.url,
                content=request.model_dump_json(exclude_none=True),
                headers={"content-type": "application/json"},
            )
            response.raise_for_status()
            body = response.json()
            rung = int(body["rung"])
            if not 0 <= rung < len(request.ladder):
                raise ValueError(f"server chose rung {rung} outside the {len(request.ladder)}-rung ladder")
            # An experiment's heuristic arm is answered by its heuristic (``policy``): as asked, not a fallback.
            source = "model" if body.get("source") == "model" or body.get("policy") else "fallback"
            return Choice(rung, str(body.get("reason", "")), source, body.get("model_version"))
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            self.fallbacks += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            decision = decide_bola(request)
            return Choice(decision.rung, f"{decision.reason} (fallback: {type(exc).__name__})", "fallback")

    def close(self) -> None:
        self.client.close()
