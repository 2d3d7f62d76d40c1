"""``streamlab peak simulate``: a discrete-event model of live delivery beyond this box.

The model is the LL-HLS fan-out a peak event is: every ``part_s`` a part (and a playlist version)
appears at the origin for each rung; every viewer is already waiting for both (a blocked playlist
reload and the preload-hinted part), so the requests arrive together and what matters is the
queues they meet:

* each **shield** asks the origin once per object (coalescing): ``shields x rungs x 2`` origin
  requests per part, FIFO on the origin's one worker at the measured origin cost;
* each **edge** asks its shield (chosen by the rendezvous hash) once per object: FIFO on the
  shield at the measured shield cost, edges served in hash order;
* each edge then answers its waiting viewers, FIFO on ``cores`` workers at the edge cost; a
  part's delivery time is from its appearance at the origin to the last byte of that viewer's
  answer, plus the path noise (the load-independent cost this box measures at low load: wake-ups, loopback,
  client); when an edge's load exceeds its capacity the queue carries over into the next part and
  delivery grows part after part, which the model shows as it would happen.

Events run from one heap (no simpy: it is not installed, and the model needs only FIFO servers);
each server is a set of workers whose free times are known, exact for FIFO when requests are
submitted in time order, which an event loop guarantees. Big edges are simulated *fluid*: beyond
``max_simulated_viewers_per_edge`` each simulated viewer stands for ``k`` real ones and costs ``k``
requests, which keeps the queue's total work and last completion exact and the distribution's
shape. Three representative edges per scenario are simulated in full (the first, the middle and the
last one their shield serves); origin and shield load are counted exactly.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from streamlab.pipelines.peak.settings import SimulateSettings


@dataclass(frozen=True)
class TierCosts:
    """Service time of one request at each tier (ms of one worker), as measured by ``peak run``.

    ``path_ms`` is the load-independent part of a delivery (wake-ups, loopback, the client's own
    scheduling on a shared box): quantiles measured on the smallest run minus the model's queueing
    there, added to every simulated delivery by sampling; empty means ``base_ms`` flat.
    """

    edge_ms: float
    shield_ms: float
    origin_ms: float
    base_ms: float = 0.0
    path_ms: tuple[float, ...] = ()


@dataclass(frozen=True)
class Scenario:
    viewers: int
    edges: int
    shields: int
    rungs: int = 3
    part_s: float = 1 / 3
    edge_cores: int = 1
    requests_per_viewer_per_part: float = 2.0


@dataclass(frozen=True)
class Prediction:
    viewers: int
    edges: int
    shields: int
    origin_requests_per_s: float
    origin_requests_per_part_per_shield: float
    shield_requests_per_s: float
    edge_requests_per_s: float
    edge_utilization: float
    part_delivery_p50_ms: float
    part_delivery_p99_ms: float
    overloaded: bool


class Server:
    """``workers`` FIFO workers; :meth:`submit` (in nondecreasing time) returns the completion time."""

    def __init__(self, workers: int) -> None:
        self.free_at = [0.0] * workers
        heapq.heapify(self.free_at)
        self.busy_s = 0.0

    def submit(self, now: float, service_s: float) -> float:
        start = max(now, heapq.heappop(self.free_at))
        done = start + service_s
        heapq.heappush(self.free_at, done)
        self.busy_s += service_s
        return done


class EventLoop:
    def __init__(self) -> None:
        self.queue: list[tuple[float, int, Callable[[float], None]]] = []
        self.sequence = 0

    def at(self, time_s: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self.queue, (time_s, self.sequence, action))
        self.sequence += 1

    def run(self) -> None:
        while self.queue:
            time_s, _, action = heapq.heappop(self.queue)
            action(time_s)


def simulate(scenario: Scenario, costs: TierCosts, parts: int, max_simulated_viewers_per_edge: int) -> Prediction:
    """Run ``parts`` parts of ``scenario`` through the queues; delivery is for the part requests."""
    loop = EventLoop()
    origin = Server(1)
    shields = [Server(1) for _ in range(scenario.shields)]
    edges_per_shield = [scenario.edges // scenario.shields + (1 if i < scenario.edges % scenario.shields else 0)
                        for i in range(scenario.shields)]
    viewers_per_edge = scenario.viewers / scenario.edges
    simulated = max(1, min(math.ceil(viewers_per_edge), max_simulated_viewers_per_edge))
    weight = viewers_per_edge / simulated  # real viewers one simulated viewer stands for
    per_viewer = scenario.requests_per_viewer_per_part
    # the edges simulated in full: first, middle and last served by shield 0
    n0 = max(1, edges_per_shield[0])
    sampled = sorted({0, n0 // 2, n0 - 1})
    edge_servers = {i: Server(scenario.edge_cores) for i in sampled}
    deliveries: list[float] = []
    objects = scenario.rungs * 2  # a part and a playlist version per rung

    def publish(k: int) -> Callable[[float], None]:
        def written(now: float) -> None:
            for shield_index, shield in enumerate(shields):
                # one origin request per object per shield (coalesced at the shield)
                done = now
                for _ in range(objects):
                    done = origin.submit(now, costs.origin_ms / 1000)
                loop.at(done, shield_fans_out(shield_index, shield, now))
        return written

    def shield_fans_out(shield_index: int, shield: Server, written_at: float) -> Callable[[float], None]:
        def arrived(now: float) -> None:
            for edge_index in range(edges_per_shield[shield_index]):
                done = now
                for _ in range(objects):
                    done = shield.submit(now, costs.shield_ms / 1000)
                if shield_index == 0 and edge_index in edge_servers:
                    loop.at(done, edge_answers(edge_servers[edge_index], written_at))
        return arrived

    def edge_answers(edge: Server, written_at: float) -> Callable[[float], None]:
        def arrived(now: float) -> None:
            service = costs.edge_ms / 1000 * weight
            for _ in range(simulated):
                for _ in range(max(0, round(per_viewer) - 1)):  # the playlist answer first
                    edge.submit(now, service)
                deliveries.append(edge.submit(now, service) - written_at)
        return arrived

    for k in range(parts):
        loop.at(k * scenario.part_s, publish(k))
    loop.run()
    ms = np.asarray(deliveries) * 1000 + costs.base_ms
    if costs.path_ms:
        rng = np.random.default_rng(0)
        ms = ms + rng.choice(np.asarray(costs.path_ms), size=len(ms))
    duration_s = parts * scenario.part_s
    edge_rps = viewers_per_edge * per_viewer / scenario.part_s
    utilization = edge_rps * costs.edge_ms / 1000 / scenario.edge_cores
    return Prediction(
        viewers=scenario.viewers, edges=scenario.edges, shields=scenario.shields,
        origin_requests_per_s=round(scenario.shields * objects / scenario.part_s, 1),
        origin_requests_per_part_per_shield=1.0,
        shield_requests_per_s=round(max(edges_per_shield) * objects / scenario.part_s, 1),
        edge_requests_per_s=round(edge_rps, 1),
        edge_utilization=round(utilization, 3),
        part_delivery_p50_ms=round(float(np.percentile(ms, 50)), 1),
        part_delivery_p99_ms=round(float(np.percentile(ms, 99)), 1),
        overloaded=utilization > 1 or (origin.busy_s > duration_s) or any(s.busy_s > duration_s for s in shields),
    )


def edges_needed(viewers: int, settings: SimulateSettings, part_s: float, headroom: float = 0.7) -> int:
    """Edges so that each runs at ``headroom`` of ``edge_capacity_rps`` (viewers x requests per part / part_s)."""
    rps = viewers * settings.requests_per_viewer_per_part / part_s
    return max(1, math.ceil(rps / (settings.edge_capacity_rps * headroom)))


def shields_needed(edges: int, shield_ms: float, rungs: int, part_s: float, headroom: float = 0.5) -> int:
    """Shields so that each one's fan-out to its edges (``rungs x 2`` objects per part per edge) stays
    under ``headroom`` of one worker: past a thousand edges the shield, not the origin, is the next wall."""
    rps_per_edge = rungs * 2 / part_s
    return max(1, math.ceil(edges * rps_per_edge * shield_ms / 1000 / headroom))


def predict_scaling(settings: SimulateSettings, costs: TierCosts, rungs: int = 3, part_s: float = 1 / 3) -> list[dict]:
    """Each of ``settings.viewers`` on the edges it needs at the configured per-edge capacity, and
    the shields those edges need (at least ``settings.shields``).

    The edge's cost here is its capacity (``1 / edge_capacity_rps`` per request, one server):
    a production edge, not this box's core; origin and shield keep the measured costs.
    """
    rows = []
    production = TierCosts(edge_ms=1000 / settings.edge_capacity_rps, shield_ms=costs.shield_ms,
                           origin_ms=costs.origin_ms, base_ms=costs.base_ms, path_ms=costs.path_ms)
    for viewers in settings.viewers:
        edges = edges_needed(viewers, settings, part_s)
        shields = min(edges, max(settings.shields, shields_needed(edges, costs.shield_ms, rungs, part_s)))
        scenario = Scenario(viewers, edges, shields, rungs, part_s, 1, settings.requests_per_viewer_per_part)
        rows.append(asdict(simulate(scenario, production, settings.parts, settings.max_simulated_viewers_per_edge))
                    | {"edges_needed_at_capacity": edges, "edge_capacity_rps": settings.edge_capacity_rps})
    return rows


DEFAULT_COSTS = TierCosts(edge_ms=0.0, shield_ms=0.3, origin_ms=0.6)
"""Without measured runs: the Python cache tier's and live origin's costs measured on this box (2026-12)."""


def validate(measured: list[dict], settings: SimulateSettings) -> list[dict]:
    """Predicted vs measured for each ``peak run`` result, with the measured per-request costs.

    The path noise is calibrated once per engine, on its smallest run: the measured delivery
    quantiles minus the model's queueing there (its median). Every larger size is a prediction:
    the same path noise plus that size's queueing. The shield cost is the lowest measured (the
    Python tier's; runs with the Varnish edge only bound it from above).
    """
    runs = sorted(measured, key=lambda r: r["viewers"])
    rows = []
    path: dict[str, tuple[float, ...]] = {}
    calibrated: set[str] = set()
    shield_ms = min((r["cost_ms_per_request"]["shield"] for r in runs), default=DEFAULT_COSTS.shield_ms)
    for run in runs:
        cost = run["cost_ms_per_request"]
        scenario = Scenario(run["viewers"], run["edges"], run["shields"], run.get("rungs_watched", 3),
                            run.get("part_s", 1 / 3), 1, settings.requests_per_viewer_per_part)
        costs = TierCosts(cost["edge"], shield_ms, cost["origin"])
        quantiles = run.get("part_delivery_quantiles_ms") or []
        if run["engine"] not in path and quantiles:
            queueing = simulate(scenario, costs, settings.parts, settings.max_simulated_viewers_per_edge)
            path[run["engine"]] = tuple(max(0.0, q - queueing.part_delivery_p50_ms) for q in quantiles)
        costs = TierCosts(cost["edge"], shield_ms, cost["origin"], 0.0, path.get(run["engine"], ()))
        predicted = simulate(scenario, costs, settings.parts, settings.max_simulated_viewers_per_edge)
        rows.append({
            "engine": run["engine"], "viewers": run["viewers"],
            "measured_p50_ms": run["part_delivery_p50_ms"], "predicted_p50_ms": predicted.part_delivery_p50_ms,
            "measured_p99_ms": run["part_delivery_p99_ms"], "predicted_p99_ms": predicted.part_delivery_p99_ms,
            "measured_origin_per_part_per_shield": run["origin_media_requests_per_part_per_shield"],
            "predicted_origin_per_part_per_shield": predicted.origin_requests_per_part_per_shield,
            "p50_error": _error(predicted.part_delivery_p50_ms, run["part_delivery_p50_ms"]),
            "p99_error": _error(predicted.part_delivery_p99_ms, run["part_delivery_p99_ms"]),
            "calibration_run": run["engine"] not in calibrated,
            "path_ms_p50": round(float(np.median(path[run["engine"]])), 2) if path.get(run["engine"]) else None,
        })
        if run["engine"] in path:
            calibrated.add(run["engine"])
    return rows


def path_noise(measured: list[dict], settings: SimulateSettings, engine: str) -> tuple[float, ...]:
    """The calibrated path noise of ``engine`` (see :func:`validate`), for predictions beyond the box."""
    runs = sorted((r for r in measured if r["engine"] == engine and r.get("part_delivery_quantiles_ms")),
                  key=lambda r: r["viewers"])
    if not runs:
        return ()
    run, cost = runs[0], runs[0]["cost_ms_per_request"]
    scenario = Scenario(run["viewers"], run["edges"], run["shields"], run.get("rungs_watched", 3),
                        run.get("part_s", 1 / 3), 1, settings.requests_per_viewer_per_part)
    queueing = simulate(scenario, TierCosts(cost["edge"], cost["shield"], cost["origin"]), settings.parts,
                        settings.max_simulated_viewers_per_edge)
    return tuple(max(0.0, q - queueing.part_delivery_p50_ms) for q in run["part_delivery_quantiles_ms"])


def costs_for_predictions(measured: list[dict], settings: SimulateSettings) -> TierCosts:
    """Shield and origin costs and path noise for :func:`predict_scaling`, from measured runs.

    The shield is the Python cache tier: its cost is the lowest measured (runs with the Varnish
    edge only give an upper bound, see ``peak run``); the path noise is the production engine's
    (Varnish when it was measured).
    """
    if not measured:
        return DEFAULT_COSTS
    engine = "varnish" if any(r["engine"] == "varnish" for r in measured) else measured[0]["engine"]
    return TierCosts(
        edge_ms=0.0,
        shield_ms=min(r["cost_ms_per_request"]["shield"] for r in measured),
        origin_ms=float(np.median([r["cost_ms_per_request"]["origin"] for r in measured])),
        path_ms=path_noise(measured, settings, engine),
    )


def _error(predicted: float, measured: float | None) -> float | None:
    return round((predicted - measured) / measured, 3) if measured else None
