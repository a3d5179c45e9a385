"""The match engine: packages in, raw matches and undecided pairs out.

The engine asks each package's matcher what to look up, does one `VulnSource.affected`
lookup per distinct (ecosystem, name) however many packages share it, evaluates every
entry whose release applies (each distinct (entry, version) once), then fetches the
advisories behind the matches in one call to drop withdrawn ones. Its cost is one
lookup per distinct name plus one evaluation per candidate entry; packages without any
advisory cost a dict probe.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from shoal.match.base import Affected, Matcher, NoQuery, Query, Undecided, Verdict, evaluate
from shoal.model.advisory import Advisory
from shoal.model.finding import MatchDetail, MatchUnknown
from shoal.model.package import Package
from shoal.vulndb.protocol import AffectedRow, VulnSource


@dataclass(frozen=True, slots=True)
class RawMatch:
    """One advisory entry that affects one package, before merging into findings."""

    package: Package
    row: AffectedRow
    detail: MatchDetail
    fixed: tuple[str, ...]  # fixed versions above the installed one


@dataclass(frozen=True)
class MatchResult:
    matches: tuple[RawMatch, ...]
    unknowns: tuple[MatchUnknown, ...]
    advisories: dict[tuple[str, str], Advisory] = field(default_factory=dict)


def default_matchers() -> tuple[Matcher, ...]:
    from shoal.match import ALL

    return tuple(cls() for cls in ALL)


def lookup_keys(
    packages: Iterable[Package], matchers: Sequence[Matcher] | None = None
) -> set[tuple[str, str]]:
    """Every (ecosystem in lower case, name) `MatchEngine.match` looks `packages` up by:
    the keys a vulnerability DB update reports as changed (`UpdateReport.changed_keys`),
    so a package set none of whose keys changed cannot match differently."""
    ms = tuple(matchers) if matchers is not None else _defaults()
    keys: set[tuple[str, str]] = set()
    for pkg in packages:
        matcher = next((m for m in ms if m.applies_to(pkg)), None)
        if matcher is None:
            continue
        q = matcher.query(pkg)
        if isinstance(q, NoQuery):
            continue
        eco = q.ecosystem.lower()
        keys.add((eco, q.name))
        keys.update((eco, n) for n in q.also)
    return keys


def keys_version(matchers: Sequence[Matcher] | None = None) -> int:
    """A number that changes when a matcher's lookup rules may have (a matcher added,
    renamed or given a new version): keys stored under another number are stale."""
    ms = tuple(matchers) if matchers is not None else _defaults()
    text = ",".join(f"{m.name}:{m.version}" for m in ms)
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


@cache
def _defaults() -> tuple[Matcher, ...]:
    return default_matchers()


class MatchEngine:
    """Matches packages against a `VulnSource` with the given matchers (default: all)."""

    def __init__(self, source: VulnSource, matchers: Sequence[Matcher] | None = None) -> None:
        if matchers is None:
            matchers = default_matchers()
        self._source = source
        self._matchers = tuple(matchers)

    def _matcher(self, pkg: Package) -> Matcher | None:
        for m in self._matchers:
            if m.applies_to(pkg):
                return m
        return None

    def lookup_keys(self, packages: Iterable[Package]) -> set[tuple[str, str]]:
        """`lookup_keys(packages)` with this engine's matchers."""
        return lookup_keys(packages, self._matchers)

    def _lookup(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Sequence[AffectedRow]]:
        """Rows for every (ecosystem, name), keyed with the ecosystem in lower case. A
        source that can answer many keys at once (the SQLite DB: batched IN queries)
        is asked once; any other once per key."""
        many = getattr(self._source, "affected_many", None)
        if callable(many):
            found: dict[tuple[str, str], Sequence[AffectedRow]] = many(sorted(keys))
            return {(e.lower(), n): rows for (e, n), rows in found.items()}
        return {(e.lower(), n): self._source.affected(e, n) for e, n in keys}

    def match(self, packages: Iterable[Package]) -> MatchResult:
        matches: list[RawMatch] = []
        unknowns: list[MatchUnknown] = []
        undecided: list[tuple[MatchUnknown, tuple[str, str]]] = []
        verdicts: dict[tuple[int, str], Verdict] = {}
        no_feed: dict[str, list[Package]] = {}

        queries: list[tuple[Package, Matcher, Query]] = []
        for pkg in packages:
            matcher = self._matcher(pkg)
            if matcher is None:
                continue
            q = matcher.query(pkg)
            if isinstance(q, NoQuery):
                # One line per cause, not per package: a distro without a feed would
                # otherwise bury the report under a line for each of its packages.
                no_feed.setdefault(q.reason, []).append(pkg)
                continue
            queries.append((pkg, matcher, q))

        rows_by_key = self._lookup(
            {(q.ecosystem, n) for _, _, q in queries for n in (q.name, *q.also)}
        )
        for pkg, matcher, q in queries:
            rows = rows_by_key.get((q.ecosystem.lower(), q.name), ())
            if q.also:
                seen = {id(r.affected) for r in rows}
                extra = [
                    r
                    for n in q.also
                    for r in rows_by_key.get((q.ecosystem.lower(), n), ())
                    if id(r.affected) not in seen
                ]
                rows = (*rows, *extra)
            for row in rows:
                aff = row.affected
                if not q.release_applies(aff.release):
                    continue
                vkey = (id(aff), q.version)
                if vkey in verdicts:
                    verdict = verdicts[vkey]
                else:
                    verdict = verdicts[vkey] = evaluate(aff, q.version)
                if verdict is None:
                    continue
                if isinstance(verdict, Undecided):
                    unk = MatchUnknown(
                        reason=verdict.reason,
                        package=pkg,
                        source=row.source,
                        advisory_id=row.advisory_id,
                    )
                    undecided.append((unk, (row.source, row.advisory_id)))
                    continue
                matches.append(_raw(matcher, pkg, q, row, verdict))

        for reason, pkgs in no_feed.items():
            unknowns.append(
                MatchUnknown(reason=f"{reason} ({len(pkgs)} packages)", package=pkgs[0])
                if len(pkgs) > 1
                else MatchUnknown(reason=reason, package=pkgs[0])
            )

        keys = {(m.row.source, m.row.advisory_id) for m in matches}
        keys.update(k for _, k in undecided)
        advisories = self._source.advisories(keys) if keys else {}
        # Withdrawn advisories are void; a match whose advisory has vanished from the DB
        # (updated between the lookups) is dropped with it.
        live = {k for k, a in advisories.items() if not a.withdrawn}
        return MatchResult(
            matches=tuple(m for m in matches if (m.row.source, m.row.advisory_id) in live),
            unknowns=(*unknowns, *(u for u, k in undecided if k in live)),
            advisories={k: advisories[k] for k in live},
        )


def _raw(matcher: Matcher, pkg: Package, q: Query, row: AffectedRow, v: Affected) -> RawMatch:
    detail = MatchDetail(
        matcher=matcher.name,
        ecosystem=q.ecosystem,
        name=row.affected.name,
        release=row.affected.release,
        version=q.version,
        source=row.source,
        advisory_id=row.advisory_id,
        constraint=v.constraint,
    )
    return RawMatch(package=pkg, row=row, detail=detail, fixed=v.fixed)
