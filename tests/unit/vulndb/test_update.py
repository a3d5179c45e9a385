"""update(): incremental, atomic, per-source; inputs from --from, bundled data or upstream."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shoal.feeds.base import FeedError
from shoal.feeds.osv import OsvGoFeed, OsvPyPIFeed
from shoal.model.advisory import Advisory, CveEnrichment, FeedProblem, Rating, Severity
from shoal.vulndb import resolve
from shoal.vulndb.errors import VulnDbError
from shoal.vulndb.store import VulnDB
from shoal.vulndb.update import update
from shoal.vulndb.writer import UpdateLock

from .conftest import extract_records, osv_zip, sha256

DJANGO = ["PYSEC-2021-9", "PYSEC-2007-1", "PYSEC-2021-98"]
URLLIB3 = ["PYSEC-2021-108"]


@pytest.fixture
def pypi_dir(tmp_path: Path) -> Path:
    return extract_records("PyPI", DJANGO + URLLIB3, tmp_path / "pypi")


def _build(db: Path, src: Path) -> None:
    report = update(db, [OsvPyPIFeed()], from_path=src)
    assert report.sources[0].status == "updated", report.sources[0].error


def test_unchanged_input_is_skipped_and_the_db_left_byte_identical(
    tmp_path: Path, pypi_dir: Path
) -> None:
    db = tmp_path / "vuln.db"
    _build(db, pypi_dir)
    before = sha256(db)
    report = update(db, [OsvPyPIFeed()], from_path=pypi_dir)
    assert [(s.name, s.status) for s in report.sources] == [("osv/PyPI", "unchanged")]
    assert not report.replaced and report.changed_keys == set()
    assert sha256(db) == before


def test_force_rereads_but_rewrites_nothing_unchanged(tmp_path: Path, pypi_dir: Path) -> None:
    db = tmp_path / "vuln.db"
    _build(db, pypi_dir)
    report = update(db, [OsvPyPIFeed()], from_path=pypi_dir, force=True)
    s = report.sources[0]
    assert (s.status, s.records, s.added, s.changed, s.removed) == ("updated", 4, 0, 0, 0)
    assert report.changed_keys == set()


def test_changed_added_and_removed_records_are_diffed(tmp_path: Path, pypi_dir: Path) -> None:
    db = tmp_path / "vuln.db"
    _build(db, pypi_dir)
    with VulnDB.open(db) as vdb:
        assert vdb.by_alias("CVE-2021-33503") == [("osv/PyPI", "PYSEC-2021-108")]
    rec = json.loads((pypi_dir / "PYSEC-2021-9.json").read_text())
    rec["details"] += " (updated upstream)"
    (pypi_dir / "PYSEC-2021-9.json").write_text(json.dumps(rec))
    (pypi_dir / "PYSEC-2021-108.json").unlink()  # the urllib3 advisory goes away
    extract_records("PyPI", ["PYSEC-2020-96"], pypi_dir)  # a pyyaml one arrives
    report = update(db, [OsvPyPIFeed()], from_path=pypi_dir)
    s = report.sources[0]
    assert (s.added, s.changed, s.removed, s.records) == (1, 1, 1, 4)
    assert report.changed_keys == {("pypi", "django"), ("pypi", "urllib3"), ("pypi", "pyyaml")}
    with VulnDB.open(db) as vdb:
        assert vdb.affected("PyPI", "urllib3") == ()
        assert {r.advisory_id for r in vdb.affected("PyPI", "pyyaml")} == {"PYSEC-2020-96"}
        adv = vdb.advisories([("osv/PyPI", "PYSEC-2021-9")])[("osv/PyPI", "PYSEC-2021-9")]
        assert adv.details.endswith("(updated upstream)")
        assert vdb.by_alias("CVE-2021-33503") == []  # the removed record's aliases too


def test_bad_records_are_reported_and_the_rest_imports(tmp_path: Path, pypi_dir: Path) -> None:
    (pypi_dir / "BROKEN-1.json").write_text('{"id": "BROKEN-1", "affected": [')
    (pypi_dir / "BROKEN-2.json").write_text('{"id": 42}')
    report = update(tmp_path / "vuln.db", [OsvPyPIFeed()], from_path=pypi_dir)
    s = report.sources[0]
    assert (s.status, s.records, s.problems) == ("updated", 4, 2)
    assert {p.record for p in s.problem_samples} == {"BROKEN-1.json", "BROKEN-2.json"}
    assert all("\n" not in p.reason for p in s.problem_samples)


@dataclass
class _Exploding:
    """A real feed that raises after yielding some real records (an importer bug, a
    dropped connection, Ctrl-C)."""

    inner: OsvPyPIFeed
    exc: BaseException
    after: int = 2

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def version(self) -> int:
        return self.inner.version

    @property
    def license(self) -> str:
        return self.inner.license

    def parse(self, path: Path) -> Iterator[Advisory | FeedProblem]:
        for i, item in enumerate(self.inner.parse(path)):
            if i == self.after:
                raise self.exc
            yield item


@pytest.mark.parametrize("exc", [RuntimeError("importer bug"), KeyboardInterrupt()])
def test_an_importer_raising_midway_leaves_the_old_db_byte_identical(
    tmp_path: Path, pypi_dir: Path, exc: BaseException
) -> None:
    db = tmp_path / "vuln.db"
    _build(db, pypi_dir)
    before = sha256(db)
    extract_records("PyPI", ["PYSEC-2020-96"], pypi_dir)  # so the input differs
    with pytest.raises(type(exc)):
        update(db, [_Exploding(OsvPyPIFeed(), exc)], from_path=pypi_dir)
    assert sha256(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pypi", "vuln.db", "vuln.db.lock"]
    with VulnDB.open(db) as vdb:
        assert vdb.affected("PyPI", "pyyaml") == ()
        assert len(vdb.affected("PyPI", "django")) == 3


def test_a_failing_source_keeps_its_rows_and_the_others_update(tmp_path: Path) -> None:
    src = tmp_path / "in"
    extract_records("PyPI", DJANGO, src / "osv" / "PyPI")
    extract_records("Go", ["GO-2024-2687"], src / "osv" / "Go")
    db = tmp_path / "vuln.db"
    update(db, [OsvPyPIFeed(), OsvGoFeed()], from_path=src)
    extract_records("PyPI", URLLIB3, src / "osv" / "PyPI")
    extract_records("Go", ["GO-2022-0969"], src / "osv" / "Go")
    boom = _Exploding(OsvPyPIFeed(), FeedError("GET https://example/all.zip: HTTP 503"))
    report = update(db, [boom, OsvGoFeed()], from_path=src)
    assert [(s.name, s.status) for s in report.sources] == [
        ("osv/PyPI", "failed"),
        ("osv/Go", "updated"),
    ]
    assert report.failed[0].error == "GET https://example/all.zip: HTTP 503"
    assert report.replaced
    with VulnDB.open(db) as vdb:
        assert len(vdb.affected("PyPI", "django")) == 3  # the previous PyPI rows
        assert vdb.affected("PyPI", "urllib3") == ()
        assert vdb.advisories([("osv/Go", "GO-2022-0969")])


def test_a_db_of_another_schema_version_is_rebuilt(tmp_path: Path, pypi_dir: Path) -> None:
    db = tmp_path / "vuln.db"
    _build(db, pypi_dir)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    report = update(db, [OsvPyPIFeed()], from_path=pypi_dir)
    assert report.rebuilt is not None and "schema version 99" in report.rebuilt
    assert report.sources[0].added == 4
    with VulnDB.open(db) as vdb:
        assert len(vdb.affected("PyPI", "django")) == 3


def test_a_foreign_sqlite_file_is_never_overwritten(tmp_path: Path, pypi_dir: Path) -> None:
    db = tmp_path / "vuln.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE precious (x)")
    conn.commit()
    conn.close()
    before = sha256(db)
    with pytest.raises(VulnDbError, match="not a shoal vulnerability DB"):
        update(db, [OsvPyPIFeed()], from_path=pypi_dir)
    assert sha256(db) == before


def test_a_second_concurrent_update_is_refused(tmp_path: Path, pypi_dir: Path) -> None:
    db = tmp_path / "vuln.db"
    with UpdateLock(db), pytest.raises(VulnDbError, match="being updated by another"):
        update(db, [OsvPyPIFeed()], from_path=pypi_dir)


def test_from_directory_needs_an_entry_per_source(tmp_path: Path, pypi_dir: Path) -> None:
    report = update(tmp_path / "vuln.db", [OsvPyPIFeed(), OsvGoFeed()], from_path=pypi_dir)
    assert {s.status for s in report.sources} == {"failed"}
    assert report.sources[1].error == f"--from {str(pypi_dir)!r} has no input for source 'osv/Go'"
    assert not (tmp_path / "vuln.db").exists()  # nothing updated, nothing written


def test_bundled_resolver_names_the_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "bundled"
    (root / "osv").mkdir(parents=True)
    (root / "osv" / "PyPI-all.zip").symlink_to(osv_zip("PyPI"))
    (root / "README.md").write_text(
        "| file | feed | upstream | snapshot | records |\n|---|---|---|---|---|\n"
        "| `osv/PyPI-all.zip` | `osv/PyPI` | PyPA advisory database | 2024-10-10 | 2,661 |\n"
    )
    db = tmp_path / "vuln.db"
    report = update(db, [OsvPyPIFeed(), OsvGoFeed()], resolver=resolve.bundled(root))
    pypi, go = report.sources
    assert (pypi.status, pypi.origin, pypi.location) == ("updated", "bundled", "osv/PyPI-all.zip")
    assert go.status == "failed" and "bundles no data for source 'osv/Go'" in (go.error or "")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT origin, upstream FROM sources").fetchall() == [
        ("bundled", "2024-10-10")
    ]


def test_online_resolver_fetches_then_honours_304(tmp_path: Path) -> None:
    body = osv_zip("Go").read_bytes()
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(
            200,
            content=body,
            headers={"ETag": '"v1"', "Last-Modified": "Thu, 21 Aug 2026 10:00:00 GMT"},
        )

    db = tmp_path / "vuln.db"
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        first = update(db, [OsvGoFeed()], http=http)
        before = sha256(db)
        second = update(db, [OsvGoFeed()], http=http)
    assert seen == [None, '"v1"']
    assert first.sources[0].status == "updated" and first.sources[0].origin == "url"
    assert first.sources[0].location == OsvGoFeed.default_url
    assert second.sources[0].status == "unchanged" and not second.replaced
    assert sha256(db) == before


@dataclass
class _Enrichment:
    name: str
    records: list[CveEnrichment]
    version: int = 1
    license: str = "LicenseRef-test"

    def parse(self, path: Path) -> Iterator[CveEnrichment | FeedProblem]:
        yield from self.records


_NVD = CveEnrichment(
    cve="CVE-2021-3281",
    nvd_severities=(
        Severity(
            "nvd", Rating.MEDIUM, "CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N", 6.5
        ),
    ),
    cwes=("CWE-22",),
    description="In Django 2.2 before 2.2.18, ... directory traversal",
    published="2021-02-02T07:15:00.000",
)


def test_enrichment_sources_own_their_columns(tmp_path: Path) -> None:
    db = tmp_path / "vuln.db"
    epss = [
        CveEnrichment(
            "CVE-2021-3281", epss_score=0.00265, epss_percentile=0.66, epss_date="2024-10-10"
        ),
        CveEnrichment(
            "CVE-2021-44228", epss_score=0.97565, epss_percentile=1.0, epss_date="2024-10-10"
        ),
    ]
    kev = [
        CveEnrichment(
            "CVE-2021-44228",
            kev=True,
            kev_date_added="2021-12-10",
            kev_due_date="2021-12-24",
            kev_ransomware="Known",
        )
    ]
    r = update(
        db,
        [_Enrichment("nvd", [_NVD]), _Enrichment("epss", epss), _Enrichment("kev", kev)],
        resolver=lambda feed, prior: resolve.FeedInput(tmp_path, "path", "test"),
    )
    assert [(s.name, s.added) for s in r.sources] == [("nvd", 1), ("epss", 2), ("kev", 1)]
    with VulnDB.open(db) as vdb:
        got = vdb.enrichment(["CVE-2021-3281", "CVE-2021-44228", "CVE-2000-0001"])
    assert got["CVE-2021-3281"] == CveEnrichment(
        "CVE-2021-3281",
        nvd_severities=_NVD.nvd_severities,
        cwes=("CWE-22",),
        description=_NVD.description,
        published=_NVD.published,
        epss_score=0.00265,
        epss_percentile=0.66,
        epss_date="2024-10-10",
    )
    assert got["CVE-2021-44228"].kev and got["CVE-2021-44228"].epss_score == 0.97565
    assert "CVE-2000-0001" not in got

    # EPSS drops one CVE and rescores the other: NVD's and KEV's columns stay.
    r = update(
        db,
        [
            _Enrichment(
                "epss",
                [
                    CveEnrichment(
                        "CVE-2021-44228",
                        epss_score=0.9,
                        epss_percentile=0.99,
                        epss_date="2024-10-11",
                    )
                ],
                version=2,
            )
        ],
        resolver=lambda feed, prior: resolve.FeedInput(tmp_path, "path", "test"),
    )
    s = r.sources[0]
    assert (s.added, s.changed, s.removed) == (0, 1, 1)
    assert r.changed_cves == {"CVE-2021-3281", "CVE-2021-44228"}
    with VulnDB.open(db) as vdb:
        got = vdb.enrichment(["CVE-2021-3281", "CVE-2021-44228"])
    assert got["CVE-2021-3281"].epss_score is None
    assert got["CVE-2021-3281"].nvd_severities == _NVD.nvd_severities
    assert got["CVE-2021-44228"].kev and got["CVE-2021-44228"].epss_score == 0.9

    # an EPSS file with no rows is refused rather than erasing every score
    r = update(
        db,
        [_Enrichment("epss", [], version=3)],
        resolver=lambda feed, prior: resolve.FeedInput(tmp_path, "path", "test"),
    )
    assert r.sources[0].status == "failed" and "yielded no records" in (r.sources[0].error or "")
    with VulnDB.open(db) as vdb:
        assert vdb.enrichment(["CVE-2021-44228"])["CVE-2021-44228"].epss_score == 0.9


def test_bundled_data_is_found_for_every_bundled_feed() -> None:
    """The layout shoal ships (shoal/data/feeds): osv/<Eco>-all.zip, alpine-secdb/,
    debian/DSA/ and debian/DLA/."""
    root = resolve.bundled_root()
    found = {
        name: resolve.bundled_path(name)
        for name in ("osv/PyPI", "osv/Go", "alpine/secdb", "debian/dsa", "debian/dla")
    }
    assert {k: v.relative_to(root).as_posix() for k, v in found.items() if v} == {
        "osv/PyPI": "osv/PyPI-all.zip",
        "osv/Go": "osv/Go-all.zip",
        "alpine/secdb": "alpine-secdb",
        "debian/dsa": "debian/DSA",
        "debian/dla": "debian/DLA",
    }
    assert resolve.bundled_path("nvd") is None
    assert resolve.snapshot_date(root, "osv/PyPI") == "2024-10-10"


def test_bootstrap_builds_from_bundled_data_once(tmp_path: Path) -> None:
    from shoal.vulndb.update import bootstrap, bundled_feeds

    assert [f.name for f in bundled_feeds()] == [
        "osv/PyPI",
        "osv/Go",
        "alpine/secdb",
        "debian/dsa",
        "debian/dla",
    ]
    db = tmp_path / "vuln.db"
    report = bootstrap(db)
    assert report is not None and report.replaced and not report.failed
    assert {s.origin for s in report.sources} == {"bundled"}
    before = sha256(db)
    assert bootstrap(db) is None
    assert sha256(db) == before


def test_a_corrupt_db_is_rebuilt(tmp_path: Path, pypi_dir: Path) -> None:
    db = tmp_path / "vuln.db"
    db.write_bytes(b"\x00garbage, not SQLite" * 512)
    with pytest.raises(VulnDbError, match=r"unreadable .*run `shoal db update` to rebuild it"):
        VulnDB.open(db)
    report = update(db, [OsvPyPIFeed()], from_path=pypi_dir)
    assert report.rebuilt is not None and "unreadable" in report.rebuilt
    with VulnDB.open(db) as vdb:
        assert len(vdb.affected("PyPI", "django")) == 3


def test_a_failing_disk_aborts_cleanly(
    tmp_path: Path, pypi_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O failure of the working copy itself (here: the final rename) is one clean
    error, and the previous DB stays."""
    db = tmp_path / "vuln.db"
    _build(db, pypi_dir)
    before = sha256(db)
    extract_records("PyPI", ["PYSEC-2020-96"], pypi_dir)

    def no_space(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("shoal.vulndb.writer.os.replace", no_space)
    with pytest.raises(VulnDbError, match=r"DB unchanged: .*No space left on device"):
        update(db, [OsvPyPIFeed()], from_path=pypi_dir)
    assert sha256(db) == before
    assert not (tmp_path / "vuln.db.tmp").exists()


def test_an_open_reader_keeps_its_snapshot_across_an_update(tmp_path: Path, pypi_dir: Path) -> None:
    """Updates rename a new file into place, so a scan that opened the DB before keeps
    reading consistent data, and the next open sees the new data."""
    db = tmp_path / "vuln.db"
    _build(db, pypi_dir)
    with VulnDB.open(db) as before:
        old_version = before.version
        extract_records("PyPI", ["PYSEC-2020-96"], pypi_dir)
        (pypi_dir / "PYSEC-2007-1.json").unlink()
        update(db, [OsvPyPIFeed()], from_path=pypi_dir)
        assert before.version == old_version
        assert before.affected("PyPI", "pyyaml") == ()
        assert len(before.affected("PyPI", "django")) == 3
        assert before.advisories([("osv/PyPI", "PYSEC-2007-1")])
    with VulnDB.open(db) as after:
        assert after.version != old_version
        assert [r.advisory_id for r in after.affected("PyPI", "pyyaml")] == ["PYSEC-2020-96"]
        assert len(after.affected("PyPI", "django")) == 2


def test_lookups_from_many_threads_agree(tmp_path: Path, pypi_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    db = tmp_path / "vuln.db"
    _build(db, pypi_dir)
    names = ["django", "urllib3", "nothing"] * 200
    with VulnDB.open(db) as vdb, ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda n: len(vdb.affected("PyPI", n)), names))
        many = list(pool.map(lambda n: len(vdb.affected_many([("PyPI", n)])[("pypi", n)]), names))
    assert got == many == [3, 1, 0] * 200


def test_an_input_that_yields_nothing_never_wipes_a_source(tmp_path: Path, pypi_dir: Path) -> None:
    db = tmp_path / "vuln.db"
    _build(db, pypi_dir)
    before = sha256(db)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("an upstream mirror that lost its files")
    report = update(db, [OsvPyPIFeed()], from_path=empty)
    assert report.sources[0].status == "failed"
    assert report.sources[0].error == (
        "source 'osv/PyPI' yielded no advisories (it had 4); kept the previous data"
    )
    assert sha256(db) == before
