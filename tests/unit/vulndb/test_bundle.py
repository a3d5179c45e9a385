"""export/import bundles: round trip, and refusal of anything corrupt or tampered with."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.feeds.osv import OsvPyPIFeed
from shoal.vulndb.bundle import DB_MEMBER, MANIFEST, export_bundle, import_bundle
from shoal.vulndb.errors import BundleError
from shoal.vulndb.store import VulnDB
from shoal.vulndb.update import update

from .conftest import extract_records, sha256


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    src = extract_records("PyPI", ["PYSEC-2021-9", "PYSEC-2021-108", "PYSEC-2020-96"], root / "in")
    db = root / "vuln.db"
    update(db, [OsvPyPIFeed()], from_path=src)
    return db


@pytest.fixture(scope="module")
def bundle(small_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "vulndb.tar.zst"
    export_bundle(small_db, out)
    return out


@pytest.fixture
def live_db(tmp_path: Path) -> Path:
    """An existing DB at the import target, different from the bundle's."""
    db = tmp_path / "target" / "vuln.db"
    update(db, [OsvPyPIFeed()], from_path=extract_records("PyPI", ["PYSEC-2007-1"], tmp_path / "i"))
    return db


def _members(bundle: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with (
        zstandard.ZstdDecompressor().stream_reader(bundle.open("rb")) as zr,
        tarfile.open(fileobj=zr, mode="r|") as tar,
    ):
        out = []
        for ti in tar:
            f = tar.extractfile(ti)
            out.append((ti, f.read() if f else b""))
        return out


def _pack(path: Path, members: list[tuple[str, bytes]], *, raw: bool = False) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    path.write_bytes(buf.getvalue() if raw else zstandard.ZstdCompressor().compress(buf.getvalue()))
    return path


def test_round_trip_gives_the_same_db(small_db: Path, bundle: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "vuln.db"
    info = import_bundle(bundle, target)
    assert sha256(target) == info.db_sha256
    assert [s["name"] for s in info.sources] == ["osv/PyPI"]
    with VulnDB.open(small_db) as a, VulnDB.open(target) as b:
        assert a.version == b.version == info.data_version
        for name in ("django", "urllib3", "pyyaml"):
            assert a.affected("PyPI", name) == b.affected("PyPI", name) != ()


def test_manifest_lists_checksum_and_schema(bundle: Path) -> None:
    (mti, mbody), (dti, dbody) = _members(bundle)
    assert (mti.name, dti.name) == (MANIFEST, DB_MEMBER)
    manifest = json.loads(mbody)
    assert manifest["format"] == "shoal-vulndb-bundle"
    assert manifest["schema_version"] == 1
    assert manifest["members"][DB_MEMBER]["size"] == len(dbody)
    assert len(manifest["members"][DB_MEMBER]["sha256"]) == 64


def test_import_replaces_an_existing_db(bundle: Path, live_db: Path) -> None:
    import_bundle(bundle, live_db)
    with VulnDB.open(live_db) as db:
        assert {r.advisory_id for r in db.affected("PyPI", "django")} == {"PYSEC-2021-9"}


def _refused(bundle: Path, live_db: Path, match: str) -> None:
    before = sha256(live_db)
    with pytest.raises(BundleError, match=match) as e:
        import_bundle(bundle, live_db)
    assert "\n" not in str(e.value)
    assert str(e.value).endswith("the current DB is unchanged") or "does not exist" in str(e.value)
    assert sha256(live_db) == before
    assert sorted(p.name for p in live_db.parent.iterdir()) == ["vuln.db", "vuln.db.lock"]


def test_a_flipped_byte_in_the_db_is_refused(bundle: Path, live_db: Path, tmp_path: Path) -> None:
    (_, mbody), (_, dbody) = _members(bundle)
    bad = bytearray(dbody)
    bad[len(bad) // 2] ^= 0x01
    forged = _pack(tmp_path / "b.tar.zst", [(MANIFEST, mbody), (DB_MEMBER, bytes(bad))])
    _refused(forged, live_db, "does not match its sha256")


def test_corrupted_compressed_bytes_are_refused(
    bundle: Path, live_db: Path, tmp_path: Path
) -> None:
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt = tmp_path / "c.tar.zst"
    corrupt.write_bytes(bytes(data))
    _refused(corrupt, live_db, "refused")


def test_a_truncated_bundle_is_refused(bundle: Path, live_db: Path, tmp_path: Path) -> None:
    cut = tmp_path / "t.tar.zst"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    _refused(cut, live_db, "refused")


def test_a_tampered_manifest_is_refused(bundle: Path, live_db: Path, tmp_path: Path) -> None:
    (_, mbody), (_, dbody) = _members(bundle)
    manifest = json.loads(mbody)
    manifest["members"][DB_MEMBER]["sha256"] = "0" * 64
    forged = _pack(
        tmp_path / "m.tar.zst", [(MANIFEST, json.dumps(manifest).encode()), (DB_MEMBER, dbody)]
    )
    _refused(forged, live_db, "does not match its sha256")


def test_a_bundle_of_another_schema_version_is_refused(
    bundle: Path, live_db: Path, tmp_path: Path
) -> None:
    (_, mbody), (_, dbody) = _members(bundle)
    manifest = json.loads(mbody)
    manifest["schema_version"] = 2
    forged = _pack(
        tmp_path / "s.tar.zst", [(MANIFEST, json.dumps(manifest).encode()), (DB_MEMBER, dbody)]
    )
    _refused(forged, live_db, "DB schema version 2, this shoal reads 1")


def test_a_db_whose_own_schema_differs_is_refused(
    small_db: Path, live_db: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.db"
    old.write_bytes(small_db.read_bytes())
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    out = tmp_path / "x.tar.zst"
    # export refuses to read it, so build the bundle by hand with a correct checksum
    (_, mbody), _ = _members(export_bundle(small_db, tmp_path / "ok.tar.zst").path)
    manifest = json.loads(mbody)
    manifest["members"][DB_MEMBER] = {"size": old.stat().st_size, "sha256": sha256(old)}
    _pack(out, [(MANIFEST, json.dumps(manifest).encode()), (DB_MEMBER, old.read_bytes())])
    _refused(out, live_db, "schema version 7")


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ([("vuln.db", b"x")], "first member is not manifest.json"),
        ([("manifest.json", b"{not json")], "manifest.json is not JSON"),
        ([("manifest.json", b'{"format": "other"}')], "not a shoal vulnerability DB bundle"),
        ([("manifest.json", b"[]")], "not a shoal vulnerability DB bundle"),
    ],
)
def test_malformed_bundles_are_refused(
    members: list[tuple[str, bytes]], match: str, live_db: Path, tmp_path: Path
) -> None:
    _refused(_pack(tmp_path / "m.tar.zst", members), live_db, match)


def test_extra_or_renamed_members_are_refused(bundle: Path, live_db: Path, tmp_path: Path) -> None:
    (_, mbody), (_, dbody) = _members(bundle)
    extra = _pack(tmp_path / "e.tar.zst", [(MANIFEST, mbody), (DB_MEMBER, dbody), ("evil", b"x")])
    _refused(extra, live_db, "unexpected members after the DB")
    renamed = _pack(tmp_path / "r.tar.zst", [(MANIFEST, mbody), ("../vuln.db", dbody)])
    _refused(renamed, live_db, "second member is not vuln.db")


def test_an_uncompressed_tar_is_refused(bundle: Path, live_db: Path, tmp_path: Path) -> None:
    (_, mbody), (_, dbody) = _members(bundle)
    _refused(
        _pack(tmp_path / "u.tar", [(MANIFEST, mbody), (DB_MEMBER, dbody)], raw=True),
        live_db,
        "not a readable zstd tar",
    )


def test_a_db_over_the_size_bound_is_refused(bundle: Path, live_db: Path) -> None:
    before = sha256(live_db)
    with pytest.raises(BundleError, match=r"vuln.db is \d+ bytes \(limit 1000\)"):
        import_bundle(bundle, live_db, max_db_bytes=1000)
    assert sha256(live_db) == before


def test_a_missing_bundle_is_a_one_line_error(live_db: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        import_bundle(tmp_path / "nope.tar.zst", live_db)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=4096))
def test_fuzzed_bytes_are_refused_cleanly(data: bytes, tmp_path: Path) -> None:
    target = tmp_path / "fuzz" / "vuln.db"
    path = tmp_path / "fuzz.tar.zst"
    for blob in (data, zstandard.ZstdCompressor().compress(data)):
        path.write_bytes(blob)
        with pytest.raises(BundleError):
            import_bundle(path, target)
        assert not target.exists()


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pos=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_a_bit_flip_is_refused_or_changes_nothing(
    bundle: Path, tmp_path: Path, pos: int, bit: int
) -> None:
    """Some header bits are not content (zstd's checksum flag, tar's mtime): flipping
    them may import, but only ever the very same DB."""
    data = bytearray(bundle.read_bytes())
    data[pos % len(data)] ^= 1 << bit
    path = tmp_path / "flip.tar.zst"
    path.write_bytes(bytes(data))
    target = tmp_path / "flip" / "vuln.db"
    target.unlink(missing_ok=True)
    try:
        import_bundle(path, target)
    except BundleError:
        assert not target.exists()
    else:
        assert target.read_bytes() == _members(bundle)[1][1]
