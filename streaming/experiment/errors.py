"""The one error family of experiments: a bad definition or lookup is the caller's mistake (exit 2)."""

from __future__ import annotations

from streamlab.core.errors import UsageError


class ExperimentError(UsageError):
    """An unknown experiment or arm, a split that does not sum to 100, or an invalid definition."""
