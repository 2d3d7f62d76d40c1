"""Naming the knee: every process's CPU share per run, the one nearest its limit, and where p99 part
delivery crosses 250 ms, annotated on the scaling plot."""

from __future__ import annotations

from streamlab.pipelines.peak.knee import TIERS_PYTHON_EDGE, VARNISH, bottleneck, knees, process_shares
from streamlab.pipelines.peak.plots import scaling_figure


def _run(engine: str, viewers: int, p99_ms: float, cluster: float, varnish: float = 0.0, workers: tuple[float, ...] = (0.4, 0.4)) -> dict:
    return {"engine": engine, "viewers": viewers, "part_delivery_p99_ms": p99_ms, "latency_to_live_median_s": 1.2,
            "cpu_share": {"channel": 0.1, "cluster": cluster, "varnish": varnish},
            "loadgen_workers": [{"cpu_share": w} for w in workers]}


def test_every_process_has_its_share_and_the_bottleneck_is_the_one_nearest_its_limit() -> None:
    python = _run("python", 300, 400.0, cluster=0.95)
    assert process_shares(python) == {"channel (live origin)": 0.1, TIERS_PYTHON_EDGE: 0.95,
                                      "load generator worker 0": 0.4, "load generator worker 1": 0.4}
    assert bottleneck(python, cores=2) == {"process": TIERS_PYTHON_EDGE, "cpu_share": 0.95, "load": 0.95, "saturated": True}
    # varnishd at 1.2 cores of 2 is less loaded than a load-generator worker at 0.9 of its one core
    varnish = _run("varnish", 300, 200.0, cluster=0.1, varnish=1.2, workers=(0.9, 0.5))
    assert VARNISH in process_shares(varnish)
    neck = bottleneck(varnish, cores=2)
    assert neck["process"] == "load generator worker 0" and neck["load"] == 0.9 and neck["saturated"]
    assert not bottleneck(_run("varnish", 100, 90.0, cluster=0.1, varnish=0.2), cores=2)["saturated"]
    assert bottleneck(varnish, cores=1)["process"] == VARNISH


def test_the_knee_is_where_p99_crosses_the_goal_between_measured_sizes() -> None:
    runs = [_run("python", 100, 150.0, 0.5), _run("python", 200, 200.0, 0.7), _run("python", 300, 400.0, 0.97),
            _run("varnish", 100, 90.0, 0.1, 0.3), _run("varnish", 300, 120.0, 0.1, 0.5)]
    found = knees(runs)
    assert found["varnish"] is None
    python = found["python"]
    assert python is not None and python["viewers"] == 225 and python["measured_at"] == 300  # 200 + 50/200 x 100
    assert python["bottleneck"]["process"] == TIERS_PYTHON_EDGE
    already = knees([_run("python", 100, 300.0, 0.9)])["python"]
    assert already is not None and already["viewers"] == 100


def test_the_scaling_plot_names_the_knee_and_its_process() -> None:
    runs = [_run("python", 100, 150.0, 0.5), _run("python", 300, 400.0, 0.97),
            _run("varnish", 100, 90.0, 0.1, 0.3), _run("varnish", 300, 120.0, 0.1, 0.5)]
    delivery = scaling_figure(runs).axes[1]
    notes = [text.get_text() for text in delivery.texts]  # 100 + (250 - 150) / (400 - 150) x 200 = 180
    assert len(notes) == 1 and "python knee ~180 viewers" in notes[0]
    assert f"{TIERS_PYTHON_EDGE} saturated (0.97 cores)" in notes[0]


def test_the_scaling_plot_shows_the_load_generators_own_cpu_and_where_no_knee_was_reached() -> None:
    runs = [_run("varnish", 100, 90.0, 0.1, 0.3, workers=(0.1, 0.1)),
            _run("varnish", 1000, 120.0, 0.1, 0.9, workers=(0.6, 0.5))]
    cpu = scaling_figure(runs).axes[2]
    lines = {line.get_label(): list(line.get_ydata()) for line in cpu.get_lines()}
    assert lines["varnish: varnishd"] == [0.3, 0.9]
    assert lines["varnish: load generator (2 procs)"] == [0.2, 1.1]
    notes = [text.get_text() for text in cpu.texts]
    assert len(notes) == 1 and "varnish held 1000 viewers" in notes[0]
    assert "load generator worker 0 (0.60 cores)" in notes[0]
