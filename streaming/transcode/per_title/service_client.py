"""``--ladder service``: ingest asks the running model server's ``/ladder`` for the per-title ladder.

Registered in ``configs/streaming.yaml`` (``transcode.selectors.service``)::

    streamlab serve start &                                      # the model server
    streamlab stream ingest data/raw/videos/bikes.mp4 --title-id bikes --ladder service

The server probes the source (SI/TI + one probe encode) and predicts the H.264 and AV1 ladders
with the registered ladder model's ``@champion``, with the same
:func:`~streamlab.models.ladder.decide.decide` as ``--ladder per-title`` in-process; its rungs are
published with profile ``per-title-service``. Request and answer are the family's wire types
(:mod:`streamlab.models.ladder.wire`): a client of the endpoint, never of the server's code.

Fallback: when the server cannot answer (connection refused, past the ``ladder_client.timeout_s``
budget, a 5xx such as "no ladder model loaded"), ingest goes on with the **fixed** ladder, prints
one warning line, and records it where an operator sees it: every fallback rung's profile is
``<profile>-fallback`` in the title record (``title.json``, the catalog), the Prometheus counter
``streamlab_ladder_service_fallbacks_total{reason}`` counts it (in the ingesting process), and a
line is appended to ``<state>/serving/ladder-fallbacks.jsonl`` (source, reason, URL, time).
A 4xx is not an outage but a refusal of this source (e.g. outside the server's allowed roots):
it fails the ingest with the server's reason rather than hiding it behind the fixed ladder.

The served top rungs are then verified here with real encodes (:mod:`.verify`), as in-process.
The server must see the same path as ingest (loopback, one machine): the request sends the path.
Where the server is comes from ``configs/serving.yaml`` (``host``/``port``, ``ladder_client``) with
the overrides the server itself was started with (``STREAMLAB_SERVING_OVERRIDES``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import httpx
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streamlab.core import project
from streamlab.core.config import load_config
from streamlab.core.errors import StreamlabError
from streamlab.core.progress import track
from streamlab.core.ray_runtime import map_tasks
from streamlab.models.ladder.schema import Ladder
from streamlab.models.ladder.settings import LadderOptimizerSettings
from streamlab.models.ladder.wire import LadderRequest, LadderResponse
from streamlab.streaming.transcode.ladder import LadderSettings, Rung, fixed_ladder
from streamlab.streaming.transcode.per_title.selector import STACK_CODECS, ingest_ladder_settings, to_stack_rungs
from streamlab.streaming.transcode.per_title.source import SourceFacts, source_facts
from streamlab.streaming.transcode.per_title.verify import verify_top_rung

SERVING_OVERRIDES_ENV = "STREAMLAB_SERVING_OVERRIDES"
"""The serving config overrides (a JSON list) the server was started with; its clients read them too."""

SERVICE_PROFILE = "per-title-service"
FALLBACK_LOG = "ladder-fallbacks.jsonl"

FALLBACKS = Counter(
    "streamlab_ladder_service_fallbacks",
    "Ingests that used the fixed ladder because the ladder service did not answer (and why).",
    ["reason"],
)


class LadderServiceRefused(StreamlabError):
    """The ladder service answered, and refused this source (a 4xx): its reason, not a fallback."""


class ServiceUnavailable(Exception):
    """The service did not answer usefully; ``reason`` is the counter label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class LadderClientSettings(BaseModel):
    """How ingest's ``--ladder service`` asks the running server (``ladder_client`` in ``configs/serving.yaml``)."""

    url: str | None = Field(None, description="base URL of the model server; null: http://<host>:<port>")
    timeout_s: float = Field(120.0, gt=0, le=3600, description="budget for one answer (the server probes the source)")


class _ServerAddress(BaseModel):
    """The part of ``configs/serving.yaml`` a client needs: where the server listens."""

    model_config = ConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    ladder_client: LadderClientSettings = LadderClientSettings()


def client_settings() -> tuple[str, float]:
    """(base URL, timeout) from ``configs/serving.yaml``, with the same overrides the server reads."""
    address = load_config("serving", _ServerAddress, json.loads(os.environ.get(SERVING_OVERRIDES_ENV, "[]")))
    url = address.ladder_client.url or f"http://{address.host}:{address.port}"
    return url, address.ladder_client.timeout_s


def ask_service(source: Path, segment_duration_s: float, url: str, timeout_s: float) -> list[Ladder]:
    """POST the source path to ``<url>/ladder``; one :class:`Ladder` per codec, in the response's order."""
    request = LadderRequest(path=str(Path(source).resolve()), codecs=list(STACK_CODECS),
                            segment_duration_s=segment_duration_s)  # fmt: skip
    body = request.model_dump(mode="json", exclude_none=True)
    try:
        response = httpx.post(f"{url.rstrip('/')}/ladder", json=body, timeout=timeout_s, trust_env=False)
    except httpx.TimeoutException:
        raise ServiceUnavailable("timeout", f"no answer within {timeout_s:g} s") from None
    except httpx.TransportError as exc:
        raise ServiceUnavailable("unreachable", f"cannot connect ({type(exc).__name__}: {exc})") from None
    if response.status_code >= 500:
        raise ServiceUnavailable("server_error", f"HTTP {response.status_code}: {response.text[:200]}")
    if response.status_code != 200:
        raise LadderServiceRefused(f"the ladder service at {url} refused {source}: {_reason(response)}")
    try:
        return LadderResponse.model_validate_json(response.content).ladders(str(source), url)
    except ValidationError as exc:
        raise ServiceUnavailable("bad_answer", f"unreadable answer ({exc.errors()[0]['msg']})") from None


def service_ladder(source: Path, display_width: int, display_height: int, settings: LadderSettings) -> list[Rung]:
    """The selector: the service's H.264 + AV1 rungs, or the fixed ladder when it cannot answer."""
    url, timeout_s = client_settings()
    segment_s = float(getattr(settings, "segment_duration_s", 4.0))
    try:
        ladders = ask_service(Path(source), segment_s, url, timeout_s)
    except ServiceUnavailable as exc:
        return fallback(source, display_width, display_height, settings, url, exc)
    ladders = verified(Path(source), ladders, settings)
    rungs = [rung for ladder in ladders for rung in to_stack_rungs(ladder)]
    return [r.model_copy(update={"profile": SERVICE_PROFILE}) for r in rungs]


def verified(source: Path, ladders: list[Ladder], settings: LadderSettings) -> list[Ladder]:
    """The served ladders with their top rungs verified here (``verify`` in configs/ladder.yaml).

    The server predicts from features; encoding is the ingesting side's work, and the source is
    here, so the check of the top rung against the ceiling happens here too, exactly as
    ``--ladder per-title`` does in-process.

    The codecs' checks are independent (each steps its own top rung's CRF), so they run side by side as
    Ray tasks, in-process one after another with ``transcode.mode=serial``, like the encodes.
    """
    ladder_settings = ingest_ladder_settings(settings)
    if not ladder_settings.verify.enabled:
        return ladders
    facts = source_facts(source, ladder_settings)
    checks = [(facts, ladder, ladder_settings) for ladder in ladders]
    what = f"top-rung checks of {source.name} ({', '.join(ladder.codec for ladder in ladders)})"
    if getattr(settings, "mode", "ray") == "serial":
        return [_verify(check) for check in track(checks, what)]
    return map_tasks(_verify, checks, what)


def _verify(check: tuple[SourceFacts, Ladder, LadderOptimizerSettings]) -> Ladder:
    """One codec's check (a Ray task or a plain call): :func:`.verify.verify_top_rung`."""
    return verify_top_rung(*check)


def fallback(
    source: Path, width: int, height: int, settings: LadderSettings, url: str, exc: ServiceUnavailable
) -> list[Rung]:
    """The fixed ladder, marked as a fallback in the rungs, the counter, the log file and one warning line."""
    FALLBACKS.labels(reason=exc.reason).inc()
    print(f"warning: ladder service at {url} unavailable ({exc}); using the fixed ladder", file=sys.stderr)
    log = project.state_dir() / "serving" / FALLBACK_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:
        entry = {"time": time.time(), "source": str(source), "url": url, "reason": exc.reason, "detail": str(exc)}
        handle.write(json.dumps(entry) + "\n")
    rungs = fixed_ladder(Path(source), width, height, settings)
    return [r.model_copy(update={"profile": f"{r.profile}-fallback"}) for r in rungs]


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    first = body[0] if isinstance(body, list) and body else body
    message = first.get("error") if isinstance(first, dict) else None
    return f"HTTP {response.status_code}: {message or json.dumps(body)[:300]}"
