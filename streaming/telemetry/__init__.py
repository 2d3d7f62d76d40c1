"""The durable telemetry stream (issue 19): player beacons in a Redis Stream, the QoE detector as a consumer group."""
