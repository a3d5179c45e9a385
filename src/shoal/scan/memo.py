"""Findings of many SBOMs against one vulnerability DB, each distinct package matched once.

Re-matching thousands of stored images after a feed update would otherwise match the same
packages thousands of times: images built on one base share most of theirs. A
`MemoMatcher` is bound to one open DB (one data version) and remembers the findings of
every distinct package it has matched, so each later image costs a dict probe per
package.

The result is exactly `scan_sbom(sbom, source).findings` (default options). Findings
depend on the package they are about and on the other packages with the same identity
(`Package.key`: the same package installed twice is one finding), and on nothing else of
the SBOM. Of a package, matching and the purl read everything but where it was found
(locations, layer, the layer's history line) and its licences, so the memo is keyed by
the group of packages sharing a key, each by those fields (the distribution included);
a finding remembered from one image is handed out again with the package of the image
at hand (`dataclasses.replace`). Packages missed in one SBOM are matched together, in
SBOM order, and the findings sorted as `build_findings` sorts them.

`converted(sbom)` gives the same findings through a conversion (the service's row data),
made once per remembered finding rather than once per image.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from shoal.db.sboms import PackageIdentity, package_from_identity, package_identity
from shoal.match.engine import MatchEngine
from shoal.model.finding import Finding
from shoal.model.package import Package
from shoal.model.sbom import Sbom
from shoal.scan.findings import build_findings
from shoal.scan.report import with_image_ids
from shoal.vulndb.protocol import VulnSource

MAX_ENTRIES = 200_000  # distinct package groups remembered; cleared (not evicted) beyond

T = TypeVar("T")
GroupKey = tuple[PackageIdentity, ...]
# (index of the finding's package in its group, the finding, its conversion)
_Entry = tuple[int, Finding, Any]


identity = package_identity


def _sort_key(f: Finding) -> tuple[str, str, str, str]:
    return (f.package.type.value, f.package.name, f.package.version, f.vulnerability)


class MemoMatcher(Generic[T]):
    """`findings(sbom)`: `scan_sbom(sbom, source).findings`, memoised per package group;
    `converted(sbom)`: the same, each finding passed through `convert` (memoised too).

    Not thread-safe: use one per thread (or per job)."""

    def __init__(self, source: VulnSource, convert: Callable[[Finding], T] | None = None) -> None:
        self.source = source
        self.version = source.version
        self._convert = convert
        self._engine = MatchEngine(source)
        self._memo: dict[GroupKey, tuple[_Entry, ...]] = {}
        self.hits = 0
        self.misses = 0

    def _resolve(
        self, packages: Sequence[Package]
    ) -> list[tuple[list[Package], tuple[_Entry, ...]]]:
        """Each package group (in order) with its remembered findings."""
        groups: dict[tuple[str, str, str, str], list[Package]] = {}
        for p in packages:
            groups.setdefault(p.key, []).append(p)
        memo = self._memo
        pkgs_list = list(groups.values())
        keys = [tuple(identity(p) for p in pkgs) for pkgs in pkgs_list]
        parts = [memo.get(k) for k in keys]
        missed = {
            k: pkgs for k, pkgs, got in zip(keys, pkgs_list, parts, strict=True) if got is None
        }
        self.hits += len(keys) - len(missed)
        self.misses += len(missed)
        if missed:
            self._remember(list(missed.items()))
            parts = [memo[k] if got is None else got for k, got in zip(keys, parts, strict=True)]
        return [(pkgs, got) for pkgs, got in zip(pkgs_list, parts, strict=True) if got]

    def findings(self, sbom: Sbom) -> tuple[Finding, ...]:
        found: list[Finding] = []
        for pkgs, entries in self._resolve(sbom.packages):
            for index, f, _ in entries:
                actual = pkgs[index]
                found.append(f if f.package is actual else dataclasses.replace(f, package=actual))
        found.sort(key=_sort_key)  # stable: ties keep SBOM order, as build_findings has them
        return tuple(with_image_ids(sbom.image, found))

    def converted(self, packages: Sequence[Package]) -> list[tuple[Package, T]]:
        """(the image's package, the conversion of a finding of it made for a package of
        the same identity) for every finding of an SBOM's `packages`, in `findings` order. The conversion was
        made from another image's package when the memo hit: a caller must take what
        differs (layer, locations) from the package given with it."""
        if self._convert is None:
            raise ValueError("MemoMatcher.converted needs a convert function")
        found: list[tuple[tuple[str, str, str, str], Package, T]] = []
        for pkgs, entries in self._resolve(packages):
            for index, f, conv in entries:
                actual = pkgs[index]
                found.append(
                    (
                        (actual.type.value, actual.name, actual.version, f.vulnerability),
                        actual,
                        conv,
                    )
                )
        found.sort(key=lambda x: x[0])
        return [(p, c) for _, p, c in found]

    def converted_identities(
        self, rows: Sequence[tuple[PackageIdentity, str | None]]
    ) -> list[tuple[str | None, T]]:
        """`converted` for packages given as (identity, layer) rows (stored match rows):
        (the layer of the package a finding is about, the conversion), in `findings`
        order. A `Package` is built only for identities not matched before."""
        if self._convert is None:
            raise ValueError("MemoMatcher.converted_identities needs a convert function")
        groups: dict[tuple[str, str, str, str], list[tuple[PackageIdentity, str | None]]] = {}
        for row in rows:
            ident = row[0]
            # Package.key: type, namespace, name, version
            groups.setdefault((ident[2].value, ident[7] or "", ident[0], ident[1]), []).append(row)
        memo = self._memo
        found: list[tuple[tuple[str, str, str, str], str | None, T]] = []
        missed: list[list[tuple[PackageIdentity, str | None]]] = []
        hits: list[tuple[list[tuple[PackageIdentity, str | None]], tuple[_Entry, ...]]] = []
        for members in groups.values():
            key = tuple(m[0] for m in members)
            got = memo.get(key)
            if got is None:
                missed.append(members)
            else:
                hits.append((members, got))
        self.hits += len(hits)
        self.misses += len(missed)
        if missed:
            todo = [
                (tuple(i for i, _ in ms), [package_from_identity(i, layer) for i, layer in ms])
                for ms in missed
            ]
            for ms, (_, got) in zip(missed, self._remember(todo), strict=True):
                hits.append((ms, got))
        for members, entries in hits:
            for index, f, conv in entries:
                ident, layer = members[index]
                found.append(((ident[2].value, ident[0], ident[1], f.vulnerability), layer, conv))
        found.sort(key=lambda x: x[0])
        return [(layer, c) for _, layer, c in found]

    def _remember(
        self, missed: list[tuple[GroupKey, list[Package]]]
    ) -> list[tuple[list[Package], tuple[_Entry, ...]]]:
        """Match the groups in `missed` (one engine run) and remember their findings."""
        fresh = self._match([p for _, pkgs in missed for p in pkgs])
        memo = self._memo
        if len(memo) + len(missed) > MAX_ENTRIES:
            memo.clear()
        convert = self._convert
        out = []
        for k, pkgs in missed:
            entries: list[_Entry] = []
            for f in fresh.get(pkgs[0].key, ()):
                index = next(i for i, p in enumerate(pkgs) if p is f.package)
                entries.append((index, f, convert(f) if convert is not None else None))
            memo[k] = tuple(entries)
            out.append((pkgs, memo[k]))
        return out

    def _match(
        self, packages: list[Package]
    ) -> dict[tuple[str, str, str, str], tuple[Finding, ...]]:
        """Findings of `packages` by package key, as `scan_sbom` would make them."""
        result = self._engine.match(packages)
        cves = {i for adv in result.advisories.values() for i in adv.cve_ids}
        enrichment = self.source.enrichment(cves) if cves else {}
        out: dict[tuple[str, str, str, str], list[Finding]] = {}
        for f in build_findings(result.matches, result.advisories, enrichment):
            out.setdefault(f.package.key, []).append(f)
        return {k: tuple(v) for k, v in out.items()}
