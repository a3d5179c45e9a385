"""NVD, EPSS and KEV: per-CVE facts kept beside the advisories."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.feeds.base import FeedError, RecordError
from shoal.feeds.epss import EpssFeed
from shoal.feeds.kev import KevFeed, parse_entry
from shoal.feeds.nvd import NvdFeed, parse_cve
from shoal.model.advisory import CveEnrichment, FeedProblem, Rating, Severity
from tests.unit.feeds.paths import TESTDATA

NVD_PAGE = TESTDATA / "nvd" / "nvdcve-2.0-page-0.json"
EPSS_CSV = TESTDATA / "epss" / "epss_scores-2025-02-20.csv"
KEV_JSON = TESTDATA / "kev" / "known_exploited_vulnerabilities.json"


def _page() -> dict[str, Any]:
    page: dict[str, Any] = json.loads(NVD_PAGE.read_text())
    return page


def test_nvd_page_field_by_field() -> None:
    a, b = NvdFeed().parse(NVD_PAGE)
    assert isinstance(a, CveEnrichment) and isinstance(b, CveEnrichment)
    assert a.cve == "CVE-2022-1576"
    assert a.nvd_severities == (
        Severity(
            "nvd", Rating.MEDIUM, "CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N", 6.5
        ),
        Severity("nvd", Rating.MEDIUM, "CVSS_V2", "AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3),
    )
    assert a.cwes == ("CWE-352",)
    assert a.published == "2022-07-11T13:15:08.503Z"
    assert a.description.startswith("The WP Maintenance Mode & Coming Soon WordPress plugin")
    assert a.references == (
        "https://wpscan.com/vulnerability/68deab46-1c16-46ae-a912-a104958ca4cf",
    )
    assert a.epss_score is None and not a.kev

    assert b.cve == "CVE-2024-3400"
    cna, nvd = b.nvd_severities
    assert (cna.source, cna.rating, cna.score) == (
        "cna:psirt@paloaltonetworks.com",
        Rating.CRITICAL,
        10.0,
    )
    assert (nvd.source, nvd.type) == ("nvd", "CVSS_V3")
    assert b.cwes == ("CWE-20", "CWE-77")  # ssvcV203 is not a CVSS metric and is ignored


def test_nvd_scores_missing_base_score_and_v4_vectors() -> None:
    item = _page()["vulnerabilities"][0]
    metrics = item["cve"]["metrics"]
    del metrics["cvssMetricV31"][0]["cvssData"]["baseScore"]
    v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    metrics["cvssMetricV40"] = [
        {
            "source": "nvd@nist.gov",
            "type": "Primary",
            "cvssData": {"version": "4.0", "vectorString": v4},
        }
    ]
    enr = parse_cve(item, "x")
    assert enr is not None
    assert enr.nvd_severities[0] == Severity("nvd", Rating.CRITICAL, "CVSS_V4", v4, 9.3)
    assert enr.nvd_severities[1].score == 6.5  # computed from the vector


def test_nvd_rejected_cves_are_skipped() -> None:
    item = _page()["vulnerabilities"][0]
    item["cve"]["vulnStatus"] = "Rejected"
    assert parse_cve(item, "x") is None


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda c: c.update(id="CVE-XX"), "invalid CVE id"),
        (lambda c: c["metrics"].update(cvssMetricV31="x"), "expected a list"),
        (
            lambda c: c["metrics"]["cvssMetricV31"][0]["cvssData"].update(baseScore=42),
            "not a number from 0 to 10",
        ),
        (
            lambda c: c["metrics"]["cvssMetricV31"][0]["cvssData"].update(
                vectorString="AV:N/AC:L/Au:N/C:P/I:P/A:P"
            ),
            "is not CVSS_V3",
        ),
        (lambda c: c.update(weaknesses=[{"description": "CWE-1"}]), "expected a list"),
    ],
)
def test_nvd_malformed_cve_is_a_problem(mutate: Any, reason: str, tmp_path: Path) -> None:
    page = _page()
    mutate(page["vulnerabilities"][0]["cve"])
    (tmp_path / "page.json").write_text(json.dumps(page))
    problem, ok = NvdFeed().parse(tmp_path / "page.json")
    assert isinstance(problem, FeedProblem) and reason in problem.reason
    assert problem.record == "page.json:vulnerabilities[0]"
    assert isinstance(ok, CveEnrichment) and ok.cve == "CVE-2024-3400"


def test_nvd_not_a_page_raises(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"vulnerabilities": 3}')
    with pytest.raises(FeedError, match="expected a list"):
        list(NvdFeed().parse(tmp_path))


def test_epss_real_csv_plain_and_gzipped(tmp_path: Path) -> None:
    plain = list(EpssFeed().parse(EPSS_CSV))
    assert len(plain) == 5
    first = plain[0]
    assert first == CveEnrichment(
        cve="CVE-1999-0001", epss_score=0.00383, epss_percentile=0.73075, epss_date="2025-02-20"
    )
    (tmp_path / "epss_scores-current.csv.gz").write_bytes(gzip.compress(EPSS_CSV.read_bytes()))
    assert list(EpssFeed().parse(tmp_path)) == plain


def test_epss_bad_rows_and_missing_date() -> None:
    text = "cve,epss,percentile\nCVE-2024-0001,0.5,0.9\nCVE-2024-0002,1.5,0.9\nnot,a,row\nCVE-2024-0003,0.1\n"
    items = list(EpssFeed().parse_text(text, "e.csv"))
    ok = [i for i in items if isinstance(i, CveEnrichment)]
    bad = [i for i in items if isinstance(i, FeedProblem)]
    assert [(e.cve, e.epss_date) for e in ok] == [("CVE-2024-0001", None)]
    assert [p.record for p in bad] == ["e.csv:3", "e.csv:4", "e.csv:5"]


def test_epss_without_header_is_not_epss() -> None:
    with pytest.raises(FeedError, match="expected the header"):
        list(EpssFeed().parse_text("a,b,c\n", "x.csv"))
    with pytest.raises(FeedError, match="not an EPSS file"):
        list(EpssFeed().parse_text("#model_version:v1\n", "x.csv"))


def test_kev_real_catalog() -> None:
    items = list(KevFeed().parse(KEV_JSON))
    assert [i.cve for i in items if isinstance(i, CveEnrichment)] == [
        "CVE-2025-0108",
        "CVE-2024-53704",
        "CVE-2024-57727",
    ]
    first = items[0]
    assert first == CveEnrichment(
        cve="CVE-2025-0108",
        cwes=("CWE-306",),
        kev=True,
        kev_date_added="2025-02-18",
        kev_due_date="2025-03-11",
        kev_ransomware="Unknown",
    )


def test_kev_bad_entries() -> None:
    doc = json.loads(KEV_JSON.read_text())
    good = doc["vulnerabilities"][0]
    for change, reason in (
        ({"cveID": "nope"}, "invalid cveID"),
        ({"dateAdded": "18/02/2025"}, "not YYYY-MM-DD"),
        ({"cwes": "CWE-1"}, "expected a list"),
    ):
        bad = copy.deepcopy(good) | change
        with pytest.raises(RecordError, match=reason):
            parse_entry(bad, "kev.json:vulnerabilities[0]")


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_fuzz_nvd_items(obj: Any) -> None:
    for item in (obj, {"cve": obj}, {"cve": {"id": "CVE-2024-0001", "metrics": obj}}):
        try:
            parse_cve(item, "fuzz")
        except RecordError as e:
            assert "\n" not in str(e)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_fuzz_kev_entries(obj: Any) -> None:
    try:
        parse_entry(obj, "fuzz")
    except RecordError as e:
        assert "\n" not in str(e)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=10))
def test_fuzz_epss_rows(rows: list[str]) -> None:
    text = "cve,epss,percentile\n" + "\n".join(rows)
    for item in EpssFeed().parse_text(text, "f.csv"):
        if isinstance(item, CveEnrichment):
            assert item.epss_score is not None and 0 <= item.epss_score <= 1
