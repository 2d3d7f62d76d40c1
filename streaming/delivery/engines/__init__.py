"""Edge engines beside the Python cache tier: a generated Varnish configuration and its process,
shield selection by consistent hash, and a cluster of origin, shields and edges on loopback.

The Python edge (:mod:`streamlab.streaming.delivery.cache_tier`) stays the instrumented
reference; Varnish is the production-grade engine generated from the same
``configs/delivery.yaml`` settings, so both can be measured side by side (``streamlab peak``).
"""
