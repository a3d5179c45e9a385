"""The `Matcher` protocol and the verdict of one advisory entry on one installed version.

A matcher is declarative: it says which packages it handles and what to look up for
each (`Query`: ecosystem, name, the releases that apply, the version to evaluate). The
engine runs the lookups against a `VulnSource` and evaluates every entry it gets back
with `evaluate`, which is three-valued: affected (with the range that matched), not
affected, or undecided (a version or range the scheme cannot order). Undecided is
reported, never taken as "not affected".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from shoal.match.compiled import RangeEvaluator
from shoal.model.advisory import AffectedPackage
from shoal.model.package import Package
from shoal.versions import scheme_for
from shoal.versions.base import VersionScheme
from shoal.versions.semver import SEMVER


@dataclass(frozen=True, slots=True)
class Query:
    """What to look up for one package."""

    ecosystem: str  # OSV ecosystem without release: "Debian", "PyPI"
    name: str  # normalised as the DB stores it
    version: str  # version to evaluate, in the ecosystem's scheme
    releases: frozenset[str] | None = None  # entries with these releases (or "") apply;
    # None: only entries without a release apply (language ecosystems)
    release_prefixes: tuple[str, ...] = ()  # ... and releases starting with one of these
    also: tuple[str, ...] = ()  # further names to look up (rpm: the binary name)

    def release_applies(self, release: str) -> bool:
        if self.releases is None:
            return not release
        return release in self.releases or (
            bool(self.release_prefixes) and release.startswith(self.release_prefixes)
        )


@dataclass(frozen=True, slots=True)
class NoQuery:
    """A package the matcher handles but cannot look up; becomes a `MatchUnknown`."""

    reason: str


class Matcher(Protocol):
    """Turns packages of the kinds it handles into lookups. Pure, no I/O."""

    name: ClassVar[str]  # "distro/dpkg"; persisted in match details, never renamed
    version: ClassVar[int]

    def applies_to(self, pkg: Package) -> bool: ...

    def query(self, pkg: Package) -> Query | NoQuery: ...


@dataclass(frozen=True, slots=True)
class Affected:
    constraint: str  # the range or explicit list that contains the version
    fixed: tuple[str, ...]  # fixed versions above the installed one, in feed order


@dataclass(frozen=True, slots=True)
class Undecided:
    reason: str


Verdict = Affected | Undecided | None  # None: not affected


def describe_events(events: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{k} {v}" for k, v in events) or "(no events)"


_RANGES = RangeEvaluator()


def _scheme(ecosystem: str, range_type: str) -> VersionScheme:
    return SEMVER if range_type == "SEMVER" else scheme_for(ecosystem)


def _fixed(
    ecosystem: str, range_type: str, events: tuple[tuple[str, str], ...], version: str
) -> tuple[str, ...]:
    """The release that fixes the installed version: the lowest `fixed` event above it.
    A range lists fixes on every maintained branch (django: 2.2.24, 3.1.12, 3.2.4); the
    one that closes the interval holding the installed version is the upgrade to make."""
    try:
        cmp = _scheme(ecosystem, range_type).compare
    except ValueError:
        return ()
    strip = range_type == "SEMVER"
    v0 = version[1:] if strip and version[:1] == "v" else version
    best: tuple[str, str] | None = None  # (as written, as compared)
    for kind, v in events:
        if kind != "fixed":
            continue
        vv = v[1:] if strip and v[:1] == "v" else v
        if cmp(v0, vv) < 0 and (best is None or cmp(vv, best[1]) < 0):
            best = (v, vv)
    return (best[0],) if best else ()


def _fixed_above(aff: AffectedPackage, version: str) -> tuple[str, ...]:
    out: list[str] = []
    for r in aff.ranges:
        if r.type in ("ECOSYSTEM", "SEMVER"):
            out += [v for v in _fixed(aff.ecosystem, r.type, r.events, version) if v not in out]
    return tuple(out)


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def evaluate(aff: AffectedPackage, version: str) -> Verdict:
    """Whether `version` is affected by the entry `aff`.

    Every ECOSYSTEM/SEMVER range is tried; the first that contains the version decides.
    Otherwise an explicitly listed version is affected. If neither, but a range could not be
    evaluated (unsortable version, malformed event, unknown ecosystem), the verdict is
    `Undecided`. An entry with neither ranges nor versions says "all versions" (OSV); one
    with only GIT ranges and no version list cannot be decided.
    """
    undecided: str | None = None
    evaluable = 0
    for r in aff.ranges:
        if r.type not in ("ECOSYSTEM", "SEMVER"):
            continue
        evaluable += 1
        try:
            result = _RANGES.affected(aff.ecosystem, r.type, r.events, version)
        except ValueError as e:
            undecided = undecided or f"range {describe_events(r.events)!r}: {e}"
            continue
        if result:
            constraint = f"{r.type.lower()} range: {describe_events(r.events)}"
            return Affected(constraint, _fixed(aff.ecosystem, r.type, r.events, version))
        if result is None and undecided is None:
            undecided = (
                f"version {_short(version)!r} cannot be ordered against range "
                f"{describe_events(r.events)!r} in {aff.ecosystem}"
            )
    if version in aff.versions:
        # after the ranges, which say more (and give the fix); the list is exact strings
        return Affected(f"listed version {version}", _fixed_above(aff, version))
    if undecided is not None:
        return Undecided(undecided[:300].replace("\n", " "))
    if not aff.ranges and not aff.versions:
        return Affected("all versions (no ranges)", ())
    if evaluable == 0 and not aff.versions:
        return Undecided("only GIT ranges, which name commits, not versions")
    return None
