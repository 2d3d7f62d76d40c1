"""The browser's live rule (``streaming/player/static/abr-live.js``): its pure parts under node, and its
request body accepted by the family's wire contract."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from streamlab.models.abr.decide import AbrDecideRequest

SCRIPT = Path(__file__).resolve().parents[2] / "streaming" / "player" / "static" / "abr-live.js"


def run_node(body: str) -> object:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the player's JavaScript (Debian package nodejs)")
    program = f"const abr = require({json.dumps(str(SCRIPT))});\nconsole.log(JSON.stringify((() => {{ {body} }})()));"
    done = subprocess.run([node, "-e", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_parts_sum_into_whole_segments_and_the_loading_one_is_left_out() -> None:
    samples = run_node("""
        const parts = [];
        for (const sn of [7, 8, 9]) for (let k = 0; k < 3; k++) parts.push({sn, bytes: 1000 * sn, transferMs: 10});
        parts.pop();  // sn 9 still loading
        return abr.segmentSamples(parts, 16);
    """)
    assert samples == [{"bytes": 21000, "download_ms": 30}, {"bytes": 24000, "download_ms": 30}]


def test_the_request_body_is_a_valid_live_request() -> None:
    body = run_node("""
        return abr.liveRequest({bufferS: 1.4, latencyS: 2.3, targetLatencyS: 2, playbackRate: 1.0, lastRung: 1,
            segmentDurationS: 2, partDurationS: 0.334, samples: [{bytes: 300000, download_ms: 500}],
            bitratesKbps: [300, 750, 1200], sessionId: "s1"});
    """)
    request = AbrDecideRequest.model_validate(body)
    assert request.mode == "live" and request.latency_s == 2.3 and len(request.ladder) == 3


def test_only_an_answer_for_the_last_completed_segment_is_used() -> None:
    result = run_node("""
        const d = {forSn: 5, level: 2, receivedAt: 1000};
        return [abr.freshChoice(d, 5, 1500, 4000) !== null, abr.freshChoice(d, 6, 1500, 4000) !== null,
                abr.freshChoice(d, 5, 9000, 4000) !== null, abr.freshChoice(null, 5, 1500, 4000) !== null];
    """)
    assert result == [True, False, False, False]
