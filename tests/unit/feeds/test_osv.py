from __future__ import annotations

import gzip
import io
import json
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.feeds.base import FeedError, FeedLimits, RecordError
from shoal.feeds.osv import (
    OsvGoFeed,
    OsvPyPIFeed,
    normalize_name,
    parse_record,
    split_ecosystem,
)
from shoal.model.advisory import Advisory, FeedProblem, FixState, Rating, Severity
from tests.unit.feeds.paths import BUNDLED, TESTDATA

PYPI_ZIP = BUNDLED / "osv" / "PyPI-all.zip"
GO_ZIP = BUNDLED / "osv" / "Go-all.zip"


def _split(items: list[Advisory | FeedProblem]) -> tuple[dict[str, Advisory], list[FeedProblem]]:
    advs = {a.id: a for a in items if isinstance(a, Advisory)}
    return advs, [p for p in items if isinstance(p, FeedProblem)]


@pytest.fixture(scope="module")
def pypi() -> dict[str, Advisory]:
    advs, problems = _split(list(OsvPyPIFeed().parse(PYPI_ZIP)))
    assert problems == []
    return advs


@pytest.fixture(scope="module")
def go() -> dict[str, Advisory]:
    advs, problems = _split(list(OsvGoFeed().parse(GO_ZIP)))
    assert problems == []
    return advs


def test_every_pypi_record_imports(pypi: dict[str, Advisory]) -> None:
    assert len(pypi) == 2661
    assert sum(1 for a in pypi.values() if a.withdrawn) == 10
    assert all(a.source == "osv/PyPI" for a in pypi.values())


def test_every_go_record_imports(go: dict[str, Advisory]) -> None:
    assert len(go) == 4291
    assert sum(1 for a in go.values() if a.withdrawn) == 17
    assert sum(len(a.affected) for a in go.values()) == 6125


def test_pysec_2021_9_django_field_by_field(pypi: dict[str, Advisory]) -> None:
    a = pypi["PYSEC-2021-9"]
    assert a.aliases == ("CVE-2021-3281", "GHSA-fvgf-6h6h-3322")
    assert a.cve_ids == ("CVE-2021-3281",)
    assert a.published == "2021-02-02T07:15:00Z"
    assert a.modified == "2021-03-05T19:19:00Z"
    assert a.withdrawn is None
    assert a.details.startswith("In Django 2.2 before 2.2.18")
    assert a.references[-1] == "https://github.com/advisories/GHSA-fvgf-6h6h-3322"
    assert len(a.references) == 6
    (aff,) = a.affected
    assert (aff.ecosystem, aff.name, aff.release, aff.purl) == (
        "PyPI",
        "django",
        "",
        "pkg:pypi/django",
    )
    assert aff.fix_state is FixState.FIXED
    assert aff.fixed_versions() == ("2.2.18", "3.0.12", "3.1.6")
    (rng,) = aff.ranges
    assert rng.type == "ECOSYSTEM"
    assert rng.events == (
        ("introduced", "2.2"),
        ("fixed", "2.2.18"),
        ("introduced", "3.0"),
        ("fixed", "3.0.12"),
        ("introduced", "3.1"),
        ("fixed", "3.1.6"),
    )
    assert len(aff.versions) == 36 and aff.versions[0] == "2.2" and aff.versions[-1] == "3.1.5"
    assert a.severities == ()


def test_urllib3_1_26_4_advisory_drops_git_range(pypi: dict[str, Advisory]) -> None:
    a = pypi["PYSEC-2021-108"]
    assert a.aliases == ("CVE-2021-33503", "GHSA-q2q7-5pp4-w6pg")
    (aff,) = a.affected
    assert aff.name == "urllib3"
    assert [r.type for r in aff.ranges] == ["ECOSYSTEM"]  # the GIT range is gone
    assert aff.ranges[0].events == (("introduced", "0"), ("fixed", "1.26.5"))


def test_pyyaml_5_3_1_advisory(pypi: dict[str, Advisory]) -> None:
    a = pypi["PYSEC-2021-142"]
    assert a.cve_ids == ("CVE-2020-14343",)
    (aff,) = a.affected
    assert aff.name == "pyyaml"
    assert aff.fixed_versions() == ("5.4",)
    assert "5.3.1" in aff.versions


def test_pysec_cvss_vector_is_scored(pypi: dict[str, Advisory]) -> None:
    scored = [a for a in pypi.values() if a.severities]
    assert len(scored) == 202
    for a in scored:
        (s,) = a.severities
        assert s.type == "CVSS_V3" and s.source == "osv:PyPI"
        assert s.score is not None and 0.0 <= s.score <= 10.0
        assert s.rating is Rating.from_score(s.score)


def test_last_affected_event_kept(pypi: dict[str, Advisory]) -> None:
    (aff,) = pypi["PYSEC-2022-42969"].affected
    kinds = [k for r in aff.ranges for k, _ in r.events]
    assert "last_affected" in kinds


def test_go_2024_2687_field_by_field(go: dict[str, Advisory]) -> None:
    a = go["GO-2024-2687"]
    assert a.summary == "HTTP/2 CONTINUATION flood in net/http"
    assert a.aliases == ("CVE-2023-45288", "GHSA-4v7x-pqxf-cx7m")
    # vulndb's placeholder time means "not set"
    assert a.published is None and a.modified is None
    std, xnet = a.affected
    assert (std.ecosystem, std.name) == ("Go", "stdlib")
    assert std.ranges[0].type == "SEMVER"
    assert std.ranges[0].events == (
        ("introduced", "0"),
        ("fixed", "1.21.9"),
        ("introduced", "1.22.0-0"),
        ("fixed", "1.22.2"),
    )
    assert std.fix_state is FixState.FIXED
    assert (xnet.name, xnet.fixed_versions()) == ("golang.org/x/net", ("0.23.0",))
    assert a.references[0] == "https://go.dev/issue/65051"


def test_single_go_record_file_equals_zip_member(go: dict[str, Advisory]) -> None:
    (adv,) = OsvGoFeed().parse(TESTDATA / "osv" / "GO-2024-2687.json")
    assert adv == go["GO-2024-2687"]


def test_ghsa_record_severities_cwes_and_source() -> None:
    (adv,) = OsvPyPIFeed().parse(TESTDATA / "osv" / "GHSA-q2q7-5pp4-w6pg.json")
    assert isinstance(adv, Advisory)
    assert adv.severities == (
        Severity(
            "ghsa", Rating.HIGH, "CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5
        ),
        Severity("ghsa", Rating.HIGH, "vendor"),
    )
    assert adv.cwes == ("CWE-400",)
    assert adv.affected[0].ranges[0].events == (("introduced", "1.25.4"), ("fixed", "1.26.5"))


def test_yaml_record_reads_like_its_json_twin(pypi: dict[str, Advisory]) -> None:
    (adv,) = OsvPyPIFeed().parse(TESTDATA / "osv" / "PYSEC-2021-142.yaml")
    assert adv == pypi["PYSEC-2021-142"]


def test_directory_with_compressed_records_and_an_archive(tmp_path: Path) -> None:
    (tmp_path / "GHSA-q2q7-5pp4-w6pg.json.gz").write_bytes(
        gzip.compress((TESTDATA / "osv" / "GHSA-q2q7-5pp4-w6pg.json").read_bytes())
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "PYSEC-2021-142.yaml").write_bytes(
        (TESTDATA / "osv" / "PYSEC-2021-142.yaml").read_bytes()
    )
    (tmp_path / "notes.txt").write_text("not a record")
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as z:
        z.write(TESTDATA / "osv" / "GO-2024-2687.json", "GO-2024-2687.json")
    advs, problems = _split(list(OsvPyPIFeed().parse(tmp_path)))
    assert problems == []
    assert set(advs) == {"GHSA-q2q7-5pp4-w6pg", "PYSEC-2021-142", "GO-2024-2687"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PyPI", ("PyPI", "")),
        ("Debian:12", ("Debian", "12")),
        ("Alpine:v3.19", ("Alpine", "v3.19")),
        ("Ubuntu:22.04:LTS", ("Ubuntu", "22.04")),
        ("Ubuntu:24.10", ("Ubuntu", "24.10")),
        ("Ubuntu:Pro:18.04:LTS", ("Ubuntu", "Pro:18.04")),
        ("Red Hat:enterprise_linux:9::appstream", ("Red Hat", "enterprise_linux:9::appstream")),
    ],
)
def test_split_ecosystem(raw: str, expected: tuple[str, str]) -> None:
    assert split_ecosystem(raw) == expected


@pytest.mark.parametrize(
    ("eco", "name", "expected"),
    [
        ("PyPI", "Django_REST.framework", "django-rest-framework"),
        ("PyPI", "zope..interface", "zope-interface"),
        ("Go", "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"),
        ("npm", "@Babel/core", "@Babel/core"),
    ],
)
def test_names_normalised_per_ecosystem(eco: str, name: str, expected: str) -> None:
    assert normalize_name(eco, name) == expected


def _record(**changes: object) -> dict[str, object]:
    rec: dict[str, object] = json.loads((TESTDATA / "osv" / "GHSA-q2q7-5pp4-w6pg.json").read_text())
    rec.update(changes)
    return rec


def test_release_suffixed_ecosystem_and_package_severity() -> None:
    rec = _record(
        affected=[
            {
                "package": {
                    "ecosystem": "Debian:12",
                    "name": "python-urllib3",
                    "purl": "pkg:deb/debian/python-urllib3?arch=source",
                },
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "ecosystem_specific": {"severity": "low"},
            }
        ]
    )
    adv, notes = parse_record(rec, "osv/Debian", "x.json")
    assert notes == []
    (aff,) = adv.affected
    assert (aff.ecosystem, aff.release, aff.name) == ("Debian", "12", "python-urllib3")
    assert aff.fix_state is FixState.NOT_FIXED
    assert aff.severity is Rating.LOW
    assert aff.purl == "pkg:deb/debian/python-urllib3?arch=source"


def test_git_only_affected_entry_is_dropped() -> None:
    rec = _record(
        affected=[
            {
                "package": {"ecosystem": "PyPI", "name": "x"},
                "ranges": [{"type": "GIT", "repo": "https://x", "events": [{"introduced": "0"}]}],
            }
        ]
    )
    adv, _ = parse_record(rec, "osv/PyPI", "x.json")
    assert adv.affected == ()


def test_cvss_v4_and_ubuntu_severities() -> None:
    v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    rec = _record(
        id="CVE-2099-0001",
        severity=[{"type": "CVSS_V4", "score": v4}, {"type": "Ubuntu", "score": "medium"}],
        database_specific={},
    )
    adv, notes = parse_record(rec, "osv/Ubuntu", "x.json")
    assert notes == []
    assert adv.severities == (
        Severity("osv:PyPI", Rating.CRITICAL, "CVSS_V4", v4, 9.3),
        Severity("osv:PyPI", Rating.MEDIUM, "vendor"),
    )


def test_bad_vector_is_reported_and_the_advisory_still_imports() -> None:
    rec = _record(severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}])
    adv, notes = parse_record(rec, "osv/PyPI", "x.json")
    assert adv.id == "GHSA-q2q7-5pp4-w6pg"
    assert [s.type for s in adv.severities] == ["vendor"]
    (note,) = notes
    assert "severity[0]" in note and "CVSS:3.1/AV:Q" in note


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": None}, "missing 'id'"),
        ({"id": "has space"}, "invalid id"),
        ({"aliases": "CVE-1"}, ".aliases: expected a list"),
        ({"affected": [{"package": {"name": "x"}}]}, "missing 'ecosystem'"),
        (
            {
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "SEMVER", "events": [{"fixed": 1}]}],
                    }
                ]
            },
            "events",
        ),
        (
            {
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "WAT", "events": []}],
                    }
                ]
            },
            "unknown range type",
        ),
        (
            {
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "ECOSYSTEM", "events": []}],
                    }
                ]
            },
            "no events",
        ),
        ({"references": [{"url": 3}]}, "references[0].url"),
    ],
)
def test_malformed_records_name_the_field(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(RecordError) as e:
        parse_record(_record(**changes), "osv/PyPI", "x.json")
    assert reason in str(e.value)
    assert "\n" not in str(e.value)


def _zip_with(tmp_path: Path, extra: dict[str, bytes], real: int = 50) -> Path:
    out = tmp_path / "all.zip"
    with zipfile.ZipFile(PYPI_ZIP) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist()[:real]:
            dst.writestr(info.filename, src.read(info))
        for name, data in extra.items():
            dst.writestr(name, data)
    return out


def test_bad_records_mixed_into_a_real_archive(tmp_path: Path) -> None:
    bad = {
        "BROKEN-1.json": b'{"id": "BROKEN-1", "affected": [',
        "BROKEN-2.json": b"[1, 2, 3]",
        "BROKEN-3.json": b"\xff\xfe not utf-8",
        "BROKEN-4.json": b"[" * 100_000 + b"]" * 100_000,
        "BROKEN-5.json": json.dumps(_record(id="BROKEN-5", affected=[{"package": {}}])).encode(),
        "WARN-6.json": json.dumps(
            _record(id="WARN-6", severity=[{"type": "CVSS_V2", "score": "x"}])
        ).encode(),
    }
    advs, problems = _split(list(OsvPyPIFeed().parse(_zip_with(tmp_path, bad))))
    assert len(advs) == 51  # the 50 real ones and WARN-6
    assert "WARN-6" in advs
    assert sorted(p.record.split(":")[1] for p in problems) == [
        "BROKEN-1.json",
        "BROKEN-2.json",
        "BROKEN-3.json",
        "BROKEN-4.json",
        "BROKEN-5.json",
        "WARN-6.json",
    ]
    for p in problems:
        assert p.source == "osv/PyPI" and "\n" not in p.reason and p.reason
    reasons = {p.record.split(":")[1]: p.reason for p in problems}
    assert "invalid JSON at line 1" in reasons["BROKEN-1.json"]
    assert "expected an object" in reasons["BROKEN-2.json"]
    assert "nested too deeply" in reasons["BROKEN-4.json"]


def test_oversized_member_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = _zip_with(tmp_path, {"HUGE.json": b" " * 200_000 + b"{}"}, real=3)
    feed = OsvPyPIFeed(limits=FeedLimits(record_bytes=100_000))
    advs, problems = _split(list(feed.parse(path)))
    assert len(advs) == 3
    (p,) = problems
    assert "HUGE.json" in p.record and "over the record limit" in p.reason


def test_member_count_and_total_size_are_bounded(tmp_path: Path) -> None:
    path = _zip_with(tmp_path, {}, real=20)
    with pytest.raises(FeedError, match="20 members, over the limit of 10"):
        list(OsvPyPIFeed(limits=FeedLimits(archive_members=10)).parse(path))
    with pytest.raises(FeedError, match="members add up to more than"):
        list(OsvPyPIFeed(limits=FeedLimits(archive_bytes=5000)).parse(path))


def test_lying_member_size_is_bounded_by_what_inflates(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("BOMB.json", b"[" + b" " * 5_000_000 + b"]")
    raw = bytearray(path.read_bytes())
    # shrink the declared uncompressed size in the central directory to 10 bytes
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    feed = OsvPyPIFeed(limits=FeedLimits(record_bytes=1000))
    (p,) = list(feed.parse(path))
    assert isinstance(p, FeedProblem) and "BOMB.json" in p.record


def test_not_a_zip_and_missing_path_raise_feed_errors(tmp_path: Path) -> None:
    bad = tmp_path / "all.zip"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(FeedError, match="not a readable zip archive"):
        list(OsvPyPIFeed().parse(bad))
    with pytest.raises(FeedError, match="no such file or directory"):
        list(OsvPyPIFeed().parse(tmp_path / "missing"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
osv_keys = st.sampled_from(
    [
        "id",
        "aliases",
        "related",
        "affected",
        "severity",
        "references",
        "published",
        "withdrawn",
        "database_specific",
        "package",
        "ranges",
        "events",
        "ecosystem",
        "name",
        "type",
        "score",
        "versions",
        "introduced",
        "fixed",
        "url",
    ]
)
osv_like = st.recursive(
    st.none() | st.text(max_size=12) | st.integers(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(osv_keys, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, osv_like))
def test_fuzz_parse_record_only_raises_record_error(obj: object) -> None:
    try:
        adv, notes = parse_record(obj, "osv/PyPI", "fuzz.json")
    except RecordError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(adv, Advisory) and all("\n" not in n for n in notes)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_fuzz_archive_members_become_problems(data: bytes) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("X.json", data)
        z.writestr("Y.yaml", data)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "all.zip"
        path.write_bytes(buf.getvalue())
        for item in OsvPyPIFeed().parse(path):
            assert isinstance(item, Advisory | FeedProblem)


def test_git_only_entry_without_package_is_dropped() -> None:
    rec = _record(
        affected=[
            {"ranges": [{"type": "GIT", "repo": "https://x", "events": [{"introduced": "0"}]}]},
            {"package": {"ecosystem": "PyPI", "name": "urllib3"}, "versions": ["1.26.4"]},
        ]
    )
    adv, _ = parse_record(rec, "osv/PyPI", "x.json")
    (aff,) = adv.affected
    assert (aff.name, aff.versions, aff.fix_state) == ("urllib3", ("1.26.4",), FixState.NOT_FIXED)
