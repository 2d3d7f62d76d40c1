"""The one exception family the CLI turns into a single clear line and a non-zero exit.

Every area raises a subclass of :class:`StreamlabError` carrying the offending value and what
would be valid. Exit codes follow Click's convention: 2 is reserved for usage errors (a bad
argument, option or override: :class:`UsageError`), 1 for everything that failed at run time
(missing data or model, a failed job). Anything else reaching the CLI is a bug: one line, exit 1,
and the traceback in the log (or on the terminal with ``--debug``).
"""


class StreamlabError(Exception):
    """Base class for user-facing errors: a run-time failure (exit 1) unless a subclass says otherwise."""

    exit_code: int = 1


class UsageError(StreamlabError):
    """The command was called wrongly: an invalid argument, option value or config override (exit 2)."""

    exit_code: int = 2
