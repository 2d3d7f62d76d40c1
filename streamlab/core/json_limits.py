"""How deep a JSON body nests, read from its bytes before any parser sees it (issue 20).

Python's JSON decoder recurses once per ``[``/``{``: a body of 8,000 brackets raised
``RecursionError`` (not a ``ValueError``) and surfaced as a 500 on the licence server and the
model server. Every server that parses JSON from strangers checks :func:`json_depth` against its
configured limit first; this is the one implementation they share.
"""

from __future__ import annotations

import re

import numpy as np

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.S)
"""A JSON string literal, or an unterminated one up to the end of the body. The possessive ``*+`` and the
end-of-body alternative keep the scan linear: an unterminated string is consumed once, never re-scanned."""
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_depth(body: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in ``body`` outside string literals, in time linear in its length.

    Computed from the bytes, not a parse, so a hostile body costs a regex pass and a cumulative sum
    (tens of ms for 4 MB) rather than the parser's recursion. Brackets need not balance: an invalid
    body is the parser's to refuse; this only bounds how deep it could make the parser go.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())
