"""Ray Data batch scoring (time shards with history) decides exactly as the single-process path."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_ray_data_shards_give_the_same_alerts_as_local(three_hours):
    from streamlab.core.ray_runtime import init_ray
    from streamlab.models.qoe.detect import detect_frames
    from streamlab.training.qoe.registry import load_model

    model = load_model(None)
    init_ray(num_cpus=2)
    local, windows, _ = detect_frames(model, three_hours.heartbeats, three_hours.summaries, "local")
    sharded, windows_ray, _ = detect_frames(model, three_hours.heartbeats, three_hours.summaries, "ray", shards=4)
    assert windows == windows_ray
    assert [(a.dimension, a.value, a.start, a.end, a.detected_at) for a in sharded] == \
        [(a.dimension, a.value, a.start, a.end, a.detected_at) for a in local]
