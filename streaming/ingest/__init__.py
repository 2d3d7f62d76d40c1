"""Ingest: probe and validate a source, transcode its ladder, package CMAF as HLS + DASH, publish."""
