"""`Packages` (rpm <= 4.15 default): a Berkeley DB hash database, read without libdb.

Layout, as rpm's read-only reader (lib/backend/bdb_ro.c) sees it:

* page 0 is the hash metadata page: magic 0x061561 at offset 12 (its byte order is the
  database's), hash version 8-10, page size, last page number, the highest bucket in use
  and `spares`, which maps a bucket to its page: ``bucket + spares[bit_length(bucket)]``;
* every page starts with a 26-byte header: page number (8), previous/next page (12/16),
  item count (20), high free offset (22), page type (25);
* a bucket is a chain of hash pages (type 13, or 2 for the unsorted pages of older
  databases) linked by next page; a hash page's items alternate key, data, each found
  through a 2-byte offset table after the header, stored from the end of the page down;
* an item is KEYDATA (type 1, the bytes follow) or OFFPAGE (type 3: first page and total
  length of a chain of overflow pages, type 7, each holding `high free offset` bytes).

rpm's keys are header numbers as 4-byte integers in the writer's byte order; key 0 holds
the next free number, not a header. Every page number is checked against the file, every
chain is walked at most once (a cycle or a page shared by two records is an error), so a
hostile file costs at most one pass over its pages.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from shoal.catalog.rpmdb.errors import BadRecord, RpmDbError

HASH_MAGIC = 0x061561
BTREE_MAGIC = 0x053162
_PAGE_HEADER = 26
_P_HASH_UNSORTED, _P_OVERFLOW, _P_HASHMETA, _P_HASH = 2, 7, 8, 13
# bdb_ro also accepts type 8 for bucket pages written by old (hash version 8) databases
_HASH_PAGE_TYPES = frozenset({_P_HASH_UNSORTED, _P_HASHMETA, _P_HASH})
_H_KEYDATA, _H_DUPLICATE, _H_OFFPAGE, _H_OFFDUP = 1, 2, 3, 4
_DBMETA_CHKSUM = 0x01


def is_bdb_hash(head: bytes) -> bool:
    """True if `head` (at least 16 bytes) starts a Berkeley DB hash file, either byte order."""
    if len(head) < 16:
        return False
    return HASH_MAGIC in struct.unpack_from("<I", head, 12) + struct.unpack_from(">I", head, 12)


@dataclass(frozen=True, slots=True)
class _Meta:
    order: str  # struct byte order of the database: "<" or ">"
    pagesize: int
    npages: int
    max_bucket: int
    spares: tuple[int, ...]


def read_bdb(data: bytes, *, max_record: int) -> Iterator[tuple[int, bytes] | BadRecord]:
    """Yield `(hnum, blob)` for every record, bucket by bucket.

    A record whose overflow chain is broken or longer than `max_record` bytes gives a
    `BadRecord`; a broken bucket chain or metadata page raises `RpmDbError` (the records
    yielded before it stand).
    """
    meta = _read_meta(data)
    reader = _Reader(data, meta, max_record)
    yield from reader.records()


def _read_meta(data: bytes) -> _Meta:
    if len(data) < 512:
        raise RpmDbError(f"Berkeley DB file of {len(data)} bytes is shorter than its meta page")
    le, be = struct.unpack_from("<I", data, 12)[0], struct.unpack_from(">I", data, 12)[0]
    if BTREE_MAGIC in (le, be):
        raise RpmDbError("Berkeley DB btree database; rpm's Packages is a hash database")
    if HASH_MAGIC not in (le, be):
        raise RpmDbError(f"not a Berkeley DB hash database: magic {le:#x} at offset 12")
    order = "<" if le == HASH_MAGIC else ">"
    version, pagesize = struct.unpack_from(order + "II", data, 16)
    encrypt, ptype, metaflags = data[24], data[25], data[26]
    (last_pgno,) = struct.unpack_from(order + "I", data, 32)
    max_bucket, _high_mask, _low_mask = struct.unpack_from(order + "III", data, 72)
    spares = struct.unpack_from(order + "32I", data, 96)
    if not 8 <= version <= 10:
        raise RpmDbError(f"Berkeley DB hash version {version} unsupported (8-10 are)")
    if pagesize < 512 or pagesize > 65536 or pagesize & (pagesize - 1):
        raise RpmDbError(f"Berkeley DB page size {pagesize} is not a power of two in 512..65536")
    if ptype != _P_HASHMETA:
        raise RpmDbError(f"Berkeley DB meta page has type {ptype}, expected {_P_HASHMETA}")
    if encrypt:
        raise RpmDbError("Berkeley DB database is encrypted")
    if metaflags & _DBMETA_CHKSUM:
        # checksummed pages carry the checksum after the page header, moving every item
        raise RpmDbError("Berkeley DB database has page checksums, which rpm never enables")
    npages = len(data) // pagesize
    if last_pgno + 1 > npages:
        raise RpmDbError(
            f"Berkeley DB truncated: last page {last_pgno} but the file holds {npages} pages"
        )
    if max_bucket >= npages:
        raise RpmDbError(f"Berkeley DB claims {max_bucket + 1} buckets in {npages} pages")
    return _Meta(order, pagesize, last_pgno + 1, max_bucket, spares)


class _Reader:
    def __init__(self, data: bytes, meta: _Meta, max_record: int) -> None:
        self.data = data
        self.meta = meta
        self.max_record = max_record
        self.u16 = struct.Struct(meta.order + "H")
        self.u32 = struct.Struct(meta.order + "I")
        self.seen: set[int] = set()  # every page visited, hash and overflow alike

    def page(self, pgno: int, what: str) -> memoryview:
        if pgno == 0 or pgno >= self.meta.npages:
            raise _PageError(f"{what}: page {pgno} outside pages 1..{self.meta.npages - 1}")
        if pgno in self.seen:
            raise _PageError(f"{what}: page {pgno} reached twice (cycle or shared page)")
        self.seen.add(pgno)
        size = self.meta.pagesize
        page = memoryview(self.data)[pgno * size : (pgno + 1) * size]
        if self.u32.unpack_from(page, 8)[0] != pgno:
            raise _PageError(f"{what}: page {pgno} is labelled {self.u32.unpack_from(page, 8)[0]}")
        return page

    def records(self) -> Iterator[tuple[int, bytes] | BadRecord]:
        for bucket in range(self.meta.max_bucket + 1):
            pgno = bucket + self.meta.spares[bucket.bit_length()]
            while pgno:
                try:
                    page = self.page(pgno, f"bucket {bucket}")
                except _PageError as err:
                    raise RpmDbError(f"Berkeley DB {err}") from None
                if page[25] not in _HASH_PAGE_TYPES:
                    raise RpmDbError(
                        f"Berkeley DB bucket {bucket}: page {pgno} has type {page[25]}, not hash"
                    )
                yield from self.items(page, pgno)
                pgno = self.u32.unpack_from(page, 16)[0]

    def items(self, page: memoryview, pgno: int) -> Iterator[tuple[int, bytes] | BadRecord]:
        size = self.meta.pagesize
        (count,) = self.u16.unpack_from(page, 20)
        table_end = _PAGE_HEADER + 2 * count
        if table_end > size or count % 2:
            raise RpmDbError(f"Berkeley DB page {pgno}: invalid item count {count}")
        offsets = [self.u16.unpack_from(page, _PAGE_HEADER + 2 * i)[0] for i in range(count)]
        for i in range(0, count, 2):
            ends = (size if i == 0 else offsets[i - 1], offsets[i])
            spans = ((offsets[i], ends[0]), (offsets[i + 1], ends[1]))
            if any(not table_end <= start < end <= size for start, end in spans):
                raise RpmDbError(f"Berkeley DB page {pgno}: item {i} overlaps or leaves the page")
            where = f"page {pgno} item {i}"
            try:
                key = self.item(page, *spans[0], where, 16)
            except _PageError as err:
                yield BadRecord(-1, f"Berkeley DB key at {err}")
                continue
            if len(key) != 4:
                yield BadRecord(-1, f"Berkeley DB {where}: {len(key)}-byte key, expected 4")
                continue
            (hnum,) = self.u32.unpack(key)
            try:
                value = self.item(page, *spans[1], f"record {hnum} ({where})", self.max_record)
            except _PageError as err:
                yield BadRecord(hnum, f"Berkeley DB {err}")
                continue
            if hnum != 0:  # key 0: rpm's next-instance counter
                yield hnum, value

    def item(self, page: memoryview, start: int, end: int, where: str, limit: int) -> bytes:
        kind = page[start]
        if kind == _H_KEYDATA:
            if end - start - 1 > limit:
                raise _PageError(f"{where}: {end - start - 1} bytes exceed {limit}")
            return bytes(page[start + 1 : end])
        if kind == _H_OFFPAGE:
            if end - start != 12:
                raise _PageError(f"{where}: off-page item of {end - start} bytes, expected 12")
            first, total = (
                self.u32.unpack_from(page, start + 4)[0],
                self.u32.unpack_from(page, start + 8)[0],
            )
            return self.overflow(first, total, where, limit)
        if kind in (_H_DUPLICATE, _H_OFFDUP):
            raise _PageError(f"{where}: duplicate data sets, which rpm never stores")
        raise _PageError(f"{where}: unknown item type {kind}")

    def overflow(self, pgno: int, total: int, where: str, limit: int) -> bytes:
        if total == 0 or total > limit:
            raise _PageError(f"{where}: overflow length {total} outside 1..{limit}")
        out = bytearray()
        while len(out) < total:
            page = self.page(pgno, f"{where} overflow chain")
            if page[25] != _P_OVERFLOW:
                raise _PageError(f"{where}: page {pgno} has type {page[25]}, not overflow")
            (used,) = self.u16.unpack_from(page, 22)
            if _PAGE_HEADER + used > self.meta.pagesize or len(out) + used > total or not used:
                raise _PageError(f"{where}: overflow page {pgno} holds {used} bytes")
            out += page[_PAGE_HEADER : _PAGE_HEADER + used]
            (pgno,) = self.u32.unpack_from(page, 16)
            if len(out) < total and not pgno:
                raise _PageError(f"{where}: overflow chain ends after {len(out)} of {total} bytes")
        return bytes(out)


class _PageError(Exception):
    """A page-level problem; the caller decides whether it spoils a record or the db."""
