"""QoE pipelines: the telemetry simulator with ground truth, file ingestion, Ray Data batch scoring."""
