"""VulnDB queries against a DB built from the real PyPI and Go OSV feeds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shoal.feeds.osv import OsvGoFeed, OsvPyPIFeed
from shoal.model.advisory import Advisory, FixState
from shoal.vulndb.errors import SchemaMismatchError, VulnDbError
from shoal.vulndb.protocol import VulnSource
from shoal.vulndb.store import VulnDB
from shoal.vulndb.update import UpdateReport

from .conftest import GO_RECORDS, PYPI_RECORDS, osv_zip


def test_both_real_osv_feeds_import_completely(osv_db: tuple[Path, UpdateReport]) -> None:
    _, report = osv_db
    by_name = {s.name: s for s in report.sources}
    assert by_name["osv/PyPI"].status == "updated"
    assert by_name["osv/PyPI"].records == by_name["osv/PyPI"].added == PYPI_RECORDS
    assert by_name["osv/Go"].records == by_name["osv/Go"].added == GO_RECORDS
    assert report.replaced
    assert ("pypi", "django") in report.changed_keys
    assert ("go", "stdlib") in report.changed_keys


def test_vulndb_is_a_vuln_source(osv_db: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(osv_db[0]) as db:
        source: VulnSource = db
        assert source.version == osv_db[1].data_version


def test_django_advisory_pysec_2021_9(osv_db: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(osv_db[0]) as db:
        rows = db.affected("PyPI", "django")
        ids = {r.advisory_id for r in rows}
        assert {"PYSEC-2021-9", "PYSEC-2007-1"} <= ids
        (row,) = [r for r in rows if r.advisory_id == "PYSEC-2021-9"]
        assert row.source == "osv/PyPI"
        aff = row.affected
        assert (aff.ecosystem, aff.name, aff.release) == ("PyPI", "django", "")
        assert aff.fix_state is FixState.FIXED
        assert aff.fixed_versions() == ("2.2.18", "3.0.12", "3.1.6")
        assert "3.1.5" in aff.versions and "3.1.6" not in aff.versions
        adv = db.advisories([("osv/PyPI", "PYSEC-2021-9")])[("osv/PyPI", "PYSEC-2021-9")]
        assert adv.aliases == ("CVE-2021-3281", "GHSA-fvgf-6h6h-3322")
        assert adv.published == "2021-02-02T07:15:00Z"
        assert adv.affected == (aff,)


def test_lookup_is_case_insensitive_in_ecosystem_only(osv_db: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(osv_db[0]) as db:
        assert db.affected("pypi", "django") == db.affected("PYPI", "django")
        assert db.affected("PyPI", "Django") == ()  # names arrive normalised
        assert db.affected("npm", "django") == ()  # never across ecosystems


def test_go_stdlib_and_module_paths(osv_db: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(osv_db[0]) as db:
        stdlib = db.affected("Go", "stdlib")
        assert len(stdlib) > 100
        assert all(r.source == "osv/Go" and r.advisory_id.startswith("GO-") for r in stdlib)
        assert all(rng.type == "SEMVER" for r in stdlib for rng in r.affected.ranges)
        net = db.affected("Go", "golang.org/x/net")
        assert any(r.advisory_id == "GO-2024-2687" for r in net)


def test_every_pypi_advisory_round_trips_exactly(osv_db: tuple[Path, UpdateReport]) -> None:
    parsed = [a for a in OsvPyPIFeed().parse(osv_zip("PyPI")) if isinstance(a, Advisory)]
    assert len(parsed) == PYPI_RECORDS
    with VulnDB.open(osv_db[0]) as db:
        stored = db.advisories((a.source, a.id) for a in parsed)
    assert len(stored) == PYPI_RECORDS
    for a in parsed:
        assert stored[(a.source, a.id)] == a


def test_every_go_advisory_round_trips_exactly(osv_db: tuple[Path, UpdateReport]) -> None:
    parsed = [a for a in OsvGoFeed().parse(osv_zip("Go")) if isinstance(a, Advisory)]
    with VulnDB.open(osv_db[0]) as db:
        stored = db.advisories((a.source, a.id) for a in parsed)
    assert [stored[(a.source, a.id)] for a in parsed] == parsed


def test_affected_many_equals_single_lookups(osv_db: tuple[Path, UpdateReport]) -> None:
    keys = [*sorted(osv_db[1].changed_keys)[:900], ("PyPI", "no-such-package")]
    with VulnDB.open(osv_db[0]) as one, VulnDB.open(osv_db[0]) as many:
        batch = many.affected_many(keys)
        assert set(batch) == {(e.lower(), n) for e, n in keys}
        for eco, name in keys:
            assert tuple(batch[(eco.lower(), name)]) == tuple(one.affected(eco, name))
        assert batch[("pypi", "no-such-package")] == ()


def test_by_alias_finds_advisories_by_cve_and_ghsa(osv_db: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(osv_db[0]) as db:
        assert ("osv/PyPI", "PYSEC-2021-9") in db.by_alias("CVE-2021-3281")
        assert ("osv/PyPI", "PYSEC-2021-9") in db.by_alias("GHSA-fvgf-6h6h-3322")
        assert db.by_alias("PYSEC-2021-9") == [("osv/PyPI", "PYSEC-2021-9")]
        assert db.by_alias("CVE-1999-0000000") == []


def test_related_ids_are_not_aliases(osv_db: tuple[Path, UpdateReport]) -> None:
    """GO-2020-0050 is CVE-2020-15216 and only *related* to CVE-2020-26290: a lookup by
    the related id must not merge the two vulnerabilities."""
    with VulnDB.open(osv_db[0]) as db:
        assert db.by_alias("CVE-2020-15216") == [("osv/Go", "GO-2020-0050")]
        assert ("osv/Go", "GO-2020-0050") not in db.by_alias("CVE-2020-26290")
        adv = db.advisories([("osv/Go", "GO-2020-0050")])[("osv/Go", "GO-2020-0050")]
        assert "CVE-2020-26290" in adv.related


def test_unknown_keys_are_left_out(osv_db: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(osv_db[0]) as db:
        assert db.advisories([("osv/PyPI", "PYSEC-0000-0")]) == {}
        assert db.enrichment(["CVE-2021-3281"]) == {}


def test_the_store_is_read_only(osv_db: tuple[Path, UpdateReport]) -> None:
    with VulnDB.open(osv_db[0]) as db, pytest.raises(sqlite3.OperationalError):
        db._conn.execute("DELETE FROM advisories")


def test_missing_db_says_to_run_update(tmp_path: Path) -> None:
    with pytest.raises(VulnDbError, match=r"no vulnerability DB at .*run `shoal db update`"):
        VulnDB.open(tmp_path / "vuln.db")


def test_a_file_that_is_not_a_db_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "vuln.db"
    bad.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(VulnDbError, match="unreadable") as e:
        VulnDB.open(bad)
    assert "\n" not in str(e.value)


def test_another_sqlite_db_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "vuln.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(VulnDbError, match="not a shoal vulnerability DB"):
        VulnDB.open(other)


def test_schema_version_mismatch_is_refused_with_advice(
    osv_db: tuple[Path, UpdateReport], tmp_path: Path
) -> None:
    old = tmp_path / "vuln.db"
    old.write_bytes(osv_db[0].read_bytes())
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaMismatchError) as e:
        VulnDB.open(old)
    assert str(e.value) == (
        f"vulnerability DB {str(old)!r} has schema version 99, this shoal reads version 1; "
        "run `shoal db update` to rebuild it"
    )


def test_a_tampered_row_is_a_clean_error(osv_db: tuple[Path, UpdateReport], tmp_path: Path) -> None:
    copy = tmp_path / "vuln.db"
    copy.write_bytes(osv_db[0].read_bytes())
    conn = sqlite3.connect(copy)
    conn.execute("UPDATE affected SET fix_state = 'bogus' WHERE name = 'django'")
    conn.commit()
    conn.close()
    with VulnDB.open(copy) as db, pytest.raises(VulnDbError, match="bad affected entry"):
        db.affected("PyPI", "django")
