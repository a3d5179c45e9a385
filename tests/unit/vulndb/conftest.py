"""Fixtures: real OSV feeds (the copies bundled with shoal, else ../shared/feeds) and a
DB built from both zips once per session."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from shoal.feeds.osv import OsvGoFeed, OsvPyPIFeed
from shoal.vulndb.resolve import bundled_path
from shoal.vulndb.update import UpdateReport, update

SHARED = Path(__file__).resolve().parents[4] / "shared" / "feeds" / "osv"
PYPI_RECORDS = 2661
GO_RECORDS = 4291


def osv_zip(ecosystem: str) -> Path:
    """The real `<Ecosystem>/all.zip`: shoal's bundled copy, or the shared snapshot."""
    bundled = bundled_path(f"osv/{ecosystem}")
    if bundled is not None and bundled.suffix == ".zip":
        return bundled
    shared = SHARED / f"{ecosystem}-all.zip"
    if not shared.is_file():
        pytest.fail(f"real OSV feed {ecosystem} not found (bundled or {shared})")
    return shared


def extract_records(ecosystem: str, ids: list[str], dest: Path) -> Path:
    """Copy named real records out of the zip into `dest` (a directory OSV parse reads)."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(osv_zip(ecosystem)) as zf:
        for i in ids:
            (dest / f"{i}.json").write_bytes(zf.read(f"{i}.json"))
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def osv_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, UpdateReport]:
    """A DB built from both real OSV zips; treat it as read-only."""
    root = tmp_path_factory.mktemp("osvdb")
    (root / "in" / "osv").mkdir(parents=True)
    (root / "in" / "osv" / "PyPI.zip").symlink_to(osv_zip("PyPI"))
    (root / "in" / "osv" / "Go.zip").symlink_to(osv_zip("Go"))
    db = root / "vuln.db"
    report = update(db, [OsvPyPIFeed(), OsvGoFeed()], from_path=root / "in")
    return db, report
