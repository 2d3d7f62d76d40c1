"""Peak events: a measured flash crowd through the edge (``run``), the discrete-event scaling model
fed by its per-request costs (``simulate``), plots and MLflow logging."""
