"""NuGet package versions, ordered as NuGet.Versioning's `VersionComparer.Default`.

``Major[.Minor[.Patch[.Revision]]][-Release][+Metadata]``: one to four numeric parts
(each a 32-bit signed integer; leading zeros allowed, missing parts are 0), an optional
SemVer 2 release label of dot-separated ``[0-9A-Za-z-]`` identifiers, and build metadata
that is ignored when comparing. A version with a release label is older than the same
version without; labels compare identifier by identifier, numeric identifiers
numerically and before alphanumeric ones, alphanumeric ones case-insensitively (NuGet
compares them with ``OrdinalIgnoreCase``); fewer equal identifiers is older.

Fallback: NuGet refuses to parse anything else, so `compare` sorts such strings before
every valid version and among themselves by their text.
"""

from __future__ import annotations

import re

from shoal.versions.base import InvalidVersion, SortKey, VersionScheme, check_length

_ID = r"[0-9A-Za-z-]+"
_NUGET = re.compile(
    rf"(?P<nums>[0-9]+(?:\.[0-9]+){{0,3}})(?:-(?P<pre>{_ID}(?:\.{_ID})*))?"
    rf"(?:\+(?P<meta>{_ID}(?:\.{_ID})*))?",
    re.ASCII,
)
_INT32_MAX = 2**31 - 1


class NugetScheme(VersionScheme):
    """NuGet.Versioning order."""

    name = "nuget"

    def strict_key(self, raw: str) -> SortKey:
        check_length(self.name, raw)
        m = _NUGET.fullmatch(raw.strip())
        if not m:
            raise InvalidVersion(self.name, raw, "not a NuGet version")
        nums = [int(p) for p in m.group("nums").split(".")]
        if any(n > _INT32_MAX for n in nums):
            raise InvalidVersion(self.name, raw, "version part larger than 2^31-1")
        nums += [0] * (4 - len(nums))
        pre = m.group("pre")
        pre_key: tuple[object, ...] = (1,)
        if pre is not None:
            pre_key = (
                0,
                tuple((0, int(p)) if p.isdigit() else (1, p.upper()) for p in pre.split(".")),
            )
        return (*nums, pre_key)


SCHEME = NugetScheme()
parse = SCHEME.parse
compare = SCHEME.compare
