"""User-facing ABR errors: each names the offending file (and line) and what would be valid."""

from __future__ import annotations

from streamlab.core.errors import StreamlabError


class TraceFormatError(StreamlabError):
    """A throughput trace is malformed (bad number, time not increasing, negative rate, too short)."""


class VideoSizeError(StreamlabError):
    """A chunk-size file is missing or malformed."""


class UnknownPolicyError(StreamlabError):
    """A policy name is not in the registry."""


class PolicyModelError(StreamlabError):
    """A learned policy's weights are missing, unreadable or do not match the expected shape."""
