"""BOLA-BASIC (Spiteri, Urgaonkar, Sitaraman, INFOCOM 2016).

Each level's score is ``(V (v_m + gamma p) - Q) / S_m`` with utility ``v_m = ln(S_m / S_min)`` taken
from the bitrate ladder, buffer level ``Q`` (s) and chunk size ``S_m``; the highest score wins.
``V`` and ``gamma p`` are set from a minimum buffer and a target buffer as in the dash.js BOLA
defaults: the lowest level is chosen at :data:`MINIMUM_BUFFER_S`, the top one from
:data:`TARGET_BUFFER_S`.
"""

from __future__ import annotations

import math

from streamlab.models.abr.policies.base import Observation, Policy

MINIMUM_BUFFER_S = 10.0
TARGET_BUFFER_S = 30.0


class Bola(Policy):
    name = "bola"

    def select(self, obs: Observation) -> int:
        rates = self.video.bitrates_kbps
        utilities = [math.log(r / rates[0]) for r in rates]
        if utilities[-1] <= utilities[0]:  # one rung (a small source) or a flat ladder: nothing to choose
            return 0
        gp = 1.0 + (utilities[-1] - utilities[0]) / (TARGET_BUFFER_S / MINIMUM_BUFFER_S - 1.0)
        vp = MINIMUM_BUFFER_S / (utilities[0] + gp - 1.0)
        best, best_score = 0, -math.inf
        for level, (utility, size) in enumerate(zip(utilities, obs.next_sizes_bytes, strict=True)):
            score = (vp * (utility + gp) - obs.buffer_s) / float(size)
            if score >= best_score:
                best, best_score = level, score
        return best
