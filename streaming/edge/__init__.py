"""Logic at the edge: the viewer-request hook (device class, region, A/B arms) and device-capped manifests.

The hook runs on every request at the edge tier and states its findings as request headers, so
the origin, the shield's and edge's caches (through ``Vary``) and telemetry all see one answer.
"""
