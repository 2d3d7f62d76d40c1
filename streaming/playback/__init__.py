"""The playback service: one call turns a signed viewer token into what a player needs to start."""
