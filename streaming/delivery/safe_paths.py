"""Map a request path onto a file under a served root, refusing everything that could escape it.

The origin serves a public tree from disk, so this is the security boundary: every rule is
checked on the *decoded* path (``%2e%2e%2f`` arrives here as ``../``), and the final answer
is re-checked after resolving symlinks, so a link pointing out of the root serves nothing.
"""

from __future__ import annotations

from pathlib import Path

from streamlab.core.errors import StreamlabError


class UnsafePath(StreamlabError):
    """The path is malformed or tries to leave the root (→ 400)."""


class NotServed(StreamlabError):
    """The path is well formed but names nothing servable (→ 404)."""


def split_safe(relative: str) -> list[str]:
    """The path's segments, or :class:`UnsafePath` for traversal, NUL, backslashes, absolute paths.

    Dot segments, empty segments (``a//b``, a leading ``/``) and Windows separators are refused
    outright rather than normalised: no legitimate player URL contains them.
    """
    if "\x00" in relative or "\\" in relative:
        raise UnsafePath(f"path {relative!r} contains a NUL byte or a backslash")
    if relative.startswith("/"):
        raise UnsafePath(f"path {relative!r} is absolute")
    segments = relative.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise UnsafePath(f"path {relative!r} has an empty or dot segment")
        if ":" in segment:
            raise UnsafePath(f"path {relative!r} has a drive or stream separator ':'")
    return segments


def resolve_under(root: Path, relative: str) -> Path:
    """The regular file ``relative`` names under ``root``.

    Hidden names (dotfiles, the ``.staging`` folder where titles are built) are not served; a
    file whose real path (symlinks resolved) lies outside the real root is not served either.
    """
    segments = split_safe(relative)
    if any(segment.startswith(".") for segment in segments):
        raise NotServed(f"path {relative!r} names a hidden file or folder")
    real_root = root.resolve()
    try:
        candidate = real_root.joinpath(*segments).resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing, or a symlink loop
        raise NotServed(f"path {relative!r} does not exist under the served root") from exc
    if not candidate.is_relative_to(real_root):
        raise NotServed(f"path {relative!r} resolves outside the served root")
    if not candidate.is_file():
        raise NotServed(f"path {relative!r} is not a file")
    return candidate
