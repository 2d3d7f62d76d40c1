"""Online experiments (A/B tests): who sees which arm, what an experiment is, and the statistics.

Lives in the streaming layer because the edge's viewer-request hook assigns arms (it must import
:mod:`.assign` from below ``serving``); the report pipeline (``streamlab.pipelines.experiment``)
reads the same definitions and runs :mod:`.stats` on the beacons.
"""
