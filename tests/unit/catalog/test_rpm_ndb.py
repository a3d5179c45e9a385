"""rpm NDB `Packages.db`: the fixture holds the blobs rpm stored, laid out as rpmpkg.c
lays them out (Debian's rpm lacks the ndb backend), including a deleted package."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.rpmdb.errors import BadRecord, RpmDbError
from shoal.catalog.rpmdb.ndb import MAX_SLOT_PAGES, read_ndb
from shoal.catalog.rpmdb.sqlite import read_sqlite

DATA = Path(__file__).parent / "testdata" / "rpm"
BIG = 1 << 26


def load() -> bytearray:
    return bytearray((DATA / "ndb" / "Packages.db").read_bytes())


def records(data: bytes | bytearray, max_record: int = BIG) -> list[tuple[int, bytes] | BadRecord]:
    return list(read_ndb(bytes(data), max_record=max_record))


def slots(data: bytearray) -> list[tuple[int, int, int, int]]:
    """(slot number, pkgidx, blkoff, blkcnt) of the used slots of the first slot page."""
    out = []
    for slotno in range(2, 256):
        magic, pkgidx, blkoff, blkcnt = struct.unpack_from("<4sIII", data, slotno * 16)
        assert magic == b"Slot"
        if blkoff:
            out.append((slotno, pkgidx, blkoff, blkcnt))
    return out


def reseal(data: bytearray, blkoff: int, blkcnt: int) -> None:
    """Recompute a blob's adler32 after editing it, so only the intended fault remains."""
    start, tail = blkoff * 16, (blkoff + blkcnt) * 16 - 12
    struct.pack_into("<I", data, tail, zlib.adler32(bytes(data[start:tail])))


def test_records_match_the_blobs_rpm_stored() -> None:
    want: dict[int, bytes] = {}
    for rec in read_sqlite((DATA / "sqlite" / "rpmdb.sqlite").read_bytes(), max_record=BIG):
        assert not isinstance(rec, BadRecord)
        want[rec[0]] = rec[1]
    got = records(load())
    assert {r[0]: r[1] for r in got if not isinstance(r, BadRecord)} == want
    assert len(got) == len(want)


def test_deleted_package_leaves_a_free_slot_and_zeroed_blocks() -> None:
    data = load()
    used = slots(data)
    assert [s[0] for s in used] != list(range(2, 2 + len(used)))  # a hole in the slot table
    assert len(records(data)) == len(used) == 7
    gap_start = used[0][2] + used[0][3]
    assert used[1][2] > gap_start  # the deleted blob's blocks lie between
    assert not any(data[gap_start * 16 : used[1][2] * 16])


def test_second_slot_page() -> None:
    """rpm adds a slot page when 254 packages fill the first, moving the blobs up by a page;
    a package whose slot is on the second page is found like any other."""
    data = load()
    empty = struct.pack("<4sIII", b"Slot", 0, 0, 0) * 256
    out = bytearray(data[:4096]) + empty + data[4096:]
    struct.pack_into("<I", out, 12, 2)
    for slotno, _, blkoff, _ in slots(data):
        struct.pack_into("<I", out, slotno * 16 + 8, blkoff + 4096 // 16)
    last = slots(out)[-1][0]
    out[4096 + 5 * 16 : 4096 + 6 * 16] = out[last * 16 : (last + 1) * 16]
    out[last * 16 : (last + 1) * 16] = struct.pack("<4sIII", b"Slot", 0, 0, 0)
    assert len(slots(out)) == 6  # only six left on the first page
    assert sorted(records(out), key=repr) == sorted(records(data), key=repr)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (0, "4s", b"RpmQ", "bad magic"),
        (4, "I", 1, "version 1 unsupported"),
        (12, "I", 0, "claims 0 slot pages"),
        (12, "I", 5, "claims 5 slot pages in a 17504-byte file"),
        (12, "I", MAX_SLOT_PAGES + 1, f"more than {MAX_SLOT_PAGES}"),
    ],
)
def test_bad_file_header(offset: int, fmt: str, value: object, message: str) -> None:
    data = load()
    struct.pack_into("<" + fmt, data, offset, value)
    with pytest.raises(RpmDbError, match=message):
        records(data)


def test_short_file() -> None:
    with pytest.raises(RpmDbError, match="bad magic"):
        records(load()[:31])


def test_size_not_whole_blocks() -> None:
    with pytest.raises(RpmDbError, match="not a multiple of 16-byte blocks"):
        records(load() + b"\0")


def test_bad_slot_magic() -> None:
    data = load()
    data[5 * 16 : 5 * 16 + 4] = b"Slop"
    with pytest.raises(RpmDbError, match="slot 5: bad magic"):
        records(data)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (8, 10, "at blocks 10\\+"),  # inside the slot page
        (8, 100_000, "at blocks 100000\\+"),  # beyond the file
        (12, 100_000, "outside blocks"),  # count beyond the file
        (4, 0, "package 0 at blocks"),  # used slot without a package index
        (12, 0, "outside blocks"),  # no blocks
    ],
)
def test_slot_pointing_outside_the_blobs(field: int, value: int, message: str) -> None:
    data = load()
    slotno = slots(data)[0][0]
    struct.pack_into("<I", data, slotno * 16 + field, value)
    with pytest.raises(RpmDbError, match=message):
        records(data)


def test_overlapping_slots() -> None:
    data = load()
    (_, _, off_a, _), (b, *_rest) = slots(data)[:2]
    struct.pack_into("<I", data, b * 16 + 8, off_a + 1)
    with pytest.raises(RpmDbError, match="overlaps another blob"):
        records(data)


def test_package_index_used_twice() -> None:
    data = load()
    (_, idx_a, _, _), (b, *_rest) = slots(data)[:2]
    struct.pack_into("<I", data, b * 16 + 4, idx_a)
    with pytest.raises(RpmDbError, match=f"package index {idx_a} used twice"):
        records(data)


def blob_fault(edit: str) -> list[BadRecord]:
    data = load()
    _, pkgidx, blkoff, blkcnt = slots(data)[2]
    start, tail = blkoff * 16, (blkoff + blkcnt) * 16 - 12
    if edit == "head magic":
        data[start : start + 4] = b"BlbX"
    elif edit == "owner":
        struct.pack_into("<I", data, start + 4, pkgidx + 1000)
    elif edit == "length":
        struct.pack_into("<I", data, start + 12, 3)
    elif edit == "tail magic":
        data[tail + 8 : tail + 12] = b"BlbX"
    elif edit == "tail length":
        struct.pack_into("<I", data, tail + 4, 3)
    elif edit == "payload":
        data[start + 40] ^= 0xFF
    if edit not in ("payload", "tail magic", "tail length"):
        reseal(data, blkoff, blkcnt)
    got = records(data)
    assert sum(not isinstance(r, BadRecord) for r in got) == 6  # the others are fine
    return [r for r in got if isinstance(r, BadRecord)]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("head magic", "bad blob magic b'BlbX'"),
        ("owner", "belongs to package"),
        ("length", "blob of 3 bytes does not fill its"),
        ("tail magic", "bad blob trailer"),
        ("tail length", "bad blob trailer"),
        ("payload", "blob checksum mismatch"),
    ],
)
def test_bad_blob_spoils_only_its_package(edit: str, message: str) -> None:
    (bad,) = blob_fault(edit)
    assert message in bad.reason
    assert bad.reason.startswith(f"rpm NDB package {bad.hnum}: ")


def test_blob_over_the_size_limit() -> None:
    got = records(load(), max_record=1500)
    bad = [r for r in got if isinstance(r, BadRecord)]
    good = [r for r in got if not isinstance(r, BadRecord)]
    assert bad and all("header exceeds 1500" in b.reason for b in bad)
    assert good and all(len(r[1]) <= 1500 for r in good)


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=8),
    in_slots=st.booleans(),
)
def test_fuzz_never_crashes(edits: list[tuple[int, int]], in_slots: bool) -> None:
    data = load()
    for pos, value in edits:
        data[pos % (256 if in_slots else len(data))] = value
    try:
        for rec in read_ndb(bytes(data), max_record=BIG):
            if isinstance(rec, BadRecord):
                assert "\n" not in rec.reason
    except RpmDbError as err:
        assert "\n" not in str(err)
