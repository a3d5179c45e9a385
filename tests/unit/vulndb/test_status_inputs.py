"""db_status and input fingerprints."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shoal.feeds.osv import OsvPyPIFeed
from shoal.vulndb import inputs
from shoal.vulndb.errors import VulnDbError
from shoal.vulndb.status import db_status
from shoal.vulndb.update import update

from .conftest import extract_records


def test_status_reports_sources_counts_and_age(tmp_path: Path) -> None:
    src = extract_records("PyPI", ["PYSEC-2021-9", "PYSEC-2021-108"], tmp_path / "in")
    db = tmp_path / "vuln.db"
    report = update(db, [OsvPyPIFeed()], from_path=src)
    built = datetime.fromisoformat(report.finished_at.replace("Z", "+00:00"))
    st = db_status(db, now=built + timedelta(hours=5))
    assert st.age_seconds == 5 * 3600
    assert (st.advisories, st.affected, st.enrichment) == (2, 2, 0)
    assert st.size_bytes == db.stat().st_size
    assert st.data_version == report.data_version
    (s,) = st.sources
    assert (s.name, s.records, s.problems, s.origin, s.location) == (
        "osv/PyPI",
        2,
        0,
        "path",
        str(src),
    )
    assert s.license == "CC-BY-4.0" and s.input_sha256 == inputs.input_sha256(src)
    assert st.bundled == []
    assert st.last_run is not None
    assert st.last_run["sources"][0]["added"] == 2
    assert st.last_run["data_version"] == report.data_version
    assert st.last_run["changed_keys"] == 2  # the history keeps counts, not the keys
    assert st.to_json()["path"] == str(db)


def test_status_of_a_missing_db(tmp_path: Path) -> None:
    with pytest.raises(VulnDbError, match="run `shoal db update`"):
        db_status(tmp_path / "nope.db")


def test_directory_fingerprint_is_content_and_names(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "a.json").write_text("a")
    (d / "sub" / "b.json").write_text("b")
    first = inputs.input_sha256(d)
    assert inputs.input_sha256(d) == first
    os.utime(d / "a.json", (0, 0))  # times do not matter
    assert inputs.input_sha256(d) == first
    (d / "sub" / "b.json").write_text("B")
    assert inputs.input_sha256(d) != first
    (d / "sub" / "b.json").write_text("b")
    (d / "sub" / "b.json").rename(d / "sub" / "c.json")
    assert inputs.input_sha256(d) != first


def test_directory_fingerprint_ignores_symlinks(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.json").write_text("a")
    before = inputs.input_sha256(d)
    (d / "loop").symlink_to(d)
    (d / "link.json").symlink_to(d / "a.json")
    assert inputs.input_sha256(d) == before


def test_fingerprint_of_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VulnDbError, match="neither a file nor a directory"):
        inputs.input_sha256(tmp_path / "missing")


def test_locate(tmp_path: Path) -> None:
    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "PyPI-all.zip").write_bytes(b"")
    (tmp_path / "Alpine-SecDB").mkdir()
    assert inputs.locate(tmp_path, "osv/PyPI", 2) == tmp_path / "osv" / "PyPI-all.zip"
    assert inputs.locate(tmp_path, "alpine/secdb", 2) == tmp_path / "Alpine-SecDB"
    assert inputs.locate(tmp_path, "osv/Go", 1) == tmp_path  # one feed: the path itself
    with pytest.raises(VulnDbError, match="has no input for source 'osv/Go'"):
        inputs.locate(tmp_path, "osv/Go", 2)
    with pytest.raises(VulnDbError, match="is a file but 2 sources"):
        inputs.locate(tmp_path / "osv" / "PyPI-all.zip", "osv/PyPI", 2)
    with pytest.raises(VulnDbError, match="does not exist"):
        inputs.locate(tmp_path / "nope", "osv/PyPI", 1)


def test_now_defaults_to_utc(tmp_path: Path) -> None:
    src = extract_records("PyPI", ["PYSEC-2021-9"], tmp_path / "in")
    update(tmp_path / "vuln.db", [OsvPyPIFeed()], from_path=src)
    st = db_status(tmp_path / "vuln.db")
    assert st.built_at is not None and st.built_at.endswith("Z")
    assert st.age_seconds is not None and st.age_seconds >= 0
    assert datetime.now(UTC) >= datetime.fromisoformat(st.built_at.replace("Z", "+00:00"))
