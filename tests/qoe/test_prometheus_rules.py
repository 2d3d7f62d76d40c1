"""The Prometheus rule file (configs/prometheus/streamlab-rules.yml): well-formed, and about metrics we export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "configs" / "prometheus" / "streamlab-rules.yml"
METRICS_SOURCE = ROOT / "serving" / "metrics.py"
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "")


def _exported() -> set[str]:
    """Series names serving/metrics.py exports (prometheus-client adds ``_total`` to counters)."""
    names = set()
    for kind, name in re.findall(r"prometheus_client\.(Counter|Gauge|Histogram)\(\s*name=\"([a-z_]+)\"", METRICS_SOURCE.read_text()):
        names |= {name + "_total"} if kind == "Counter" else {name + s for s in SUFFIXES} if kind == "Histogram" else {name}
    return names


def _rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_rule_is_complete_and_names_only_exported_series() -> None:
    exported = _exported()
    assert "streamlab_qoe_alerts_opened_total" in exported  # the parser above still reads serving/metrics.py
    rules = _rules()
    assert {r["alert"] for r in rules} >= {"QoeDegradationDetected", "QoeTelemetryAbsent", "ServingErrors"}
    for rule in rules:
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        used = set(re.findall(r"\bstreamlab_[a-z_]+", rule["expr"]))
        assert used and used <= exported, f"{rule['alert']}: {sorted(used - exported)} not exported by serving/metrics.py"
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_promtool_accepts_the_rules() -> None:
    """``make setup`` installs Debian's prometheus (promtool with it); a missing one must fail, not skip."""
    assert shutil.which("promtool"), "promtool is missing: `make setup` installs the Debian package prometheus"
    proc = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
