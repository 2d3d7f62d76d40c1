"""Delivery: the ASGI origin that serves the media tree, and the edge → shield → origin cache tiers.

``origin`` serves published titles, the catalog API and the player page straight from disk;
``cache_tier`` is one HTTP caching proxy used for both the regional shield and the edge;
``stack`` wires the three together on loopback for tests, the demo, the benchmark and
``streamlab stream serve``.
"""
