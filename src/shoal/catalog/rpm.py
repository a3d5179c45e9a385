"""Red Hat, Fedora, SUSE and other rpm-based images: the rpm package database.

rpm has kept its database in three formats, all read here without rpm or libdb:

* `rpmdb.sqlite` (rpm >= 4.16: Fedora 33+, RHEL 9, Amazon Linux 2023, Azure Linux);
* `Packages`, Berkeley DB hash (RHEL/CentOS <= 8, Amazon Linux 2, older SUSE);
* `Packages.db`, rpm's NDB blob store (openSUSE/SLE 15.3+),

under `/var/lib/rpm/` or, on newer distributions, `/usr/lib/sysimage/rpm/`. The format is
told by the file's magic rather than its name. Each record is one rpm header blob; the
package is read from it as Syft reads it: version `[epoch:]version-release`, the epoch only
when the header has one (an explicit 0 stays), the source package split from SOURCERPM,
and the licence string as the packager wrote it. `gpg-pubkey` records are the keys rpm
trusts, not packages, and are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from shoal.catalog._support import Problems
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.catalog.rpmdb.bdb import is_bdb_hash, read_bdb
from shoal.catalog.rpmdb.errors import BadRecord, HeaderError, RpmDbError
from shoal.catalog.rpmdb.header import Header, Tag, parse_header
from shoal.catalog.rpmdb.ndb import MAGIC as NDB_MAGIC
from shoal.catalog.rpmdb.ndb import read_ndb
from shoal.catalog.rpmdb.sqlite import MAGIC as SQLITE_MAGIC
from shoal.catalog.rpmdb.sqlite import read_sqlite
from shoal.config import Limits
from shoal.model import CatalogResult, Location, Package, PackageType

NAME = "os/rpm"

_DB_DIRS = ("/var/lib/rpm/", "/usr/lib/sysimage/rpm/")
_DB_FILES = ("rpmdb.sqlite", "Packages", "Packages.db")
DB_PATHS = frozenset(d + f for d in _DB_DIRS for f in _DB_FILES)

MAX_RECORD = int(Limits.model_fields["metadata_bytes"].default)
# A hostile database can have a problem in every record; past this many, one summary.
MAX_UNKNOWNS = 100

# PAYLOADDIGESTALGO values are OpenPGP hash algorithm ids (RFC 4880 9.4)
_DIGEST_ALGOS = {1: "md5", 2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}

Reader = Callable[..., Iterator[tuple[int, bytes] | BadRecord]]


class RpmCataloger(Cataloger):
    """Installed rpm packages (`os/rpm`) from any of rpm's three database formats."""

    name = NAME
    version = 1

    def __init__(self, max_record: int = MAX_RECORD) -> None:
        self.max_record = max_record

    def wants(self, entry: FileEntry) -> bool:
        return entry.path in DB_PATHS

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_rpmdb(f.data, f.path, max_record=self.max_record)


def parse_rpmdb(data: bytes, path: str, *, max_record: int = MAX_RECORD) -> CatalogResult:
    """Packages of an rpm database in any format; problems come back as `Unknown`s."""
    reader = _reader_for(data)
    if reader is None:
        return CatalogResult.failed(
            path, NAME, f"not an rpm database: unrecognised format (first bytes {data[:16]!r})"
        )
    found: list[tuple[int, Package]] = []
    problems = Problems(NAME, MAX_UNKNOWNS, more="more unreadable records")
    try:
        for record in reader(data, max_record=max_record):
            if isinstance(record, BadRecord):
                problems.append(record.reason)
                continue
            hnum, blob = record
            try:
                pkg = package_from_header(parse_header(blob), path)
            except HeaderError as err:
                problems.append(f"record {hnum}: {err}")
                continue
            if pkg is not None:
                found.append((hnum, pkg))
    except RpmDbError as err:
        problems.append(str(err))
    found.sort(key=lambda item: item[0])  # header number order, whatever the format
    return CatalogResult(packages=tuple(pkg for _, pkg in found), unknowns=problems.unknowns(path))


def _reader_for(data: bytes) -> Reader | None:
    if data.startswith(SQLITE_MAGIC):
        return read_sqlite
    if data.startswith(NDB_MAGIC):
        return read_ndb
    if is_bdb_hash(data[:16]):
        return read_bdb
    return None


def package_from_header(h: Header, path: str) -> Package | None:
    """The package a header describes; None for a `gpg-pubkey` pseudo package.

    Raises `HeaderError` when NAME, VERSION or RELEASE is missing or a tag is malformed.
    """
    name = h.string(Tag.NAME)
    if not name:
        raise HeaderError("header has no NAME")
    if name == "gpg-pubkey":
        return None
    version = h.string(Tag.VERSION)
    release = h.string(Tag.RELEASE)
    if not version or not release:
        raise HeaderError(
            f"package {name!r}: header has no {'VERSION' if not version else 'RELEASE'}"
        )
    epoch = h.integer(Tag.EPOCH)
    arch = h.string(Tag.ARCH)
    sourcerpm = h.string(Tag.SOURCERPM, lenient=True)
    license_ = h.string(Tag.LICENSE, lenient=True)
    source = split_source_rpm(sourcerpm) if sourcerpm else None

    meta: list[tuple[str, str]] = []
    if epoch is not None:
        meta.append(("epoch", str(epoch)))
    meta.append(("release", release))
    for key, tag in (
        ("vendor", Tag.VENDOR),
        ("modularitylabel", Tag.MODULARITYLABEL),
    ):
        value = h.string(tag, lenient=True)
        if value:
            meta.append((key, value))
    if sourcerpm:
        meta.append(("sourcerpm", sourcerpm))
    size = h.integer(Tag.LONGSIZE)
    if size is None:
        size = h.integer(Tag.SIZE)
    if size is not None:
        meta.append(("size", str(size)))
    meta.extend(_digests(h))

    full_version = f"{version}-{release}"
    return Package(
        name=name,
        version=f"{epoch}:{full_version}" if epoch is not None else full_version,
        type=PackageType.RPM,
        cataloger=NAME,
        locations=(Location(path=path),),
        licenses=(license_,) if license_ else (),
        arch=arch or None,
        source_name=source[0] if source else None,
        source_version=source[1] if source else None,
        metadata=tuple(meta),
    )


def _digests(h: Header) -> Iterator[tuple[str, str]]:
    for key, tag in (("sha256header", Tag.SHA256HEADER), ("sha1header", Tag.SHA1HEADER)):
        value = h.string(tag)
        if value:
            yield key, value
    payload = h.string(Tag.PAYLOADDIGEST)
    if payload:
        algo = _DIGEST_ALGOS.get(h.integer(Tag.PAYLOADDIGESTALGO) or 0)
        yield "payloaddigest", f"{algo}:{payload}" if algo else payload
    md5 = h.binary(Tag.SIGMD5)
    if md5:
        yield "sigmd5", md5.hex()


def split_source_rpm(sourcerpm: str) -> tuple[str, str] | None:
    """`bind-9.16.23-14.el9.src.rpm` -> ("bind", "9.16.23-14.el9"); None if not of that form.

    Split from the right: names contain dashes, versions and releases cannot.
    """
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if sourcerpm.endswith(suffix):
            stem = sourcerpm[: -len(suffix)]
            break
    else:
        return None
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], f"{parts[1]}-{parts[2]}"
