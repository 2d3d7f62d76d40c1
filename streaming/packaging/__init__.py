"""Packaging: read the encoded CMAF segments and describe them as HLS playlists and a DASH MPD."""
