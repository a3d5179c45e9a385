"""`Packages.db` (SUSE): rpm's "new database" blob store, lib/backend/ndb/rpmpkg.c.

All integers are little-endian. The file is a sequence of 16-byte blocks::

    header   "RpmP", version 0, generation, slot page count, next package index  (32 bytes)
    slots    slot pages of 4096 bytes (the first one starts after the header), 16 bytes
             per slot: "Slot", package index, block offset, block count; offset 0 = free
    blobs    at a slot's block offset: "BlbS", package index, timestamp, length, the
             header blob, zero padding to the block count, then adler32 (of everything
             before it), length, "BlbE"

A slot pointing outside the file or into the slot pages, or two slots sharing blocks, make
the database unreadable, as they do for rpm; a blob whose magic, index, length or checksum
is wrong spoils only its own package.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from shoal.catalog.rpmdb.errors import BadRecord, RpmDbError

MAGIC = b"RpmP"
_SLOT_MAGIC = b"Slot"
_BLOB_HEAD_MAGIC = b"BlbS"
_BLOB_TAIL_MAGIC = b"BlbE"
_PAGE = 4096
_BLK = 16
_HEADER = 32
_BLOB_HEAD = 16
_BLOB_TAIL = 12
# rpm adds a slot page only when all slots are used, so a real database has
# ceil(packages / 256) of them; this allows half a million packages.
MAX_SLOT_PAGES = 2048


def read_ndb(data: bytes, *, max_record: int) -> Iterator[tuple[int, bytes] | BadRecord]:
    """Yield `(package index, blob)` for every used slot, in slot order."""
    if len(data) < _HEADER or not data.startswith(MAGIC):
        raise RpmDbError("not an rpm NDB package database: bad magic")
    version, _generation, slotnpages, _nextpkgidx = struct.unpack_from("<IIII", data, 4)
    if version != 0:
        raise RpmDbError(f"rpm NDB version {version} unsupported (0 is)")
    if slotnpages > MAX_SLOT_PAGES:
        raise RpmDbError(f"rpm NDB claims {slotnpages} slot pages, more than {MAX_SLOT_PAGES}")
    if slotnpages == 0 or slotnpages * _PAGE > len(data):
        raise RpmDbError(f"rpm NDB claims {slotnpages} slot pages in a {len(data)}-byte file")
    if len(data) % _BLK:
        raise RpmDbError(f"rpm NDB size {len(data)} is not a multiple of {_BLK}-byte blocks")
    fileblks = len(data) // _BLK
    first_blob_blk = slotnpages * _PAGE // _BLK
    slots: list[tuple[int, int, int, int]] = []  # slot number, pkgidx, blkoff, blkcnt
    table = memoryview(data)[_HEADER : slotnpages * _PAGE]
    for slotno, (magic, pkgidx, blkoff, blkcnt) in enumerate(
        struct.iter_unpack("<4sIII", table), start=_HEADER // 16
    ):
        if magic != _SLOT_MAGIC:
            raise RpmDbError(f"rpm NDB slot {slotno}: bad magic {magic!r}")
        if blkoff == 0:
            continue  # free slot
        if pkgidx == 0 or blkcnt == 0 or blkoff < first_blob_blk or blkoff + blkcnt > fileblks:
            raise RpmDbError(
                f"rpm NDB slot {slotno}: package {pkgidx} at blocks {blkoff}+{blkcnt} "
                f"outside blocks {first_blob_blk}..{fileblks}"
            )
        slots.append((slotno, pkgidx, blkoff, blkcnt))
    _check_overlaps(slots)
    for _slotno, pkgidx, blkoff, blkcnt in slots:
        reason = None
        blob = b""
        try:
            blob = _read_blob(data, pkgidx, blkoff, blkcnt, max_record)
        except _BlobError as err:
            reason = str(err)
        yield BadRecord(pkgidx, f"rpm NDB package {pkgidx}: {reason}") if reason else (pkgidx, blob)


def _check_overlaps(slots: list[tuple[int, int, int, int]]) -> None:
    seen: set[int] = set()
    end = 0
    for slotno, pkgidx, blkoff, blkcnt in sorted(slots, key=lambda s: s[2]):
        if blkoff < end:
            raise RpmDbError(f"rpm NDB slot {slotno}: package {pkgidx} overlaps another blob")
        if pkgidx in seen:
            raise RpmDbError(f"rpm NDB slot {slotno}: package index {pkgidx} used twice")
        seen.add(pkgidx)
        end = blkoff + blkcnt


class _BlobError(Exception):
    pass


def _read_blob(data: bytes, pkgidx: int, blkoff: int, blkcnt: int, max_record: int) -> bytes:
    start = blkoff * _BLK
    magic, idx, _tstamp, length = struct.unpack_from("<4sIII", data, start)
    if magic != _BLOB_HEAD_MAGIC:
        raise _BlobError(f"bad blob magic {magic!r} at block {blkoff}")
    if idx != pkgidx:
        raise _BlobError(f"blob at block {blkoff} belongs to package {idx}")
    if length > max_record:
        raise _BlobError(f"{length}-byte header exceeds {max_record}")
    if blkcnt != (_BLOB_HEAD + length + _BLOB_TAIL + _BLK - 1) // _BLK:
        raise _BlobError(f"blob of {length} bytes does not fill its {blkcnt} blocks")
    tail = start + blkcnt * _BLK - _BLOB_TAIL
    adler, tail_len, tail_magic = struct.unpack_from("<II4s", data, tail)
    if tail_magic != _BLOB_TAIL_MAGIC or tail_len != length:
        raise _BlobError(f"bad blob trailer at block {blkoff}")
    # rpm itself checks the checksum only when it moves blobs; checking it here turns a
    # torn write into an Unknown instead of a half-parsed header
    if zlib.adler32(memoryview(data)[start:tail]) != adler:
        raise _BlobError("blob checksum mismatch")
    return data[start + _BLOB_HEAD : start + _BLOB_HEAD + length]
