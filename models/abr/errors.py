"""User-facing ABR errors: each names the offending file (and line) and what would be valid.

A file or name the user gave that is wrong is a usage error (exit 2); data or a model that is
missing or broken at run time is a runtime error (exit 1).
"""

from __future__ import annotations

from streamlab.core.errors import StreamlabError, UsageError


class TraceFormatError(UsageError):
    """A throughput trace is malformed (bad number, time not increasing, negative rate, too short)."""


class VideoSizeError(UsageError):
    """A chunk-size file is missing or malformed."""


class VideoSizesMissingError(StreamlabError):
    """The default chunk-size tables (under the raw data directory) are not there."""


class UnknownPolicyError(UsageError):
    """A policy name is not in the registry."""


class PolicyModelError(StreamlabError):
    """A learned policy's weights are missing, unreadable or do not match the expected shape."""
