"""User-facing errors of the QoE area: each is a usage error (exit 2), the input named on the command line is wrong.

A registry that cannot resolve or load a detector raises :class:`streamlab.core.registry.RegistryError`
instead (a run-time failure, exit 1).
"""

from streamlab.core.errors import UsageError


class TelemetryError(UsageError):
    """An events file cannot be read at all (missing, wrong format); bad *lines* are rejects instead."""


class IncidentSpecError(UsageError):
    """An ``--incidents`` SPEC or a labels file is malformed or names an unknown kind, dimension or value."""


class DetectorError(UsageError):
    """A detector name, artifact, engine or model URI is unknown or unusable."""
