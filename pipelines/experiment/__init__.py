"""Online A/B tests end to end: viewers play their arm (simulator or real HTTP), the report reads the beacons."""
