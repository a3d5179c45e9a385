"""Semantic Versioning 2.0.0: npm, crates.io, and Go modules.

``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``. Order is SemVer precedence: the three
numbers, then a version with a pre-release is older than one without; pre-release
identifiers compare one by one, numeric ones numerically and before alphanumeric ones,
alphanumeric ones by ASCII; a shorter list of equal identifiers is older. Build metadata
is ignored.

Dialects:
- npm (node-semver 7, strict mode): an optional leading ``v`` and surrounding whitespace
  are accepted; major, minor and patch must fit in JavaScript's safe integer range.
  (node-semver compares numeric pre-release identifiers as JavaScript numbers, so it
  cannot tell apart identifiers beyond 2^53; we compare them exactly.)
- strict SemVer (crates.io's `semver` crate, Hex, OSV ``SEMVER`` ranges): no prefix,
  no whitespace.
- Go (golang.org/x/mod/semver): a ``v`` prefix, ``vMAJOR`` and ``vMAJOR.MINOR`` are
  shorthands for ``.0``; OSV writes Go versions without the ``v``, so it is added when
  missing. ``+incompatible`` is build metadata and pseudo-versions
  (``v0.0.0-20191109021931-daa7c04131f5``) are ordinary pre-releases, so both order
  correctly with no special case.

Fallbacks: Go's `semver.Compare` defines one: an invalid version is older than every
valid one and all invalid versions are equal. node-semver and the semver crate refuse to
compare invalid versions; for them invalid strings sort before all valid ones and among
themselves by their text.
"""

from __future__ import annotations

import re

from shoal.versions.base import InvalidVersion, SortKey, VersionScheme, check_length

_NUM = r"0|[1-9][0-9]*"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?",
    re.ASCII,
)
_GO = re.compile(
    rf"v(?P<major>{_NUM})(?:\.(?P<minor>{_NUM})(?:\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?)?)?",
    re.ASCII,
)
_JS_MAX_SAFE = 2**53 - 1


def _pre_key(pre: str | None) -> tuple[object, ...]:
    if pre is None:
        return (1,)
    ids = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return (0, ids)


def _key(m: re.Match[str]) -> SortKey:
    return (
        int(m.group("major")),
        int(m.group("minor") or 0),
        int(m.group("patch") or 0),
        _pre_key(m.group("pre")),
    )


class NpmScheme(VersionScheme):
    """node-semver (strict) order."""

    name = "npm"

    def strict_key(self, raw: str) -> SortKey:
        check_length(self.name, raw)
        s = raw.strip()
        s = s[1:] if s[:1] == "v" else s
        m = _SEMVER.fullmatch(s)
        if not m:
            raise InvalidVersion(self.name, raw, "not a semantic version")
        key = _key(m)
        if any(n > _JS_MAX_SAFE for n in key[:3]):
            raise InvalidVersion(self.name, raw, "number larger than 2^53-1")
        return key


class SemverScheme(VersionScheme):
    """Strict SemVer 2.0.0 precedence: the semver crate (crates.io), OSV SEMVER ranges."""

    name = "semver"

    def strict_key(self, raw: str) -> SortKey:
        check_length(self.name, raw)
        m = _SEMVER.fullmatch(raw)
        if not m:
            raise InvalidVersion(self.name, raw, "not a semantic version")
        return _key(m)


class GoScheme(VersionScheme):
    """golang.org/x/mod/semver order."""

    name = "go"

    def strict_key(self, raw: str) -> SortKey:
        check_length(self.name, raw)
        m = _GO.fullmatch(raw if raw.startswith("v") else "v" + raw)
        if not m:
            raise InvalidVersion(self.name, raw, "not a Go semantic version")
        return _key(m)

    def lenient_key(self, raw: str) -> SortKey:
        # x/mod/semver.Compare: invalid < valid, and all invalid versions are equal.
        try:
            return (1, self.strict_key(raw))
        except InvalidVersion:
            return (0,)


NPM = NpmScheme()
SEMVER = SemverScheme()
GO = GoScheme()
