"""RubyGems versions, ordered as `Gem::Version#<=>`.

A valid version is ``[0-9]+(\\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?`` with
optional surrounding whitespace (blank means ``0``). RubyGems turns ``-`` into ``.pre.``,
splits the result into numeric and letter runs (``1.0.b1`` is ``1, 0, "b", 1``), and
drops trailing zeros from the numeric run before the first letter segment and from the
rest (its *canonical segments*). Versions compare segment by segment, missing segments
counting as 0; a letter segment is older than any number (so ``1.0.a < 1.0``), letter
segments compare as strings (case-sensitively).

Fallback: `Gem::Version.new` raises on anything else; `compare` sorts such strings
before every valid version and among themselves by their text.
"""

from __future__ import annotations

import re

from shoal.versions.base import InvalidVersion, SortKey, VersionScheme, check_length

_VALID = re.compile(
    r"\s*(?:[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*", re.ASCII
)
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+")


def canonical_segments(raw: str) -> list[int | str]:
    s = raw.strip().replace("-", ".pre.") or "0"
    segs: list[int | str] = [int(x) if x.isdigit() else x for x in _SEGMENT.findall(s)]
    first_str = next((i for i, x in enumerate(segs) if isinstance(x, str)), len(segs))
    out: list[int | str] = []
    for group in (segs[:first_str], segs[first_str:]):
        while group and group[-1] == 0:
            group.pop()
        out += group
    return out


def _key(segs: list[int | str]) -> SortKey:
    # Missing segments count as 0, so a zero is only decisive once something non-zero
    # follows it. Each non-zero segment is therefore keyed together with the number of
    # zeros before it: for strings (0, zeros, s), for numbers (2, -zeros, n), and the end
    # is (1,). Where two versions first differ, these tuples order exactly as
    # Gem::Version does (a string is older than the zero it meets, a number newer).
    out: list[tuple[object, ...]] = []
    zeros = 0
    for seg in segs:
        if seg == 0:
            zeros += 1
        elif isinstance(seg, str):
            out.append((0, zeros, seg))
            zeros = 0
        else:
            out.append((2, -zeros, seg))
            zeros = 0
    out.append((1,))
    return tuple(out)


class GemScheme(VersionScheme):
    """Gem::Version order."""

    name = "gem"

    def strict_key(self, raw: str) -> SortKey:
        check_length(self.name, raw)
        if not _VALID.fullmatch(raw):
            raise InvalidVersion(self.name, raw, "malformed version number string")
        return _key(canonical_segments(raw))

    def is_prerelease(self, raw: str) -> bool:
        """RubyGems' rule: any letter makes a version a pre-release."""
        return any(c.isalpha() for c in raw) or "-" in raw


SCHEME = GemScheme()
parse = SCHEME.parse
compare = SCHEME.compare
