"""Transcode: choose the ladder for a source and encode each rendition to CMAF segments."""
