"""The one exception family the CLI turns into a single clear line and a non-zero exit.

Every area raises a subclass of :class:`StreamlabError` carrying the offending value and what
would be valid; anything else reaching the CLI is a bug and keeps its traceback.
"""


class StreamlabError(Exception):
    """Base class for user-facing errors (bad input, bad config, missing data)."""

    exit_code: int = 2
