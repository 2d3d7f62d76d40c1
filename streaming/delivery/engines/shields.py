"""Which shield an edge asks: rendezvous (highest random weight) hashing of the channel or title.

Every object of one channel (``/live/<channel>/...``) or title (``/media/<title>/...``) goes to
one shield, chosen the same way by every edge, so N edges in front of M shields still cost the
origin one request per object per shield, never one per edge. Rendezvous hashing (Thaler and
Ravishankar, 1998) moves only the keys of a shield that is added or removed, and needs no ring
state: each edge computes ``argmax_i w(key, shield_i)`` on its own.

The weight is Varnish's own: ``directors.shard().key(STRING)`` is the little-endian integer of
the last four bytes of the string's SHA-256 (measured on varnish 7.1.1), so the generated VCL
(:mod:`.varnish`) and the Python edge pick the same shield for every key, and a mixed fleet of
Python and Varnish edges still shares each shield's cache.
"""

from __future__ import annotations

import hashlib
import re

SHARD_PATTERN = r"^/(live|media)/([^/?]+).*$"
"""The object family an edge shards by: ``live/<channel>`` or ``media/<title>``; the VCL uses the
same expression in ``regsub`` (and, like ``regsub``, other targets shard by the whole target)."""
_SHARD = re.compile(SHARD_PATTERN, re.S)


def shard_key(target: str) -> str:
    """``/live/news/360p/seg3.1.m4s`` → ``live/news``; ``/api/titles`` → itself (query kept)."""
    match = _SHARD.match(target)
    return f"{match.group(1)}/{match.group(2)}" if match else target


def shard_weight(key: str, shield: str) -> int:
    """Varnish's ``shard.key(key + "|" + shield)``: SHA-256, last four bytes, little-endian."""
    return int.from_bytes(hashlib.sha256(f"{key}|{shield}".encode()).digest()[-4:], "little")


def pick_shield(target: str, shields: list[str]) -> int:
    """Index of the shield for ``target`` among ``shields`` (their names); ties go to the first."""
    if not shields:
        raise ValueError("no shields to choose from")
    key = shard_key(target)
    weights = [shard_weight(key, name) for name in shields]
    return max(range(len(shields)), key=lambda i: (weights[i], -i))


def shield_names(count: int) -> list[str]:
    """The names shields are hashed by (stable across runs and engines): shield0, shield1, ..."""
    return [f"shield{i}" for i in range(count)]
