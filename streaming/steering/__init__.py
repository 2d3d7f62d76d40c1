"""Content steering: a server that orders delivery pathways per region from live QoE, and a client that follows it."""
