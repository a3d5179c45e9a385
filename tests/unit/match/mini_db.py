"""Mini vulnerability DBs from named real advisories in testdata/advisories.

`mini_db(["osv-pypi/PYSEC-2021-98", "debian-dsa/DSA-5169-1"])` loads those records into
a `MemoryVulnSource`. The loaders here read only what the matcher tests need, the way
the feed importers read it: OSV JSON, Alpine secdb YAML (one advisory per CVE per
fixed version) and Debian DSA lists (codename -> release number).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from cvss import CVSS2, CVSS3, CVSS4

from shoal.model.advisory import (
    Advisory,
    AffectedPackage,
    AffectedRange,
    CveEnrichment,
    FixState,
    Rating,
    Severity,
)
from shoal.model.purl import normalize_python_name
from shoal.vulndb.protocol import MemoryVulnSource

TESTDATA = Path(__file__).parent / "testdata" / "advisories"
DEBIAN_RELEASES = {"buster": "10", "bullseye": "11", "bookworm": "12"}


def _cvss(kind: str, vector: str) -> Severity:
    score: float | None = None
    if kind == "CVSS_V3":
        score = float(CVSS3(vector).base_score)
    elif kind == "CVSS_V4":
        score = float(CVSS4(vector).base_score)
    elif kind == "CVSS_V2":
        score = float(CVSS2(vector).base_score)
    rating = Rating.from_score(score) if score is not None else Rating.UNKNOWN
    return Severity(source="", rating=rating, type=kind, vector=vector, score=score)


def parse_osv(doc: dict[str, Any], source: str) -> Advisory:
    sev: list[Severity] = []
    for s in doc.get("severity", []):
        c = _cvss(s["type"], s["score"])
        sev.append(Severity(source, c.rating, c.type, c.vector, c.score))
    word = (doc.get("database_specific") or {}).get("severity")
    if isinstance(word, str):
        sev.append(Severity(source, Rating.parse(word)))
    affected = []
    for a in doc.get("affected", []):
        eco, _, release = a["package"]["ecosystem"].partition(":")
        name = a["package"]["name"]
        if eco == "PyPI":
            name = normalize_python_name(name)
        ranges = tuple(
            AffectedRange(r["type"], tuple((k, v) for e in r["events"] for k, v in e.items()))
            for r in a.get("ranges", [])
            if r["type"] != "GIT"
        )
        affected.append(
            AffectedPackage(
                ecosystem=eco,
                name=name,
                release=release,
                ranges=ranges,
                versions=tuple(a.get("versions", [])),
                purl=a["package"].get("purl"),
            )
        )
    return Advisory(
        id=doc["id"],
        source=source,
        aliases=tuple(doc.get("aliases", [])),
        summary=doc.get("summary", ""),
        details=doc.get("details", ""),
        published=doc.get("published"),
        modified=doc.get("modified"),
        withdrawn=doc.get("withdrawn"),
        references=tuple(r["url"] for r in doc.get("references", [])),
        severities=tuple(sev),
        affected=tuple(affected),
    )


def parse_secdb(text: str) -> Iterator[Advisory]:
    doc = yaml.safe_load(text)
    release = doc["distroversion"]
    for p in doc["packages"]:
        name = p["pkg"]["name"]
        for fixed, cves in (p["pkg"].get("secfixes") or {}).items():
            for text in cves or ():
                cve = text.split()[0]
                aff = AffectedPackage(
                    ecosystem="Alpine",
                    name=name,
                    release=release,
                    ranges=(
                        AffectedRange("ECOSYSTEM", (("introduced", "0"), ("fixed", str(fixed)))),
                    ),
                    fix_state=FixState.FIXED,
                )
                yield Advisory(id=cve, source="alpine/secdb", affected=(aff,))


_DSA_HEAD = re.compile(r"^\[(?P<date>[^\]]+)\] (?P<id>D[SL]A-\d+-\d+) (?P<pkg>\S+) - (?P<what>.*)$")
_DSA_FIX = re.compile(r"^\t\[(?P<rel>\w+)\] - (?P<pkg>\S+) (?P<ver>\S+)")


def parse_dsa_list(text: str) -> Iterator[Advisory]:
    block: list[str] = []
    for line in [*text.splitlines(), "[end] END-0-0 x - x"]:
        if line.startswith("[") and block:
            head = _DSA_HEAD.match(block[0])
            assert head, block[0]
            cves: list[str] = []
            affected = []
            for b in block[1:]:
                if b.startswith("\t{"):
                    cves += b.strip("\t{}").split()
                m = _DSA_FIX.match(b)
                if m and m["rel"] in DEBIAN_RELEASES:
                    affected.append(
                        AffectedPackage(
                            ecosystem="Debian",
                            name=m["pkg"],
                            release=DEBIAN_RELEASES[m["rel"]],
                            ranges=(
                                AffectedRange(
                                    "ECOSYSTEM", (("introduced", "0"), ("fixed", m["ver"]))
                                ),
                            ),
                            fix_state=FixState.FIXED,
                        )
                    )
            yield Advisory(
                id=head["id"],
                source="debian/dsa",
                aliases=tuple(cves),
                summary=f"{head['pkg']} - {head['what']}",
                affected=tuple(affected),
            )
            block = []
        block.append(line)


def load(name: str) -> list[Advisory]:
    """One named record: ``osv-pypi/PYSEC-2021-98``, ``osv-go/GO-2024-2687``,
    ``debian-dsa/DSA-5169-1``, ``alpine-secdb/v3.11-main`` (all of that file)."""
    feed, _, rid = name.partition("/")
    if feed in ("osv-pypi", "osv-go"):
        source = "osv/PyPI" if feed == "osv-pypi" else "osv/Go"
        return [parse_osv(json.loads((TESTDATA / feed / f"{rid}.json").read_text()), source)]
    if feed == "alpine-secdb":
        return list(parse_secdb((TESTDATA / feed / f"{rid}.yaml").read_text()))
    if feed == "debian-dsa":
        advs = [a for a in parse_dsa_list((TESTDATA / feed / "list").read_text()) if a.id == rid]
        assert advs, name
        return advs
    raise KeyError(name)


def mini_db(names: Iterable[str], enrichment: Iterable[CveEnrichment] = ()) -> MemoryVulnSource:
    return MemoryVulnSource([a for n in names for a in load(n)], enrichment)


def all_osv(feed: str) -> list[Advisory]:
    source = "osv/PyPI" if feed == "osv-pypi" else "osv/Go"
    return [
        parse_osv(json.loads(p.read_text()), source)
        for p in sorted((TESTDATA / feed).glob("*.json"))
    ]


def advisories(names: Iterable[str]) -> list[Advisory]:
    return [a for n in names for a in load(n)]
