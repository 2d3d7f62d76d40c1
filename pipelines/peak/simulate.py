"""``streamlab peak simulate``: a discrete-event model of live delivery beyond this box.

The model is the LL-HLS fan-out a peak event is: every ``part_s`` a part (and a playlist version)
appears at the origin for each rung; every viewer at the live edge is already waiting for both (a
blocked playlist reload and the preload-hinted part), so the requests arrive together and what
matters is the queues they meet:

* each **shield** asks the origin once per object (coalescing): ``shields x rungs x 2`` origin
  requests per part, FIFO on the origin's one worker at the measured origin cost;
* each **edge** asks its shield (chosen by the rendezvous hash) once per object: FIFO on the
  shield at the measured shield cost, edges served in hash order;
* each edge answers its viewers on ``cores`` workers at the edge cost. The viewers are a closed
  loop, as the load generator's and hls.js's are (:func:`simulate`): one at the live edge has a
  blocked playlist reload and the hinted part waiting, answered first when the part arrives (they
  wake together on one future, ahead of the requests still unread); one the edge left behind asks
  for parts already written, one request each plus a reload when it has fetched all it knew of,
  and past the hold-back plus a second it skips to the live edge. So an edge past two requests a
  viewer a part sheds reloads instead of queueing without bound (the measured Python edge at 1,000
  viewers: 1.3 requests a viewer a part, 4 % of parts waited for at the live edge); it is overloaded
  only past one request a viewer a part. With the Python edge the shields share its one core.
  A part's delivery is from its appearance at the origin to the last byte of a waiting viewer's
  answer, plus the path noise (the load-independent cost this box measures at low load: wake-ups,
  loopback, client); the viewers' link time (trace-shaped last byte minus the system's) delays
  their next request.

Events run from one heap (no simpy: it is not installed, and the model needs only FIFO servers and
one two-class queue); the origin and shields are sets of workers whose free times are known, exact
for FIFO when requests are submitted in time order, which an event loop guarantees; the edges'
completions are events, since a woken batch overtakes the queue. Big edges are simulated *fluid*: beyond
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
    link_ms: tuple[float, ...] = ()


@dataclass(frozen=True)
class Scenario:
    viewers: int
    edges: int
    shields: int
    rungs: int = 3
    part_s: float = 1 / 3
    edge_cores: int = 1
    requests_per_viewer_per_part: float = 2.0
    shared_core: bool = False
    hold_back_parts: int = 3
    """The live playlist's ``PART-HOLD-BACK`` in parts: where a viewer starts, and resumes after a seek."""
    seek_behind_parts: int = 6
    """A viewer that knows of more parts than this not yet fetched skips to the hold-back
    (the hold-back plus the load generator's and hls.js's ``CATCH_UP_S``, 1 s): bounds how late it falls."""
    """Edges and shields on one server (the Python cluster's one process and event loop)."""


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
    viewers_at_live_edge: float = 1.0
    """Share of the parts fetched by a viewer waiting at the live edge (the rest came late: behind it)."""
    requests_per_viewer_per_part: float = 2.0
    """Edge requests the closed loop made: 2 at the live edge, towards 1 as viewers fall behind."""
    edge_demand: float = 0.0
    """Cores an edge needs for one request per viewer per part (a closed loop's least): past 1, overloaded."""


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


class PriorityServer:
    """``workers`` workers answering queued requests, the waiting ones of a part first: an event loop's edge.

    When a part reaches an edge, every request blocked on it (coalesced on one future) is woken at
    once and answered in the loop's next turns, ahead of requests still unread in its sockets; the
    rest are FIFO. Unlike :class:`Server` the completion time is not known at submission (a later
    woken batch goes ahead), so completions are events on ``loop``.
    """

    def __init__(self, loop: EventLoop, workers: int = 1) -> None:
        self.loop = loop
        self.queue: list[tuple[int, int, float, Callable[[float], None] | None]] = []
        self.sequence = 0
        self.idle = workers
        self.busy_until = 0.0
        self.busy_s = 0.0

    def submit(self, now: float, service_s: float, done: Callable[[float], None] | None, first: bool = False) -> None:
        heapq.heappush(self.queue, (0 if first else 1, self.sequence, service_s, done))
        self.sequence += 1
        self._start(now)

    def _start(self, now: float) -> None:
        while self.idle and self.queue:
            _, _, service_s, done = heapq.heappop(self.queue)
            self.idle -= 1
            self.busy_s += service_s
            self.busy_until = max(self.busy_until, now + service_s)
            self.loop.at(now + service_s, self._finished(done))

    def _finished(self, done: Callable[[float], None] | None) -> Callable[[float], None]:
        def finished(at: float) -> None:
            self.idle += 1
            if done is not None:
                done(at)
            self._start(at)
        return finished


def simulate(scenario: Scenario, costs: TierCosts, parts: int, max_simulated_viewers_per_edge: int) -> Prediction:
    """Run ``parts`` parts of ``scenario`` through the queues; delivery is for the part requests.

    The viewers are a *closed loop*, as the load generator's (and hls.js's) are: each asks for its
    next part only after the last one arrived. A viewer that is done before the next part exists
    waits at the live edge (a blocking playlist reload and the hinted part, both answered when the
    part reaches its edge: two requests, and that part's delivery is the system's, counted); one
    that is done after it (the edge was slow) is behind, fetches the next part at once (one
    request, plus a playlist reload when it has fetched every part it knew of) and that delivery is
    not the system's (the load generator does not count it either). So an edge near its capacity
    sheds playlist requests instead of queueing without bound: its request rate falls towards one
    per viewer per part and it is overloaded only when even that is more than it serves.
    With ``scenario.shared_core`` the shields' answers take the edge's core too (the Python cluster:
    one process, one event loop). The first ``parts // 3`` parts are warm-up (everyone starts at the
    live edge at once) and not counted.
    """
    loop = EventLoop()
    origin = Server(1)
    shields = [Server(1) for _ in range(scenario.shields)]
    edges_per_shield = [scenario.edges // scenario.shields + (1 if i < scenario.edges % scenario.shields else 0)
                        for i in range(scenario.shields)]
    viewers_per_edge = scenario.viewers / scenario.edges
    simulated = max(1, min(math.ceil(viewers_per_edge), max_simulated_viewers_per_edge))
    weight = viewers_per_edge / simulated  # real viewers one simulated viewer stands for
    service = costs.edge_ms / 1000 * weight
    # the edges simulated in full: first, middle and last served by shield 0
    n0 = max(1, edges_per_shield[0])
    sampled = sorted({0, n0 // 2, n0 - 1})
    edges = {i: _Edge(PriorityServer(loop, scenario.edge_cores), simulated) for i in sampled}
    deliveries: list[float] = []  # parts the viewer waited for at the live edge: the system's delivery
    behind: list[float] = []  # parts fetched late: how far behind their writing they arrived
    objects = scenario.rungs * 2  # a part and a playlist version per rung
    warmup = parts // 3
    written = [k * scenario.part_s for k in range(parts)]
    rng = np.random.default_rng(0)
    link = rng.choice(np.asarray(costs.link_ms) / 1000, size=simulated) if costs.link_ms else np.zeros(simulated)

    def publish(now: float) -> None:
        for shield_index, shield in enumerate(shields):
            # one origin request per object per shield (coalesced at the shield)
            done = now
            for _ in range(objects):
                done = origin.submit(now, costs.origin_ms / 1000)
            loop.at(done, shield_fans_out(shield_index, shield))

    def shield_fans_out(shield_index: int, shield: Server) -> Callable[[float], None]:
        def arrived(now: float) -> None:
            for edge_index in range(edges_per_shield[shield_index]):
                done = now
                for _ in range(objects):
                    done = shield.submit(now, costs.shield_ms / 1000)
                if shield_index == 0 and edge_index in edges:
                    if scenario.shared_core:  # the shield's answers take the edge's one core too
                        edges[edge_index].server.submit(now, objects * costs.shield_ms / 1000, None, first=True)
                    loop.at(done, part_reaches(edges[edge_index]))
        return arrived

    def part_reaches(edge: _Edge) -> Callable[[float], None]:
        def arrived(now: float) -> None:
            k = len(edge.has)
            edge.has.append(now)
            for viewer, counted in edge.waiting.pop(k, []):  # the blocked reload, then the hinted part
                edge.requests += 2
                edge.server.submit(now, service, None, first=True)
                edge.server.submit(now, service, got_part(edge, viewer, k, counted), first=True)
        return arrived

    def got_part(edge: _Edge, viewer: int, k: int, at_live: bool, relinked: bool = False) -> Callable[[float], None]:
        def done(now: float) -> None:
            if k >= warmup and not relinked:
                (deliveries if at_live else behind).append(now - written[k])
            nxt = k + 1
            if nxt >= parts:
                return
            if link[viewer] and not relinked:  # the part crosses the viewer's link before it asks again
                loop.at(now + link[viewer], got_part(edge, viewer, k, False, True))
                return
            if nxt < len(edge.has) and nxt > edge.known[viewer]:  # behind: a reload answered at once
                edge.requests += 1
                edge.server.submit(now, service, None)  # the part request queues right behind it
                edge.known[viewer] = len(edge.has) - 1
            if edge.known[viewer] - nxt + 1 > scenario.seek_behind_parts:  # hls.js skips the backlog
                nxt = edge.known[viewer] - scenario.hold_back_parts + 1
                edge.seeks += 1
            if nxt <= edge.known[viewer]:  # behind, and it knows of the part: fetched at once
                edge.requests += 1
                edge.behind += 1
                edge.server.submit(now, service, got_part(edge, viewer, nxt, False))
            else:  # at the live edge: waits for the part with the others
                edge.known[viewer] = nxt  # counted only if it waited before the part was written
                edge.waiting.setdefault(nxt, []).append((viewer, now <= written[nxt]))
        return done

    for edge in edges.values():
        edge.waiting[0] = [(v, True) for v in range(simulated)]
    for k in range(parts):
        loop.at(written[k], publish)
    loop.run()
    at_live = len(deliveries) / max(1, len(deliveries) + len(behind))
    ms = np.asarray(deliveries or behind) * 1000 + costs.base_ms  # nobody at the live edge: how late parts come
    if costs.path_ms:
        ms = ms + rng.choice(np.asarray(costs.path_ms), size=len(ms))
    duration_s = parts * scenario.part_s
    span_s = max(duration_s, *(e.server.busy_until for e in edges.values()))
    edge_rps = float(viewers_per_edge * sum(e.requests for e in edges.values()) / (len(edges) * simulated) / span_s)
    demand = viewers_per_edge / scenario.part_s * costs.edge_ms / 1000 / scenario.edge_cores  # one request a part
    if scenario.shared_core:
        demand += max(edges_per_shield) * objects / scenario.part_s * costs.shield_ms / 1000 / scenario.edge_cores
    return Prediction(
        viewers=scenario.viewers, edges=scenario.edges, shields=scenario.shields,
        origin_requests_per_s=round(scenario.shields * objects / scenario.part_s, 1),
        origin_requests_per_part_per_shield=1.0,
        shield_requests_per_s=round(max(edges_per_shield) * objects / scenario.part_s, 1),
        edge_requests_per_s=round(edge_rps, 1),
        edge_utilization=round(edge_rps * costs.edge_ms / 1000 / scenario.edge_cores, 3),
        part_delivery_p50_ms=round(float(np.percentile(ms, 50)), 1),
        part_delivery_p99_ms=round(float(np.percentile(ms, 99)), 1),
        overloaded=demand >= 1 or origin.busy_s > duration_s or any(s.busy_s > duration_s for s in shields),
        viewers_at_live_edge=round(at_live, 3),
        requests_per_viewer_per_part=round(edge_rps * scenario.part_s / viewers_per_edge, 3),
        edge_demand=round(demand, 3),
    )


class _Edge:
    """One simulated edge's server and its viewers' state: when each part reached it, who waits for
    which part (blocked), and the last part each viewer knows of (from its last playlist)."""

    def __init__(self, server: PriorityServer, viewers: int) -> None:
        self.server = server
        self.has: list[float] = []
        self.waiting: dict[int, list[tuple[int, bool]]] = {}
        self.known = [0] * viewers
        self.requests = 0
        self.behind = 0
        self.seeks = 0


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
                           origin_ms=costs.origin_ms, base_ms=costs.base_ms, path_ms=costs.path_ms, link_ms=costs.link_ms)
    for viewers in settings.viewers:
        edges = edges_needed(viewers, settings, part_s)
        shields = min(edges, max(settings.shields, shields_needed(edges, costs.shield_ms, rungs, part_s)))
        scenario = Scenario(viewers, edges, shields, rungs, part_s, 1, settings.requests_per_viewer_per_part)
        rows.append(asdict(simulate(scenario, production, settings.parts, settings.max_simulated_viewers_per_edge))
                    | {"edges_needed_at_capacity": edges, "edge_capacity_rps": settings.edge_capacity_rps})
    return rows


DEFAULT_COSTS = TierCosts(edge_ms=0.0, shield_ms=0.3, origin_ms=0.6)
"""Without measured runs: the Python cache tier's and live origin's costs measured on this box (2026-12)."""


def _scenario(run: dict, settings: SimulateSettings) -> Scenario:
    """The scenario a ``peak run`` result ran: the Python edge shares the shields' one process (and core)."""
    return Scenario(run["viewers"], run["edges"], run["shields"], run.get("rungs_watched", 3), run.get("part_s", 1 / 3),
                    1, settings.requests_per_viewer_per_part, shared_core=run["engine"] == "python")


def link_time(run: dict) -> tuple[float, ...]:
    """The viewers' own link time per part (ms; load-independent): the trace-shaped last byte minus the
    delivery system's, interpolated over the centiles from its p50 and p99 (all ``peak run`` records)."""
    d50 = (run.get("part_delivery_shaped_p50_ms") or 0.0) - (run.get("part_delivery_p50_ms") or 0.0)
    d99 = (run.get("part_delivery_shaped_p99_ms") or 0.0) - (run.get("part_delivery_p99_ms") or 0.0)
    if d50 <= 0 and d99 <= 0:
        return ()
    return tuple(float(x) for x in np.interp(np.arange(101), [0, 50, 99, 100], [0.0, max(0.0, d50), max(d50, d99, 0.0),
                                                                               max(d50, d99, 0.0)]))


def calibrate(run: dict, costs: TierCosts, settings: SimulateSettings) -> TierCosts:
    """``costs`` plus the load-independent parts calibrated on ``run`` (an engine's smallest): the
    viewers' link time and the path noise, the measured delivery quantiles minus the model's
    queueing there (its median)."""
    linked = TierCosts(costs.edge_ms, costs.shield_ms, costs.origin_ms, link_ms=link_time(run))
    quantiles = run.get("part_delivery_quantiles_ms") or []
    if not quantiles:
        return linked
    queueing = simulate(_scenario(run, settings), linked, settings.parts, settings.max_simulated_viewers_per_edge)
    path = tuple(max(0.0, q - queueing.part_delivery_p50_ms) for q in quantiles)
    return TierCosts(costs.edge_ms, costs.shield_ms, costs.origin_ms, 0.0, path, linked.link_ms)


def validate(measured: list[dict], settings: SimulateSettings) -> list[dict]:
    """Predicted vs measured for each ``peak run`` result, with the measured per-request costs.

    The load-independent parts (path noise, link time: :func:`calibrate`) are calibrated once per
    engine, on its smallest run; every larger size is a prediction: the same path and links plus
    that size's queueing, with that run's measured CPU per request. The shield cost is the lowest
    measured (the Python tier's; runs with the Varnish edge only bound it from above). Beside the
    delivery quantiles each row compares the closed loop's regime: the share of parts the viewers
    waited for at the live edge (the only ones whose delivery the load generator counts) and the
    edge requests per viewer per part.
    """
    runs = sorted(measured, key=lambda r: r["viewers"])
    rows = []
    calibration: dict[str, dict] = {}
    shield_ms = min((r["cost_ms_per_request"]["shield"] for r in runs), default=DEFAULT_COSTS.shield_ms)
    for run in runs:
        cost = run["cost_ms_per_request"]
        first = calibration.setdefault(run["engine"], run)
        costs = calibrate(first, TierCosts(cost["edge"], shield_ms, cost["origin"]), settings)
        predicted = simulate(_scenario(run, settings), costs, settings.parts, settings.max_simulated_viewers_per_edge)
        parts = run.get("duration_s", 0) / run.get("part_s", 1 / 3) * run["viewers"]
        at_live = round(run["part_deliveries"] / parts, 3) if parts and run.get("part_deliveries") is not None else None
        per_part = round(run["requests"] / parts, 3) if parts and run.get("requests") is not None else None
        rows.append({
            "engine": run["engine"], "viewers": run["viewers"],
            "measured_p50_ms": run["part_delivery_p50_ms"], "predicted_p50_ms": predicted.part_delivery_p50_ms,
            "measured_p99_ms": run["part_delivery_p99_ms"], "predicted_p99_ms": predicted.part_delivery_p99_ms,
            "measured_origin_per_part_per_shield": run["origin_media_requests_per_part_per_shield"],
            "predicted_origin_per_part_per_shield": predicted.origin_requests_per_part_per_shield,
            "measured_at_live_edge": at_live, "predicted_at_live_edge": predicted.viewers_at_live_edge,
            "measured_requests_per_viewer_per_part": per_part,
            "predicted_requests_per_viewer_per_part": predicted.requests_per_viewer_per_part,
            "p50_error": _error(predicted.part_delivery_p50_ms, run["part_delivery_p50_ms"]),
            "p99_error": _error(predicted.part_delivery_p99_ms, run["part_delivery_p99_ms"]),
            "calibration_run": first is run,
            "path_ms_p50": round(float(np.median(costs.path_ms)), 2) if costs.path_ms else None,
        })
    return rows


def engine_calibration(measured: list[dict], settings: SimulateSettings, engine: str) -> TierCosts:
    """The calibrated path noise and link time of ``engine`` (see :func:`validate`), for predictions beyond the box."""
    runs = sorted((r for r in measured if r["engine"] == engine and r.get("part_delivery_quantiles_ms")),
                  key=lambda r: r["viewers"])
    if not runs:
        return TierCosts(0.0, 0.0, 0.0)
    cost = runs[0]["cost_ms_per_request"]
    return calibrate(runs[0], TierCosts(cost["edge"], cost["shield"], cost["origin"]), settings)


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
        path_ms=(noise := engine_calibration(measured, settings, engine)).path_ms,
        link_ms=noise.link_ms,
    )


def _error(predicted: float, measured: float | None) -> float | None:
    return round((predicted - measured) / measured, 3) if measured else None
