"""`shoal db update/status/export/import` end to end, on the data bundled with shoal."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shoal.cli.main import app
from shoal.vulndb.resolve import bundled_path
from shoal.vulndb.store import VulnDB

runner = CliRunner()
BUNDLED = {"osv/PyPI", "osv/Go", "alpine/secdb", "debian/dsa", "debian/dla"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`shoal db update` with no network and no --from: every bundled feed."""
    db = tmp_path_factory.mktemp("db") / "vuln.db"
    res = runner.invoke(app, ["db", "update", "--db", str(db)])
    assert res.exit_code == 0, res.output
    return db


def test_update_from_bundled_data_imports_every_bundled_feed(built: Path) -> None:
    res = runner.invoke(app, ["db", "status", "--db", str(built), "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.stdout)
    sources = {s["name"]: s for s in st["sources"]}
    assert set(sources) == BUNDLED
    assert sources["osv/PyPI"]["records"] == 2661
    assert sources["osv/Go"]["records"] == 4291
    assert {s["origin"] for s in sources.values()} == {"bundled"}
    assert sources["osv/PyPI"]["upstream"] == "2024-10-10"
    assert st["advisories"] == sum(s["records"] for s in sources.values())
    assert st["size_bytes"] == built.stat().st_size
    assert st["age_seconds"] >= 0 and st["built_at"]
    with VulnDB.open(built) as db:
        assert db.affected("Alpine", "openssl")
        assert any(r.affected.release == "11" for r in db.affected("Debian", "openssl"))


def test_status_table_says_which_data_is_bundled(built: Path) -> None:
    res = runner.invoke(app, ["db", "status", "--db", str(built)])
    assert res.exit_code == 0
    assert "bundled" in res.stdout and "osv/PyPI" in res.stdout


def test_a_second_update_changes_nothing(built: Path) -> None:
    before = _sha(built)
    res = runner.invoke(app, ["db", "update", "--db", str(built), "--json"])
    assert res.exit_code == 0
    report = json.loads(res.stdout)
    assert {s["status"] for s in report["sources"]} == {"unchanged"}
    assert report["replaced"] is False
    assert _sha(built) == before


def test_export_then_import_elsewhere(built: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "vulndb.tar.zst"
    res = runner.invoke(app, ["db", "export", str(bundle), "--db", str(built)])
    assert res.exit_code == 0, res.output
    target = tmp_path / "airgap" / "vuln.db"
    res = runner.invoke(app, ["db", "import", str(bundle), "--db", str(target)])
    assert res.exit_code == 0, res.output
    with VulnDB.open(built) as a, VulnDB.open(target) as b:
        assert a.version == b.version
        assert a.affected("PyPI", "django") == b.affected("PyPI", "django")

    # a corrupted copy is refused in one line and the imported DB stays as it was
    data = bytearray(bundle.read_bytes())
    data[len(data) // 3] ^= 0x40
    bad = tmp_path / "bad.tar.zst"
    bad.write_bytes(bytes(data))
    before = _sha(target)
    res = runner.invoke(app, ["db", "import", str(bad), "--db", str(target)])
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "refused" in res.stderr
    assert _sha(target) == before


def test_update_from_a_local_file_needs_its_source(tmp_path: Path) -> None:
    db = tmp_path / "vuln.db"
    zip_path = bundled_path("osv/PyPI")
    assert zip_path is not None
    res = runner.invoke(app, ["db", "update", "--db", str(db), "--from", str(zip_path)])
    assert res.exit_code == 2 and "--source" in res.output
    res = runner.invoke(
        app, ["db", "update", "--db", str(db), "--from", str(zip_path), "-s", "osv/PyPI", "--json"]
    )
    assert res.exit_code == 0, res.output
    (src,) = json.loads(res.stdout)["sources"]
    assert (src["name"], src["origin"], src["records"]) == ("osv/PyPI", "path", 2661)


def test_a_failed_source_exits_1_and_keeps_the_old_db(tmp_path: Path) -> None:
    db = tmp_path / "vuln.db"
    broken = tmp_path / "all.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    res = runner.invoke(
        app, ["db", "update", "--db", str(db), "-s", "osv/Go", "--from", str(broken)]
    )
    assert res.exit_code == 1
    assert "✗ osv/Go:" in res.stderr and "not a readable zip archive" in res.stderr
    assert not db.exists()


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    res = runner.invoke(app, ["db", "update", "--db", str(tmp_path / "v.db"), "-s", "osv/Nope"])
    assert res.exit_code == 2
    assert "unknown feed 'osv/Nope'" in res.stderr


def test_status_without_a_db_says_what_to_do(tmp_path: Path) -> None:
    res = runner.invoke(app, ["db", "status", "--db", str(tmp_path / "none.db")])
    assert res.exit_code == 2
    assert "run `shoal db update`" in res.stderr and res.stderr.count("\n") == 1


def test_status_of_an_old_schema_says_to_update(built: Path, tmp_path: Path) -> None:
    old = tmp_path / "vuln.db"
    old.write_bytes(built.read_bytes())
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA user_version = 0")
    conn.commit()
    conn.close()
    res = runner.invoke(app, ["db", "status", "--db", str(old)])
    assert res.exit_code == 2
    assert "schema version 0" in res.stderr and "shoal db update" in res.stderr


def test_settings_path_is_the_default(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOAL_VULNDB__PATH", str(built))
    res = runner.invoke(app, ["db", "status", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["path"] == str(built)
