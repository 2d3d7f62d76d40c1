"""Viewer-facing pages beside the media: player config, the catalog page, the player's decision counters."""
