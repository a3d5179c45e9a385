"""Mini vulnerability DBs from named real advisories in testdata/advisories, parsed by
shoal's own feed importers (`shoal.feeds`).

`mini_db(["osv-pypi/PYSEC-2021-98", "debian-dsa/DSA-5169-1"])` loads those records into
a `MemoryVulnSource`; ``alpine-secdb/v3.11-main`` loads every advisory of that file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from shoal.feeds.alpine_secdb import AlpineSecdbFeed
from shoal.feeds.debian_dsa import DebianDsaFeed
from shoal.feeds.osv import OsvGoFeed, OsvPyPIFeed
from shoal.model.advisory import Advisory, CveEnrichment
from shoal.vulndb.protocol import MemoryVulnSource

TESTDATA = Path(__file__).parent / "testdata" / "advisories"


def _parse(
    feed: OsvPyPIFeed | OsvGoFeed | AlpineSecdbFeed | DebianDsaFeed, path: Path
) -> list[Advisory]:
    out = []
    for rec in feed.parse(path):
        assert isinstance(rec, Advisory), rec  # testdata must import cleanly
        out.append(rec)
    return out


def load(name: str) -> list[Advisory]:
    """One named record: ``osv-pypi/PYSEC-2021-98``, ``osv-go/GO-2024-2687``,
    ``debian-dsa/DSA-5169-1``, ``alpine-secdb/v3.11-main`` (all of that file)."""
    feed, _, rid = name.partition("/")
    if feed == "osv-pypi":
        return _parse(OsvPyPIFeed(), TESTDATA / feed / f"{rid}.json")
    if feed == "osv-go":
        return _parse(OsvGoFeed(), TESTDATA / feed / f"{rid}.json")
    if feed == "alpine-secdb":
        return _parse(AlpineSecdbFeed(), TESTDATA / feed / f"{rid}.yaml")
    if feed == "debian-dsa":
        advs = [a for a in _parse(DebianDsaFeed(), TESTDATA / feed / "list") if a.id == rid]
        assert advs, name
        return advs
    raise KeyError(name)


def advisories(names: Iterable[str]) -> list[Advisory]:
    return [a for n in names for a in load(n)]


def mini_db(names: Iterable[str], enrichment: Iterable[CveEnrichment] = ()) -> MemoryVulnSource:
    return MemoryVulnSource(advisories(names), enrichment)


def all_osv(feed: str) -> list[Advisory]:
    """Every record of ``osv-pypi`` or ``osv-go`` in testdata."""
    return [a for p in sorted((TESTDATA / feed).glob("*.json")) for a in load(f"{feed}/{p.stem}")]
