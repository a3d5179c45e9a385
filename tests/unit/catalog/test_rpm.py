"""The os/rpm cataloger against real rpm databases in all three formats.

The fixtures come from tools/gen_rpm_fixtures/gen_rpm_fixtures.py: rpms built with
rpmbuild and installed with rpm into its sqlite database; the Berkeley DB files are
written by db5.3_load and read back by rpm's own bdb_ro; `expected.txt` is `rpm -qa`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.rpm import (
    MAX_UNKNOWNS,
    RpmCataloger,
    package_from_header,
    parse_rpmdb,
    split_source_rpm,
)
from shoal.catalog.rpmdb.errors import HeaderError
from shoal.catalog.rpmdb.header import parse_header
from shoal.model import CatalogResult, Distro, Location, Package, PackageType
from tests.unit.catalog.helpers import by_name

DATA = Path(__file__).parent / "testdata" / "rpm"

CASES = {
    "sqlite": ("sqlite/rpmdb.sqlite", "/var/lib/rpm/rpmdb.sqlite"),
    "bdb": ("bdb/Packages", "/var/lib/rpm/Packages"),
    "bdb_big_endian": ("bdb-be/Packages", "/var/lib/rpm/Packages"),
    "bdb_on_page_items": ("bdb-bigpage/Packages", "/var/lib/rpm/Packages"),
    "ndb": ("ndb/Packages.db", "/usr/lib/sysimage/rpm/Packages.db"),
}

# name -> (version, arch, source name, source version, licences), as rpmbuild was told
EXPECTED = {
    "bind-libs": (
        "32:9.16.23-14.el9_3",
        "x86_64",
        "bind",
        "9.16.23-14.el9_3",
        ("MPL-2.0 AND ISC AND BSD-3-Clause",),
    ),
    "crypto-policies": (
        "0:20230731-1.git5ed06e0.el9",
        "noarch",
        "crypto-policies",
        "20230731-1.git5ed06e0.el9",
        ("LGPL-2.1-or-later",),
    ),
    "hello": ("2.12-1.fc40", "x86_64", "hello", "2.12-1.fc40", ("GPL-3.0-or-later",)),
    "nodejs": (
        "1:18.14.2-2.module+el8.8.0+18257+ab32e5c7",
        "x86_64",
        "nodejs",
        "18.14.2-2.module+el8.8.0+18257+ab32e5c7",
        ("MIT and ASL 2.0 and ISC and BSD",),
    ),
    "tzdata": ("2024a-1.el9", "noarch", "tzdata", "2024a-1.el9", ("Public Domain",)),
    "zypper": (
        "1.14.64-150400.3.32.1",
        "x86_64",
        "zypper",
        "1.14.64-150400.3.32.1",
        ("GPL-2.0-or-later",),
    ),
}


def read(case: str) -> tuple[bytes, str]:
    rel, path = CASES[case]
    return (DATA / rel).read_bytes(), path


def catalog(case: str) -> CatalogResult:
    data, path = read(case)
    return RpmCataloger().catalog(LayerFile(path=path, data=data))


# --- wants -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/var/lib/rpm/rpmdb.sqlite",
        "/var/lib/rpm/Packages",
        "/var/lib/rpm/Packages.db",
        "/usr/lib/sysimage/rpm/rpmdb.sqlite",
        "/usr/lib/sysimage/rpm/Packages",
        "/usr/lib/sysimage/rpm/Packages.db",
    ],
)
def test_wants_rpm_databases(path: str) -> None:
    assert RpmCataloger().wants(FileEntry(path=path, size=4096, mode=0o644))


@pytest.mark.parametrize(
    "path",
    [
        "/var/lib/rpm/rpmdb.sqlite-wal",
        "/var/lib/rpm/rpmdb.sqlite-shm",
        "/var/lib/rpm/Name",
        "/var/lib/rpm/Index.db",
        "/var/lib/rpm/__db.001",
        "/var/lib/dpkg/status",
        "/home/user/var/lib/rpm/Packages",
        "/var/lib/rpm/Packages/extra",
        "/usr/share/doc/Packages",
    ],
)
def test_wants_nothing_else(path: str) -> None:
    assert not RpmCataloger().wants(FileEntry(path=path, size=4096, mode=0o644))


def test_plugin_identity() -> None:
    assert RpmCataloger.name == "os/rpm"
    assert RpmCataloger.version == 1
    assert RpmCataloger.id() == "os/rpm@1"


# --- catalog: every format gives the same packages ----------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_catalog_lists_exact_packages(case: str) -> None:
    result = catalog(case)
    assert result.unknowns == ()
    got = {
        p.name: (p.version, p.arch, p.source_name, p.source_version, p.licenses)
        for p in result.packages
    }
    assert got == EXPECTED
    assert len(result.packages) == len(EXPECTED)  # no duplicates
    for p in result.packages:
        assert p.type is PackageType.RPM
        assert p.cataloger == "os/rpm"
        assert p.locations == (Location(path=CASES[case][1]),)
        assert p.layer is None and p.distro is None  # the engine fills these


@pytest.mark.parametrize("case", list(CASES))
def test_catalog_agrees_with_rpm_qa(case: str) -> None:
    """Every field rpm itself printed (`rpm -qa --qf`) for the database, gpg-pubkey aside."""
    rows = [line.split("|") for line in (DATA / "expected.txt").read_text().splitlines()]
    pkgs = by_name(catalog(case))
    want_names = {r[0] for r in rows if r[0] != "gpg-pubkey"}
    assert set(pkgs) == want_names
    for name, epoch, version, release, arch, srpm, lic, vendor, label in rows:
        if name == "gpg-pubkey":
            continue
        p = pkgs[name]
        evr = f"{version}-{release}" if epoch == "(none)" else f"{epoch}:{version}-{release}"
        assert p.version == evr
        assert p.arch == arch
        assert p.meta("epoch") == (None if epoch == "(none)" else epoch)
        assert p.meta("release") == release
        assert p.meta("sourcerpm") == srpm
        assert p.licenses == (lic,)
        assert p.meta("vendor") == vendor
        assert p.meta("modularitylabel") == (None if label == "(none)" else label)


def test_gpg_pubkey_pseudo_package_is_skipped() -> None:
    assert "gpg-pubkey" in (DATA / "expected.txt").read_text()  # rpm --import put one there
    for case in CASES:
        assert "gpg-pubkey" not in by_name(catalog(case))


def test_metadata_of_modular_package() -> None:
    nodejs = by_name(catalog("sqlite"))["nodejs"]
    meta = dict(nodejs.metadata)
    assert meta["epoch"] == "1"
    assert meta["release"] == "2.module+el8.8.0+18257+ab32e5c7"
    assert meta["vendor"] == "Red Hat, Inc."
    assert meta["modularitylabel"] == "nodejs:18:8080020230213100225:a75119d5"
    assert meta["sourcerpm"] == "nodejs-18.14.2-2.module+el8.8.0+18257+ab32e5c7.src.rpm"
    assert meta["size"] == "0"
    assert len(meta["sha256header"]) == 64
    assert len(meta["sha1header"]) == 40
    assert meta["payloaddigest"].startswith("sha256:")
    assert len(meta["payloaddigest"]) == len("sha256:") + 64
    assert len(meta["sigmd5"]) == 32


def test_package_without_epoch_has_no_epoch_metadata() -> None:
    hello = by_name(catalog("bdb"))["hello"]
    assert hello.meta("epoch") is None
    assert hello.meta("size") == "14"  # the one 14-byte README it ships
    assert hello.meta("vendor") == "Fedora Project"


def test_metadata_is_identical_across_formats() -> None:
    """Same header blobs in every container, so every field must match exactly."""

    def strip(result: CatalogResult) -> list[Package]:
        return [replace(p, locations=()) for p in result.packages]

    reference = strip(catalog("sqlite"))
    for case in CASES:
        assert strip(catalog(case)) == reference


def test_purl_without_distro() -> None:
    pkgs = by_name(catalog("ndb"))
    # Syft writes the source rpm file name as `upstream`, even when the names match
    assert pkgs["hello"].purl == (
        "pkg:rpm/hello@2.12-1.fc40?arch=x86_64&upstream=hello-2.12-1.fc40.src.rpm"
    )
    # the epoch is a qualifier, not part of the purl version
    assert pkgs["bind-libs"].purl.startswith("pkg:rpm/bind-libs@9.16.23-14.el9_3?")
    assert "epoch=32" in pkgs["bind-libs"].purl
    assert "arch=x86_64" in pkgs["bind-libs"].purl
    assert "epoch=0" in pkgs["crypto-policies"].purl


def test_purl_with_distro() -> None:
    tz = by_name(catalog("sqlite"))["tzdata"]
    rhel = replace(tz, distro=Distro(id="rhel", version_id="9.3"))
    assert rhel.purl.startswith("pkg:rpm/")
    assert "distro=rhel-9.3" in rhel.purl
    assert "arch=noarch" in rhel.purl


# --- source rpm names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sourcerpm", "expected"),
    [
        ("bash-5.1.8-6.el9.src.rpm", ("bash", "5.1.8-6.el9")),
        ("python-setuptools-53.0.0-12.el9.src.rpm", ("python-setuptools", "53.0.0-12.el9")),
        ("glibc-2.34-60.el9_2.7.src.rpm", ("glibc", "2.34-60.el9_2.7")),
        ("kernel-5.14.0-362.8.1.el9_3.nosrc.rpm", ("kernel", "5.14.0-362.8.1.el9_3")),
        (
            "nodejs-18.14.2-2.module+el8.8.0+18257+ab32e5c7.src.rpm",
            ("nodejs", "18.14.2-2.module+el8.8.0+18257+ab32e5c7"),
        ),
    ],
)
def test_split_source_rpm(sourcerpm: str, expected: tuple[str, str]) -> None:
    assert split_source_rpm(sourcerpm) == expected


@pytest.mark.parametrize(
    "sourcerpm",
    ["(none)", "", "bash.src.rpm", "bash-5.1.src.rpm", "-1-2.src.rpm", "a--2.src.rpm", "x.rpm"],
)
def test_split_source_rpm_rejects_malformed(sourcerpm: str) -> None:
    assert split_source_rpm(sourcerpm) is None


# --- malformed input is data ---------------------------------------------------------------


def test_unrecognised_file_is_one_unknown() -> None:
    result = parse_rpmdb(b"\x00" * 4096, "/var/lib/rpm/Packages")
    assert result.packages == ()
    assert len(result.unknowns) == 1
    u = result.unknowns[0]
    assert u.path == "/var/lib/rpm/Packages"
    assert u.cataloger == "os/rpm"
    assert u.reason.startswith("not an rpm database: unrecognised format")


def test_empty_file_is_one_unknown() -> None:
    result = parse_rpmdb(b"", "/var/lib/rpm/rpmdb.sqlite")
    assert result.packages == ()
    assert len(result.unknowns) == 1


@pytest.mark.parametrize("case", list(CASES))
def test_truncated_database_is_unknown_not_crash(case: str) -> None:
    data, path = read(case)
    result = parse_rpmdb(data[: len(data) // 2], path)
    assert result.unknowns, case
    assert all("\n" not in u.reason for u in result.unknowns)


def test_bad_header_spoils_only_its_record() -> None:
    """Corrupt one header blob inside the NDB file: one Unknown, the others still listed."""
    import struct
    import zlib

    data = bytearray((DATA / "ndb" / "Packages.db").read_bytes())
    # first used slot -> its blob; overwrite the header's il with 0 and fix the checksum
    _, pkgidx, blkoff, blkcnt = struct.unpack_from("<4sIII", data, 32)
    start = blkoff * 16
    struct.pack_into(">I", data, start + 16, 0)
    tail = start + blkcnt * 16 - 12
    struct.pack_into("<I", data, tail, zlib.adler32(bytes(data[start:tail])))
    result = parse_rpmdb(bytes(data), "/usr/lib/sysimage/rpm/Packages.db")
    assert len(result.unknowns) == 1
    assert result.unknowns[0].reason.startswith(f"record {pkgidx}: header index count 0")
    assert len(result.packages) in (len(EXPECTED) - 1, len(EXPECTED))


def test_unknowns_are_capped() -> None:
    """A Berkeley DB file whose every record is bad gives at most MAX_UNKNOWNS + 1 lines."""
    import sqlite3

    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB)")
    con.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b"junk",)] * (MAX_UNKNOWNS + 7))
    con.commit()
    result = parse_rpmdb(con.serialize(), "/var/lib/rpm/rpmdb.sqlite")
    assert result.packages == ()
    assert len(result.unknowns) == MAX_UNKNOWNS + 1
    assert result.unknowns[-1].reason == "7 more unreadable records"


def test_header_without_name_or_version() -> None:
    blob = (DATA / "headers" / "hello.hdr").read_bytes()
    h = parse_header(blob)
    assert package_from_header(h, "/x") is not None
    no_name = blob.replace(b"\x00\x00\x03\xe8", b"\x00\x00\x7f\xe8", 1)  # retag NAME (1000)
    with pytest.raises(HeaderError, match="no NAME"):
        package_from_header(parse_header(no_name), "/x")
    no_version = blob.replace(b"\x00\x00\x03\xe9", b"\x00\x00\x7f\xe9", 1)  # retag VERSION
    with pytest.raises(HeaderError, match="'hello': header has no VERSION"):
        package_from_header(parse_header(no_version), "/x")


@settings(max_examples=150, deadline=None)
@given(
    case=st.sampled_from(["bdb", "bdb_big_endian", "ndb", "bdb_on_page_items"]),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=12),
    cut=st.one_of(st.none(), st.integers(0, 1 << 20)),
)
def test_fuzz_corrupted_databases_never_raise(
    case: str, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data, path = read(case)
    buf = bytearray(data)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    if cut is not None:
        del buf[cut % (len(buf) + 1) :]
    result = parse_rpmdb(bytes(buf), path)
    assert isinstance(result, CatalogResult)
    for u in result.unknowns:
        assert u.reason and "\n" not in u.reason
    for p in result.packages:
        assert p.name and p.version


@settings(max_examples=40, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 18), st.integers(0, 255)), max_size=8))
def test_fuzz_corrupted_sqlite_never_raises(edits: list[tuple[int, int]]) -> None:
    data, path = read("sqlite")
    buf = bytearray(data)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    result = parse_rpmdb(bytes(buf), path)
    for u in result.unknowns:
        assert u.reason and "\n" not in u.reason


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2048))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    for prefix in (b"", b"RpmP", b"SQLite format 3\x00", b"\0" * 12 + b"\x61\x15\x06\x00"):
        result = parse_rpmdb(prefix + data, "/var/lib/rpm/Packages")
        assert result.packages == ()
        assert len(result.unknowns) >= 1
