"""``streamlab peak simulate``: a discrete-event model of live delivery beyond this box.

The model is the LL-HLS fan-out a peak event is: every ``part_s`` a part (and a playlist version)
appears at the origin for each rung; every viewer at the live edge is already waiting for both (a
blocked playlist reload and the preload-hinted part), so the requests arrive together and what
matters is the queues they meet:

* each **shield** asks the origin once per object (coalescing): ``shields x rungs x 2`` origin
  requests per part, FIFO on the origin's one worker at the measured origin cost;
* each **edge** asks its shield (chosen by the rendezvous hash) once per object: FIFO on the
  shield at the measured shield cost, edges served in hash order;
* each edge answers its viewers on ``cores`` workers at the edge cost (varnishd: threads on every
  core; the Python edge: one event loop, :class:`LoopServer`, which it shares with the shields).
  The viewers are a closed loop, as the load generator's and hls.js's are (:func:`simulate`): one
  at the live edge has a blocked playlist reload and the hinted part waiting, answered when the
  part arrives (they wake together on one future, ahead of the requests still unread; an event
  loop only after the turn in progress); one the edge or its own link left behind asks for parts
  already written, one request each plus a reload when it has fetched all it knew of, and past the
  hold-back plus a second it skips to the live edge. So an edge past two requests a viewer a part
  sheds reloads instead of queueing without bound; it is overloaded only past one request a viewer
  a part. Near that, its turns hold every viewer's outstanding request, the viewers it wakes wait
  for a turn, are late for the next part and fall behind: the share of parts waited for at the
  live edge collapses (measured on the Python edge: 77 % at 300 viewers, 4 % at 1,000).
* the viewers' links: each part crosses the viewer's link (trace-shaped, measured as the last
  byte's delay) before it asks again, and a calibrated share of crossings outlast a part (a
  trace's dip: :func:`calibrate_links`), which leaves about a quarter of parts fetched behind the
  live edge at any load on this box's traces.
* on this box, the load generator's processes handle every answer before they time its last byte
  (:attr:`Scenario.clients`): a queue of its own for a woken batch. Beyond the box there is none.

A part's delivery is from its appearance at the origin to the last byte of a waiting viewer's
answer, plus the path noise (the load-independent rest this box measures at low load: wake-ups,
loopback), added rank for rank. Everything the model is fed is calibrated on an engine's smallest
run (:func:`calibrations`); the larger runs only validate it (:func:`validate`).

Events run from one heap (no simpy: it is not installed, and the model needs only FIFO servers, a
two-class queue and an event loop's turns); the origin and shields are sets of workers whose free
times are known, exact for FIFO when requests are submitted in time order, which an event loop
guarantees; the edges' completions are events, since a woken batch overtakes the queue. Big edges
are simulated *fluid*: beyond ``max_simulated_viewers_per_edge`` each simulated viewer stands for
``k`` real ones and costs ``k`` requests, which keeps the queue's total work and last completion
exact and the distribution's shape. Three representative edges per scenario are simulated in full
(the first, the middle and the last one their shield serves); origin and shield load are counted
exactly.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

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
    late_share: float = 0.0
    """Share of parts whose crossing of the viewer's link outlasts a part (a trace's dip or outage): the
    viewer asks for the next part after it was written, so it fetches it behind the live edge."""
    late_link_ms: float = 0.0
    """How long such a crossing takes (ms): with :attr:`late_share`, calibrated on the smallest run's
    share of parts waited for at the live edge and its requests per viewer per part (:func:`calibrate_links`)."""
    client_ms: float = 0.0
    """The load generator's CPU per request (ms; ``peak run``'s ``loadgen_cpu_ms_per_request``): on this
    box the viewers' answers queue there too before their last byte is timed (:attr:`Scenario.clients`)."""


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
    clients: int = 0
    """Load-generator processes the viewers are dealt to, each one event loop that handles every answer
    (:attr:`TierCosts.client_ms`) before its viewer times it: a woken batch of answers queues there as
    it does at the edge. 0: each viewer is its own client (real viewers, beyond this box)."""
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
    waiting_share: float = 1.0
    """Share of the edge's viewer requests that waited for their object to reach the edge (woken when it
    did) rather than finding it there: what the Python edge counts as ``coalesced`` (:func:`measured_waiting_share`)."""


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


class LoopServer:
    """One event loop answering in rounds: the Python tiers' process (uvloop, one core).

    Why not :class:`PriorityServer`: an event loop does not jump a woken request ahead of work it
    already took on. Each turn it runs every callback made ready before the turn (the requests it
    read from its sockets in the last poll, the tasks woken by a part's arrival) and only then
    polls for more. So a request waits for the turn in progress and is answered in the next one;
    requests woken together on one future are made ready together, ahead of what the next poll
    reads. At low load a turn is a few requests and this is the priority server; near the core's
    limit a turn holds every viewer's outstanding request, and a waiting viewer's part waits for
    the rest of a turn of that length. ``rng`` shuffles the requests read in one poll (``None``:
    FIFO). uvloop itself runs them in the order their sockets became readable (epoll's ready list;
    checked on this box, uvloop, 2026-12: 50 socket pairs made readable in a shuffled order during
    one busy turn ran in exactly that order, not in descriptor order). The edge keeps the shuffle
    (:func:`_run`) as a stand-in for the part of the process the model leaves out (below): with
    FIFO and that path instant, a saturated loop serves the same viewers in the same order turn
    after turn and the closed loop tips over within a few percent of CPU per request (1,000
    viewers with the tests' links, 24 parts: at 0.25 ms p50 175 ms, at 0.27 ms 1.2 s and none at
    the live edge; shuffled 133 and 149 ms). On the measured runs the two orders differ little
    (Python 1,000: p50 162 vs 164 ms, p99 326 vs 319 ms).

    The part's own way into the edge (origin → shield → edge are HTTP hops inside the one process)
    is left out: the shields' answers are woken work here, ahead of the turn's reads. Modelled as
    reads, a full turn each, the model gives 2.5-3x the measured median at 1,000 viewers (436 vs
    147 ms): this box's turns are shorter than "every outstanding request", and the one turn the
    woken answers certainly wait for is the one the model keeps. That path is where the saturated
    edge's tail comes from, and what the model cannot show: measured at 1,000 viewers, 89 % of the
    edge's requests were coalesced on a fill still in progress, an object on its way into the edge
    (82-84 % at 100-300, as the model has it: :attr:`Prediction.waiting_share`), the origin held
    209 part requests for a part not yet written (2,606 at 100 viewers: nearly every part) and 4 %
    of parts were waited for at the live edge: the viewers' requests are read after the part was
    written and wait for it on its way through the loop. The model's viewers fetch parts already at the edge instead (waiting
    share 0.11 there), and its delivery is capped near one turn (p99 319 ms) where the measured
    one has a separate top mode (the slowest 1-1.5 % at 420-450 ms, 70-100 ms above the next
    centile, in all three 1,000-viewer runs).
    """

    def __init__(self, loop: EventLoop, rng: np.random.Generator | None = None) -> None:
        self.loop = loop
        self.rng = rng
        self.turn: list[tuple[float, Callable[[float], None] | None]] = []
        self.woken: list[tuple[float, Callable[[float], None] | None]] = []
        self.read: list[tuple[float, Callable[[float], None] | None]] = []
        self.position = 0
        self.running = False
        self.busy_until = 0.0
        self.busy_s = 0.0

    def submit(self, now: float, service_s: float, done: Callable[[float], None] | None, first: bool = False) -> None:
        (self.woken if first else self.read).append((service_s, done))
        if not self.running:
            self._next_turn(now)

    def _next_turn(self, now: float) -> None:
        if self.rng is not None and len(self.read) > 1:  # a poll reads ready sockets in descriptor order
            self.read = [self.read[i] for i in self.rng.permutation(len(self.read))]
        self.turn, self.woken, self.read, self.position = self.woken + self.read, [], [], 0
        self.running = bool(self.turn)
        if self.running:
            self._serve(now)

    def _serve(self, now: float) -> None:
        service_s, done = self.turn[self.position]
        self.busy_s += service_s
        self.busy_until = max(self.busy_until, now + service_s)

        def finished(at: float) -> None:
            self.position += 1
            if done is not None:
                done(at)
            if self.position < len(self.turn):
                self._serve(at)
            else:
                self._next_turn(at)
        self.loop.at(now + service_s, finished)


@dataclass
class _Outcome:
    """One simulation's raw result: what :class:`Prediction` summarizes, and :func:`calibrate` deconvolves."""

    queueing_ms: np.ndarray
    """Sorted system delivery of the parts waited for at the live edge (or, when none was, of the late ones)."""
    at_live: float
    edge_rps: float
    demand: float
    overloaded: bool
    waiting_share: float = 1.0


def simulate(scenario: Scenario, costs: TierCosts, parts: int, max_simulated_viewers_per_edge: int) -> Prediction:
    """Run ``parts`` parts of ``scenario`` through the queues; delivery is for the part requests.

    The viewers are a *closed loop*, as the load generator's (and hls.js's) are: each asks for its
    next part only after the last one arrived. A viewer that is done before the next part exists
    waits at the live edge (a blocking playlist reload and the hinted part, both answered when the
    part reaches its edge: two requests, and that part's delivery is the system's, counted); one
    that is done after it (the edge was slow, or its link: :attr:`TierCosts.late_share`) is behind,
    fetches the next part at once (one request, plus a playlist reload when it has fetched every
    part it knew of) and that delivery is not the system's (the load generator does not count it
    either). So an edge near its capacity sheds playlist requests instead of queueing without
    bound: its request rate falls towards one per viewer per part and it is overloaded only when
    even that is more than it serves. With ``scenario.shared_core`` the shields' answers take the
    edge's core too (the Python cluster: one process, one event loop). The first ``parts // 3``
    parts are warm-up (everyone starts at the live edge at once) and not counted.
    """
    out = _run(scenario, costs, parts, max_simulated_viewers_per_edge)
    ms = _with_path(out.queueing_ms + costs.base_ms, costs.path_ms)
    edges_per_shield = _edges_per_shield(scenario)
    objects = scenario.rungs * 2
    viewers_per_edge = scenario.viewers / scenario.edges
    return Prediction(
        viewers=scenario.viewers, edges=scenario.edges, shields=scenario.shields,
        origin_requests_per_s=round(scenario.shields * objects / scenario.part_s, 1),
        origin_requests_per_part_per_shield=1.0,
        shield_requests_per_s=round(max(edges_per_shield) * objects / scenario.part_s, 1),
        edge_requests_per_s=round(out.edge_rps, 1),
        edge_utilization=round(out.edge_rps * costs.edge_ms / 1000 / scenario.edge_cores, 3),
        part_delivery_p50_ms=round(float(np.percentile(ms, 50)), 1),
        part_delivery_p99_ms=round(float(np.percentile(ms, 99)), 1),
        overloaded=out.overloaded,
        viewers_at_live_edge=round(out.at_live, 3),
        requests_per_viewer_per_part=round(out.edge_rps * scenario.part_s / viewers_per_edge, 3),
        edge_demand=round(out.demand, 3),
        waiting_share=round(out.waiting_share, 3),
    )


def _with_path(queueing_ms: np.ndarray, path_ms: tuple[float, ...]) -> np.ndarray:
    """Each delivery plus the path time of the same rank (comonotone), ``queueing_ms`` sorted.

    The path time (wake-ups, loopback, the processes' scheduling on a shared box) and a part's
    place in its woken batch share a cause, the box's load at that moment (every process of the
    run handles the batch at once), so they are added rank for rank; it is also the one rule under which
    :func:`calibrate`'s subtraction reproduces the calibration run itself.
    """
    if not path_ms or not len(queueing_ms):
        return queueing_ms
    ranks = np.linspace(0.0, 100.0, len(queueing_ms))
    return queueing_ms + np.interp(ranks, _centile_ranks(len(path_ms)), np.asarray(path_ms))


def _centile_ranks(n: int) -> np.ndarray:
    """Where ``n`` quantiles that each stand for ``1/n`` of the values sit (``peak run`` records 100,
    at 0.5, 1.5, ..., 99.5: ``loadgen.crowd._centiles``)."""
    return (np.arange(n) + 0.5) * 100.0 / n


def _edges_per_shield(scenario: Scenario) -> list[int]:
    return [scenario.edges // scenario.shields + (1 if i < scenario.edges % scenario.shields else 0)
            for i in range(scenario.shields)]


def _run(scenario: Scenario, costs: TierCosts, parts: int, max_simulated_viewers_per_edge: int) -> _Outcome:
    """The event loop of :func:`simulate`: deliveries unsummarized."""
    loop = EventLoop()
    origin = Server(1)
    shields = [Server(1) for _ in range(scenario.shields)]
    edges_per_shield = _edges_per_shield(scenario)
    viewers_per_edge = scenario.viewers / scenario.edges
    simulated = max(1, min(math.ceil(viewers_per_edge), max_simulated_viewers_per_edge))
    weight = viewers_per_edge / simulated  # real viewers one simulated viewer stands for
    service = costs.edge_ms / 1000 * weight
    # the edges simulated in full: first, middle and last served by shield 0
    n0 = max(1, edges_per_shield[0])
    sampled = sorted({0, n0 // 2, n0 - 1})

    def server() -> PriorityServer | LoopServer:
        if scenario.shared_core:  # the Python tiers: one event loop
            return LoopServer(loop, np.random.default_rng(1))
        return PriorityServer(loop, scenario.edge_cores)
    edges = {i: _Edge(server(), simulated) for i in sampled}
    deliveries: list[float] = []  # parts the viewer waited for at the live edge: the system's delivery
    behind: list[float] = []  # parts fetched late: how far behind their writing they arrived
    objects = scenario.rungs * 2  # a part and a playlist version per rung
    warmup = parts // 3
    written = [k * scenario.part_s for k in range(parts)]
    rng = np.random.default_rng(0)
    link = rng.choice(np.asarray(costs.link_ms) / 1000, size=simulated) if costs.link_ms else np.zeros(simulated)
    # a part's crossing outlasts a part (the viewer's trace dips): drawn per viewer and part
    late = rng.random((simulated, parts)) < costs.late_share if costs.late_share > 0 else None
    clients = [LoopServer(loop) for _ in range(scenario.clients)] if costs.client_ms > 0 else []
    client_s = costs.client_ms / 1000 * weight

    def ask(edge: _Edge, now: float, viewer: int, done: Callable[[float], None] | None, first: bool = False) -> None:
        """One request of ``viewer`` answered by ``edge``, then handled by the viewer's load-generator process."""
        if clients:
            client, then = clients[viewer % len(clients)], done
            done = lambda at: client.submit(at, client_s, then)  # noqa: E731
        edge.server.submit(now, service, done, first)

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
                    edge = edges[edge_index]
                    if scenario.shared_core:  # the shield's answers take the edge's one core too
                        edge.server.submit(now, objects * costs.shield_ms / 1000, None, first=True)
                    loop.at(done, part_reaches(edge))
        return arrived

    def part_reaches(edge: _Edge) -> Callable[[float], None]:
        def arrived(now: float) -> None:
            k = len(edge.has)
            edge.has.append(now)
            for viewer, counted in edge.waiting.pop(k, []):  # the blocked reload, then the hinted part
                edge.requests += 2
                edge.woken += 2
                ask(edge, now, viewer, None, first=True)
                ask(edge, now, viewer, got_part(edge, viewer, k, counted), first=True)
        return arrived

    def got_part(edge: _Edge, viewer: int, k: int, at_live: bool, relinked: bool = False) -> Callable[[float], None]:
        def done(now: float) -> None:
            if k >= warmup and not relinked:
                (deliveries if at_live else behind).append(now - written[k])
            nxt = k + 1
            if nxt >= parts:
                return
            if not relinked:  # the part crosses the viewer's link before it asks again
                crossing = costs.late_link_ms / 1000 if late is not None and late[viewer, k] else link[viewer]
                if crossing:
                    loop.at(now + crossing, got_part(edge, viewer, k, False, True))
                    return
            if nxt < len(edge.has) and nxt > edge.known[viewer]:  # behind: a reload answered at once
                edge.requests += 1
                ask(edge, now, viewer, None)  # the part request queues right behind it
                edge.known[viewer] = len(edge.has) - 1
            if edge.known[viewer] - nxt + 1 > scenario.seek_behind_parts:  # hls.js skips the backlog
                nxt = edge.known[viewer] - scenario.hold_back_parts + 1
                edge.seeks += 1
            if nxt <= edge.known[viewer]:  # behind, and it knows of the part: fetched at once
                edge.requests += 1
                edge.behind += 1
                ask(edge, now, viewer, got_part(edge, viewer, nxt, False))
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
    # nobody at the live edge: how late the parts come
    queueing = np.sort(np.asarray(deliveries or behind, dtype=float)) * 1000
    duration_s = parts * scenario.part_s
    span_s = max(duration_s, *(e.server.busy_until for e in edges.values()))
    edge_rps = float(viewers_per_edge * sum(e.requests for e in edges.values()) / (len(edges) * simulated) / span_s)
    demand = viewers_per_edge / scenario.part_s * costs.edge_ms / 1000 / scenario.edge_cores  # one request a part
    if scenario.shared_core:
        demand += max(edges_per_shield) * objects / scenario.part_s * costs.shield_ms / 1000 / scenario.edge_cores
    overloaded = demand >= 1 or origin.busy_s > duration_s or any(s.busy_s > duration_s for s in shields)
    waiting_share = sum(e.woken for e in edges.values()) / max(1, sum(e.requests for e in edges.values()))
    return _Outcome(queueing, at_live, edge_rps, demand, overloaded, waiting_share)


class _Edge:
    """One simulated edge's server and its viewers' state: when each part reached it, who waits for
    which part (blocked), and the last part each viewer knows of (from its last playlist)."""

    def __init__(self, server: PriorityServer | LoopServer, viewers: int) -> None:
        self.server = server
        self.has: list[float] = []
        self.waiting: dict[int, list[tuple[int, bool]]] = {}
        self.known = [0] * viewers
        self.requests = 0
        self.woken = 0
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
    production = replace(costs, edge_ms=1000 / settings.edge_capacity_rps)
    for viewers in settings.viewers:
        edges = edges_needed(viewers, settings, part_s)
        shields = min(edges, max(settings.shields, shields_needed(edges, costs.shield_ms, rungs, part_s)))
        scenario = Scenario(viewers, edges, shields, rungs, part_s, 1, settings.requests_per_viewer_per_part)
        rows.append(asdict(simulate(scenario, production, settings.parts, settings.max_simulated_viewers_per_edge))
                    | {"edges_needed_at_capacity": edges, "edge_capacity_rps": settings.edge_capacity_rps})
    return rows


DEFAULT_COSTS = TierCosts(edge_ms=0.0, shield_ms=0.3, origin_ms=0.6)
"""Without measured runs: the Python cache tier's and live origin's costs measured on this box (2026-12)."""


MEASURED_BOX_CORES = 2
"""Cores of the box the recorded runs ran on (``bench-peak.json``'s ``machine.cpus``) when a run
does not say (``cpus``)."""
VALIDATION_PARTS = 90
"""Parts simulated to compare with a measured run (30 s, the first 10 warm-up): enough for the
viewers' late crossings (a few parts each, a few % of parts) to reach their share."""
CALIBRATION_PARTS = VALIDATION_PARTS


def validation_parts(settings: SimulateSettings) -> int:
    return max(settings.parts, VALIDATION_PARTS)


def _scenario(run: dict, settings: SimulateSettings) -> Scenario:
    """The scenario a ``peak run`` result ran. The Python edge shares the shields' one process (one
    event loop: one core); varnishd answers on worker threads, so on every core of the box."""
    python = run["engine"] == "python"
    return Scenario(run["viewers"], run["edges"], run["shields"], run.get("rungs_watched", 3), run.get("part_s", 1 / 3),
                    1 if python else int(run.get("cpus", MEASURED_BOX_CORES)), settings.requests_per_viewer_per_part,
                    shared_core=python, clients=len(run.get("loadgen_workers") or []))


def link_time(run: dict) -> tuple[float, ...]:
    """The viewers' own link time per part (ms; load-independent): the trace-shaped last byte minus the
    delivery system's, interpolated over the centiles from its p50 and p99 (all ``peak run`` records)."""
    d50 = (run.get("part_delivery_shaped_p50_ms") or 0.0) - (run.get("part_delivery_p50_ms") or 0.0)
    d99 = (run.get("part_delivery_shaped_p99_ms") or 0.0) - (run.get("part_delivery_p99_ms") or 0.0)
    if d50 <= 0 and d99 <= 0:
        return ()
    return tuple(float(x) for x in np.interp(np.arange(101), [0, 50, 99, 100], [0.0, max(0.0, d50), max(d50, d99, 0.0),
                                                                               max(d50, d99, 0.0)]))


def measured_regime(run: dict) -> tuple[float, float] | None:
    """A run's share of parts waited for at the live edge and its edge requests per viewer per part
    (``None`` when the run does not record them)."""
    parts = run.get("duration_s", 0) / run.get("part_s", 1 / 3) * run["viewers"]
    if not parts or run.get("part_deliveries") is None or run.get("requests") is None:
        return None
    return run["part_deliveries"] / parts, run["requests"] / parts


def measured_waiting_share(run: dict) -> float | None:
    """The share of the Python edges' requests that were coalesced on an object still on its way
    (``edge_counters``); ``None`` for Varnish (its ``waiting_list_sleeps`` count sleeps on a busy
    object, not requests: about 0.45 while 77 % of parts are waited for at the live edge) or
    without counters. Against :attr:`Prediction.waiting_share` it shows whether the model's viewers
    wait where the measured ones did, which the delivery quantiles alone do not."""
    counters = run.get("edge_counters") or []
    requests = sum(c.get("requests", 0) for c in counters)
    if run.get("engine") != "python" or not requests or any("coalesced" not in c for c in counters):
        return None
    return round(sum(c["coalesced"] for c in counters) / requests, 3)


LATE_LINK_PARTS = (1.5, 3.0, 6.0, 10.0, 15.0)
"""Candidate lengths of a late crossing, in parts (a dip of half a second to an outage of five)."""


def calibrate_links(run: dict, costs: TierCosts, settings: SimulateSettings) -> TierCosts:
    """``costs`` with the viewers' late crossings calibrated on ``run`` (an engine's smallest).

    Why: a viewer whose trace dips below its rung's bitrate takes longer than a part to receive one
    (the ABR samples throughput only on parts it did not wait for, so at the live edge it does not
    switch down in time); it asks for the next part after it was written and fetches it behind
    the live edge, not counted. Measured at 100-300 viewers and Varnish at 1,000 (no tier near its
    CPU limit), 76-77 % of parts are waited for at the live edge whatever the load: the traces' share,
    not the system's. Two numbers of the run fix the two unknowns: the share waited for at the live
    edge fixes how often a crossing is late, the requests per viewer per part how long (a long
    outage leaves the viewer several parts behind, fetched one request each from the playlist it
    then knows). Everything else about the run (its queueing) is the model's.
    """
    regime = measured_regime(run)
    if regime is None or regime[0] >= 1.0:
        return costs
    at_live, per_part = regime
    scenario = _scenario(run, settings)
    best: tuple[float, TierCosts] | None = None
    for length in LATE_LINK_PARTS:
        low, high = 0.0, 0.5
        for _ in range(10):  # bisection on the share: the simulated share at the live edge falls with it
            share = (low + high) / 2
            trial = replace(costs, late_share=share, late_link_ms=length * scenario.part_s * 1000)
            outcome = _run(scenario, trial, CALIBRATION_PARTS, settings.max_simulated_viewers_per_edge)
            low, high = (share, high) if outcome.at_live > at_live else (low, share)
        trial = replace(costs, late_share=(low + high) / 2, late_link_ms=length * scenario.part_s * 1000)
        outcome = _run(scenario, trial, CALIBRATION_PARTS, settings.max_simulated_viewers_per_edge)
        miss = abs(outcome.edge_rps * scenario.part_s / (scenario.viewers / scenario.edges) - per_part)
        if best is None or miss < best[0]:
            best = (miss, trial)
    return best[1] if best else costs


def calibrate(run: dict, costs: TierCosts, settings: SimulateSettings) -> TierCosts:
    """``costs`` plus the load-independent parts calibrated on ``run`` (an engine's smallest): the
    viewers' link time and late crossings (:func:`calibrate_links`) and the path noise, the
    measured delivery quantiles minus the model's queueing there, rank for rank (:func:`_with_path`)."""
    linked = calibrate_links(run, replace(costs, base_ms=0.0, path_ms=(), link_ms=link_time(run)), settings)
    quantiles = run.get("part_delivery_quantiles_ms") or []
    if not quantiles:
        return linked
    queueing = _run(_scenario(run, settings), linked, validation_parts(settings),
                    settings.max_simulated_viewers_per_edge).queueing_ms
    model = np.percentile(queueing, _centile_ranks(len(quantiles))) if len(queueing) else 0.0
    path = tuple(float(x) for x in np.maximum(0.0, np.asarray(quantiles) - model))
    return replace(linked, path_ms=path)


def validate(measured: list[dict], settings: SimulateSettings) -> list[dict]:
    """Predicted vs measured for each ``peak run`` result.

    Everything the model is fed is calibrated once per engine, on its smallest run
    (:func:`calibrate`): the CPU per request of each tier, the path noise and the viewers' links.
    Every larger size is a prediction: the same costs, path and links plus that size's queueing.
    The shield cost is the lowest of the calibration runs' (the Python tier's; runs with the
    Varnish edge only bound it from above). Beside the delivery quantiles each row compares the
    closed loop's regime: the share of parts the viewers waited for at the live edge (the only
    ones whose delivery the load generator counts) and the edge requests per viewer per part; and,
    for reference, the p50/p99 the model gives with that run's own measured CPU per request (it
    falls with load, as a busier event loop amortizes its turns: an input the model does not get).
    """
    runs = sorted(measured, key=lambda r: r["viewers"])
    rows = []
    first: dict[str, dict] = {}
    for run in runs:
        first.setdefault(run["engine"], run)
    calibrated = calibrations(runs, settings)
    for run in runs:
        costs = calibrated[run["engine"]]
        scenario = _scenario(run, settings)
        predicted = simulate(scenario, costs, validation_parts(settings), settings.max_simulated_viewers_per_edge)
        own = run["cost_ms_per_request"]
        own_cpu = predicted if first[run["engine"]] is run else simulate(
            scenario, replace(costs, edge_ms=own["edge"], origin_ms=own["origin"]), validation_parts(settings),
            settings.max_simulated_viewers_per_edge)
        regime = measured_regime(run)
        at_live, per_part = (round(regime[0], 3), round(regime[1], 3)) if regime else (None, None)
        rows.append({
            "engine": run["engine"], "viewers": run["viewers"],
            "measured_p50_ms": run["part_delivery_p50_ms"], "predicted_p50_ms": predicted.part_delivery_p50_ms,
            "measured_p99_ms": run["part_delivery_p99_ms"], "predicted_p99_ms": predicted.part_delivery_p99_ms,
            "measured_origin_per_part_per_shield": run["origin_media_requests_per_part_per_shield"],
            "predicted_origin_per_part_per_shield": predicted.origin_requests_per_part_per_shield,
            "measured_at_live_edge": at_live, "predicted_at_live_edge": predicted.viewers_at_live_edge,
            "measured_requests_per_viewer_per_part": per_part,
            "predicted_requests_per_viewer_per_part": predicted.requests_per_viewer_per_part,
            "measured_waiting_share": measured_waiting_share(run), "predicted_waiting_share": predicted.waiting_share,
            "p50_error": _error(predicted.part_delivery_p50_ms, run["part_delivery_p50_ms"]),
            "p99_error": _error(predicted.part_delivery_p99_ms, run["part_delivery_p99_ms"]),
            "calibration_run": first[run["engine"]] is run,
            "predicted_edge_utilization": predicted.edge_utilization,
            "predicted_p50_ms_own_cpu": own_cpu.part_delivery_p50_ms,
            "predicted_p99_ms_own_cpu": own_cpu.part_delivery_p99_ms,
            "predicted_at_live_edge_own_cpu": own_cpu.viewers_at_live_edge,
            "path_ms_p50": round(float(np.median(costs.path_ms)), 2) if costs.path_ms else None,
        })
    return rows


def calibrations(measured: list[dict], settings: SimulateSettings) -> dict[str, TierCosts]:
    """Per engine, everything the model is fed, calibrated on the engine's smallest run only
    (:func:`calibrate`): its CPU per request at the edge and origin and the load generator's, the
    shield's (the lowest of these runs': the Python tier's, as Varnish runs only bound it from
    above), the path noise and the viewers' links."""
    first: dict[str, dict] = {}
    for run in sorted(measured, key=lambda r: r["viewers"]):
        first.setdefault(run["engine"], run)
    shield_ms = min((r["cost_ms_per_request"]["shield"] for r in first.values()), default=DEFAULT_COSTS.shield_ms)
    out = {}
    for engine, run in first.items():
        cost = run["cost_ms_per_request"]
        fed = TierCosts(cost["edge"], shield_ms, cost["origin"], client_ms=run.get("loadgen_cpu_ms_per_request") or 0.0)
        out[engine] = calibrate(run, fed, settings)
    return out


def engine_calibration(measured: list[dict], settings: SimulateSettings, engine: str) -> TierCosts:
    """The calibrated path noise and links of ``engine`` (see :func:`validate`), for predictions beyond the box."""
    return calibrations([r for r in measured if r["engine"] == engine], settings).get(engine, TierCosts(0.0, 0.0, 0.0))


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
        late_share=noise.late_share,
        late_link_ms=noise.late_link_ms,
    )


def _error(predicted: float, measured: float | None) -> float | None:
    return round((predicted - measured) / measured, 3) if measured else None
