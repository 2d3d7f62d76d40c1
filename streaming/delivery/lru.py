"""A byte-bounded LRU of HTTP responses with per-entry expiry.

Capacity is counted in bytes (bodies plus stored headers), not entries: a tier holding 4 MB
segments and 2 KB playlists must evict by what they cost. Expired entries are dropped when
looked up and never returned: the tiers serve stale never.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

HEADER_OVERHEAD_BYTES = 64
"""Rough per-entry bookkeeping cost, so a flood of tiny objects still counts against capacity."""


@dataclass
class CachedResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    stored_at_s: float
    ttl_s: float
    initial_age_s: float = 0.0
    vary: tuple[tuple[str, str], ...] = ()
    size_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        self.size_bytes = len(self.body) + HEADER_OVERHEAD_BYTES + sum(len(k) + len(v) for k, v in self.headers)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def expires_at_s(self) -> float:
        return self.stored_at_s + self.ttl_s

    def age_s(self, now_s: float) -> float:
        return self.initial_age_s + max(0.0, now_s - self.stored_at_s)


class ByteLRU:
    def __init__(self, capacity_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity_bytes = capacity_bytes
        self.clock = clock
        self._entries: OrderedDict[Hashable, CachedResponse] = OrderedDict()
        self.bytes_cached = 0
        self.evictions = 0
        self.expirations = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() >= entry.expires_at_s():
            self._drop(key)
            self.expirations += 1
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: CachedResponse) -> bool:
        """Store ``entry``, evicting least recently used ones; False if it cannot fit at all."""
        if entry.size_bytes > self.capacity_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        while self.bytes_cached + entry.size_bytes > self.capacity_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.evictions += 1
        self._entries[key] = entry
        self.bytes_cached += entry.size_bytes
        return True

    def purge(self, predicate: Callable[[Hashable], bool]) -> int:
        doomed = [key for key in self._entries if predicate(key)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self.bytes_cached -= entry.size_bytes
