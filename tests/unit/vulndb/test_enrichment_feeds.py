"""The real NVD, EPSS, KEV and Debian tracker parsers feeding the DB through --from."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.feeds import get_feed
from shoal.model.advisory import FixState, Rating
from shoal.vulndb.store import VulnDB
from shoal.vulndb.update import UpdateReport, update

FEEDS = Path(__file__).parent / "testdata" / "feeds"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, UpdateReport]:
    db = tmp_path_factory.mktemp("enr") / "vuln.db"
    feeds = [get_feed(n) for n in ("debian/tracker", "nvd", "epss", "kev")]
    return db, update(db, feeds, from_path=FEEDS)


def test_every_source_imports(built: tuple[Path, UpdateReport]) -> None:
    _, report = built
    assert [(s.name, s.status, s.records, s.problems) for s in report.sources] == [
        ("debian/tracker", "updated", 5, 0),
        ("nvd", "updated", 2, 0),
        ("epss", "updated", 5, 0),
        ("kev", "updated", 3, 0),
    ]
    assert {s.origin for s in report.sources} == {"path"}
    assert ("debian", "zlib") in report.changed_keys
    assert {"CVE-2024-3400", "CVE-1999-0005", "CVE-2025-0108"} <= report.changed_cves


def test_nvd_facts_for_cve_2024_3400(built: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(built[0]) as db:
        e = db.enrichment(["CVE-2024-3400"])["CVE-2024-3400"]
    assert e.published == "2024-04-12T08:15:06.230Z"
    assert e.cwes == ("CWE-20", "CWE-77")
    assert [(s.source, s.type, s.score, s.rating) for s in e.nvd_severities] == [
        ("cna:psirt@paloaltonetworks.com", "CVSS_V3", 10.0, Rating.CRITICAL),
        ("nvd", "CVSS_V3", 10.0, Rating.CRITICAL),
    ]
    assert e.description.startswith("A command injection as a result of arbitrary file")
    assert e.epss_score is None and not e.kev


def test_epss_and_kev_merge_per_cve(built: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(built[0]) as db:
        got = db.enrichment(["CVE-1999-0005", "CVE-2025-0108", "CVE-2000-0000"])
    assert (got["CVE-1999-0005"].epss_score, got["CVE-1999-0005"].epss_percentile) == (
        0.91963,
        0.99214,
    )
    assert got["CVE-1999-0005"].epss_date == "2025-02-20"
    kev = got["CVE-2025-0108"]
    assert (kev.kev, kev.kev_date_added, kev.kev_due_date) == (True, "2025-02-18", "2025-03-11")
    assert "CVE-2000-0000" not in got


def test_debian_tracker_rows_per_release(built: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(built[0]) as db:
        rows = db.affected("Debian", "zlib")
    by_release = {r.affected.release: r.affected for r in rows}
    assert {r.advisory_id for r in rows} == {"CVE-2023-45853"}
    assert by_release["12"].fix_state is FixState.WONT_FIX
    assert by_release["13"].fix_state is FixState.FIXED
    assert by_release["13"].fixed_versions() == ("1:1.3.dfsg-3.1",)
