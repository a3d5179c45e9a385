"""What matchers need from a vulnerability database.

`shoal.vulndb.store.VulnDB` (SQLite) implements it; `MemoryVulnSource` below is the
in-memory implementation used to build mini databases from named real advisories in
matcher tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from shoal.model.advisory import Advisory, AffectedPackage, CveEnrichment


@dataclass(frozen=True, slots=True)
class AffectedRow:
    """One affected-package entry and the advisory it belongs to."""

    source: str  # feed name, e.g. "osv/PyPI"
    advisory_id: str
    affected: AffectedPackage


class VulnSource(Protocol):
    @property
    def version(self) -> str:
        """Identifies the data (changes whenever an update changes anything)."""
        ...

    def affected(self, ecosystem: str, name: str) -> Sequence[AffectedRow]:
        """Every affected entry for (ecosystem, normalised name), all releases."""
        ...

    def advisories(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Advisory]:
        """Full advisories by (source, id)."""
        ...

    def enrichment(self, cves: Iterable[str]) -> dict[str, CveEnrichment]:
        """NVD / EPSS / KEV facts for the CVEs that have any."""
        ...


class MemoryVulnSource:
    """A VulnSource over advisories held in memory."""

    def __init__(
        self, advisories: Iterable[Advisory], enrichment: Iterable[CveEnrichment] = ()
    ) -> None:
        self._adv: dict[tuple[str, str], Advisory] = {}
        self._rows: dict[tuple[str, str], list[AffectedRow]] = {}
        for adv in advisories:
            self._adv[(adv.source, adv.id)] = adv
            for aff in adv.affected:
                key = (aff.ecosystem.lower(), aff.name)
                self._rows.setdefault(key, []).append(AffectedRow(adv.source, adv.id, aff))
        self._enr = {e.cve: e for e in enrichment}

    @property
    def version(self) -> str:
        return f"memory:{len(self._adv)}"

    def affected(self, ecosystem: str, name: str) -> Sequence[AffectedRow]:
        return self._rows.get((ecosystem.lower(), name), [])

    def advisories(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Advisory]:
        return {k: self._adv[k] for k in keys if k in self._adv}

    def enrichment(self, cves: Iterable[str]) -> dict[str, CveEnrichment]:
        return {c: self._enr[c] for c in cves if c in self._enr}
