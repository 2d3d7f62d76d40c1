"""The viewer population: regions and their edges, devices, titles with popularity, diurnal arrivals.

The *structure* (names, shares, per-edge throughput factors) comes from ``configs/qoe.yaml`` only,
never from the seed, so a detector's per-group baselines learned on one seed's days apply to
another seed's days; the seed draws arrivals, attributes and incidents.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from streamlab.models.qoe.settings import PopulationSettings


@dataclass(frozen=True)
class Population:
    settings: PopulationSettings
    regions: tuple[str, ...]
    region_share: np.ndarray
    edges: dict[str, tuple[str, ...]]
    edge_region: dict[str, str]
    edge_scale: dict[str, float]
    devices: tuple[str, ...]
    device_share: np.ndarray
    titles: tuple[str, ...]
    title_share: np.ndarray

    @classmethod
    def from_settings(cls, s: PopulationSettings) -> Population:
        regions = tuple(s.regions)
        edges = {r: tuple(f"{r}-{i + 1}" for i in range(s.regions[r].edges)) for r in regions}
        edge_region = {e: r for r, es in edges.items() for e in es}
        # A fixed per-edge factor (peering, capacity): drawn from the edge *name* so it is seed-free.
        edge_scale = {e: float(np.exp(np.random.default_rng(zlib.crc32(e.encode())).normal(0.0, s.edge_scale_sigma)))
                      for e in edge_region}
        titles = tuple(f"t{i:03d}" for i in range(s.titles))
        popularity = 1.0 / np.arange(1, s.titles + 1) ** s.title_zipf
        shares = np.array([s.regions[r].share for r in regions])
        devices = tuple(s.devices)
        dev_shares = np.array([s.devices[d].share for d in devices])
        return cls(s, regions, shares / shares.sum(), edges, edge_region, edge_scale, devices,
                   dev_shares / dev_shares.sum(), titles, popularity / popularity.sum())

    def values(self, dimension: str) -> tuple[str, ...]:
        return {"region": self.regions, "edge": tuple(self.edge_region), "title": self.titles,
                "device": self.devices}[dimension]

    def rate_per_s(self, t_s: np.ndarray) -> np.ndarray:
        """Session arrivals per second at epoch ``t_s``: the daily mean shaped by a cosine diurnal curve."""
        s = self.settings
        hour = (np.asarray(t_s) % 86400.0) / 3600.0
        return s.sessions_per_day / 86400.0 * (1.0 + s.diurnal_amplitude * np.cos(2 * math.pi * (hour - s.peak_hour_utc) / 24.0))

    def arrivals(self, rng: np.random.Generator, start_s: float, duration_s: float) -> np.ndarray:
        """Poisson arrivals, piecewise-constant rate per minute (exact enough at this curvature)."""
        minutes = np.arange(start_s, start_s + duration_s, 60.0)
        counts = rng.poisson(self.rate_per_s(minutes + 30.0) * np.minimum(60.0, start_s + duration_s - minutes))
        times = np.repeat(minutes, counts) + rng.uniform(0.0, 1.0, counts.sum()) * np.repeat(
            np.minimum(60.0, start_s + duration_s - minutes), counts)
        return np.sort(times)

    def draw_sessions(self, rng: np.random.Generator, times: np.ndarray, seed: int) -> pd.DataFrame:
        """One row per session: ids, region, edge, device, title and its throughput scale."""
        n = len(times)
        region_idx = rng.choice(len(self.regions), n, p=self.region_share)
        region = np.asarray(self.regions, dtype=object)[region_idx]
        edge = np.array([self.edges[r][k % len(self.edges[r])] for r, k in zip(region, rng.integers(0, 1 << 30, n), strict=False)], dtype=object)
        device = np.asarray(self.devices, dtype=object)[rng.choice(len(self.devices), n, p=self.device_share)]
        title = np.asarray(self.titles, dtype=object)[rng.choice(len(self.titles), n, p=self.title_share)]
        viewers = self.settings.viewers
        viewer_rank = np.minimum(rng.zipf(1.3, n), viewers) - 1
        viewer = np.array([f"v{(int(v) * 7919 + seed) % viewers:06d}" for v in viewer_rank], dtype=object)
        s = self.settings
        scale = (np.array([s.regions[r].throughput_scale for r in region])
                 * np.array([self.edge_scale[e] for e in edge])
                 * np.array([s.devices[d].throughput_scale for d in device])
                 * np.exp(rng.normal(0.0, s.session_throughput_sigma, n)))
        return pd.DataFrame({
            "session_id": [f"s{seed}-{i:07d}" for i in range(n)], "viewer_id": viewer, "start_s": times,
            "region": region, "edge": edge, "device": device, "title_id": title, "throughput_scale": scale,
        })
