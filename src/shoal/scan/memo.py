"""Findings of many SBOMs against one vulnerability DB, each distinct package matched once.

Re-matching thousands of stored images after a feed update would otherwise match the same
packages thousands of times: images built on one base share most of theirs. A
`MemoMatcher` is bound to one open DB (one data version) and remembers the findings of
every distinct package it has matched, so each later image costs a dict probe per
package.

The result is exactly `scan_sbom(sbom, source).findings` (default options): findings
depend only on the package they are about and on the other packages with the same
identity (`Package.key`: the same package installed twice is one finding), so the memo
is keyed by the full group of packages sharing a key, every field compared, the
distribution included (`Package` equality leaves it out). Packages missed in one SBOM
are matched together, in SBOM order, and the findings sorted as `build_findings` sorts
them.
"""

from __future__ import annotations

from shoal.match.engine import MatchEngine
from shoal.model.finding import Finding
from shoal.model.package import Distro, Package
from shoal.model.sbom import Sbom
from shoal.scan.findings import build_findings
from shoal.vulndb.protocol import VulnSource

MAX_ENTRIES = 200_000  # distinct package groups remembered; cleared (not evicted) beyond

GroupKey = tuple[tuple[Package, Distro | None], ...]


class MemoMatcher:
    """`findings(sbom)`: `scan_sbom(sbom, source).findings`, memoised per package group.

    Not thread-safe: use one per thread (or per job)."""

    def __init__(self, source: VulnSource) -> None:
        self.source = source
        self.version = source.version
        self._engine = MatchEngine(source)
        self._memo: dict[GroupKey, tuple[Finding, ...]] = {}
        self.hits = 0
        self.misses = 0

    def findings(self, sbom: Sbom) -> tuple[Finding, ...]:
        groups: dict[tuple[str, str, str, str], list[Package]] = {}
        for p in sbom.packages:
            groups.setdefault(p.key, []).append(p)
        memo = self._memo
        keys = [tuple((p, p.distro) for p in pkgs) for pkgs in groups.values()]
        parts = [memo.get(k) for k in keys]
        missed = {
            k: pkgs
            for k, pkgs, got in zip(keys, groups.values(), parts, strict=True)
            if got is None
        }
        self.hits += len(keys) - len(missed)
        self.misses += len(missed)
        if missed:
            fresh = self._match([p for pkgs in missed.values() for p in pkgs])
            if len(memo) + len(missed) > MAX_ENTRIES:
                memo.clear()
            for k, pkgs in missed.items():
                memo[k] = fresh.get(pkgs[0].key, ())
            parts = [memo[k] if got is None else got for k, got in zip(keys, parts, strict=True)]
        # in SBOM order before the (stable) sort, as build_findings has them
        found = [f for got in parts if got for f in got]
        found.sort(
            key=lambda f: (f.package.type.value, f.package.name, f.package.version, f.vulnerability)
        )
        return tuple(found)

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
