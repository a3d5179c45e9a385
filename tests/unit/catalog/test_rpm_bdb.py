"""Berkeley DB hash `Packages` files written by db5.3_load (and read back by rpm's bdb_ro
when generated), then corrupted page by page."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.rpmdb.bdb import is_bdb_hash, read_bdb
from shoal.catalog.rpmdb.errors import BadRecord, RpmDbError
from shoal.catalog.rpmdb.sqlite import read_sqlite

DATA = Path(__file__).parent / "testdata" / "rpm"
BIG = 1 << 26

FILES = {  # name -> (path, struct byte order, page size)
    "le": ("bdb/Packages", "<", 4096),
    "be": ("bdb-be/Packages", ">", 512),
    "bigpage": ("bdb-bigpage/Packages", "<", 16384),
}


def load(name: str) -> bytearray:
    return bytearray((DATA / FILES[name][0]).read_bytes())


def records(data: bytes | bytearray, max_record: int = BIG) -> list[tuple[int, bytes] | BadRecord]:
    return list(read_bdb(bytes(data), max_record=max_record))


def sqlite_blobs() -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for rec in read_sqlite((DATA / "sqlite" / "rpmdb.sqlite").read_bytes(), max_record=BIG):
        assert not isinstance(rec, BadRecord)
        out[rec[0]] = rec[1]
    return out


def pages(name: str, data: bytearray) -> list[tuple[int, int, int]]:
    """(page number, type, next page) of every page."""
    _, order, size = FILES[name]
    return [
        (i, data[i * size + 25], struct.unpack_from(order + "I", data, i * size + 16)[0])
        for i in range(len(data) // size)
    ]


def set_u32(name: str, data: bytearray, offset: int, value: int) -> None:
    struct.pack_into(FILES[name][1] + "I", data, offset, value)


def set_u16(name: str, data: bytearray, offset: int, value: int) -> None:
    struct.pack_into(FILES[name][1] + "H", data, offset, value)


def good_and_bad(
    recs: list[tuple[int, bytes] | BadRecord],
) -> tuple[dict[int, bytes], list[BadRecord]]:
    good = {r[0]: r[1] for r in recs if not isinstance(r, BadRecord)}
    return good, [r for r in recs if isinstance(r, BadRecord)]


# --- real files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["le", "be", "bigpage"])
def test_records_match_the_blobs_rpm_stored(name: str) -> None:
    good, bad = good_and_bad(records(load(name)))
    assert bad == []
    assert good == sqlite_blobs()  # key 0 (rpm's next-instance counter) is not a record


def chained(name: str) -> bytearray:
    """The file with its two buckets made one: bucket 0 is page 1 then page 2.

    db5.3_load splits buckets before they outgrow a page, so small files never chain;
    iteration does not care which bucket a key hashes to, so this is a real chain to it.
    """
    data = load(name)
    _, order, size = FILES[name]
    assert pages(name, data)[1:3] == [(1, 13, 0), (2, 13, 0)]
    struct.pack_into(order + "I", data, 72, 0)  # max_bucket
    struct.pack_into(order + "I", data, size + 16, 2)  # page 1 -> page 2
    struct.pack_into(order + "I", data, 2 * size + 12, 1)  # page 2 <- page 1
    return data


@pytest.mark.parametrize("name", ["le", "be", "bigpage"])
def test_chained_bucket_yields_every_record(name: str) -> None:
    good, bad = good_and_bad(records(chained(name)))
    assert bad == []
    assert good == sqlite_blobs()


def test_fixture_shapes() -> None:
    """The three layouts really differ: single overflow pages, multi-page overflow chains,
    and items stored on the hash pages themselves."""
    le = pages("le", load("le"))
    assert all(t == 7 and nxt == 0 for _, t, nxt in le[3:])
    be = pages("be", load("be"))
    assert any(t == 7 and nxt != 0 for _, t, nxt in be)
    assert {t for _, t, _ in pages("bigpage", load("bigpage"))} == {8, 13}


def test_is_bdb_hash() -> None:
    assert is_bdb_hash(bytes(load("le")[:16]))
    assert is_bdb_hash(bytes(load("be")[:16]))
    assert not is_bdb_hash(b"\0" * 12 + struct.pack("<I", 0x053162))  # btree
    assert not is_bdb_hash(b"SQLite format 3\0")
    assert not is_bdb_hash(b"\0" * 15)


# --- metadata page -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (12, "I", 0x053162, "btree database"),
        (12, "I", 0x12345678, "not a Berkeley DB hash database"),
        (16, "I", 7, "hash version 7 unsupported"),
        (20, "I", 1000, "page size 1000 is not a power of two"),
        (20, "I", 256, "page size 256"),
        (20, "I", 1 << 17, "page size 131072"),
        (24, "B", 1, "encrypted"),
        (25, "B", 9, "meta page has type 9"),
        (26, "B", 1, "page checksums"),
        (32, "I", 99, "truncated: last page 99 but the file holds 10 pages"),
        (72, "I", 1000, "claims 1001 buckets in 10 pages"),
    ],
)
def test_bad_metadata_page(offset: int, fmt: str, value: int, message: str) -> None:
    data = load("le")
    struct.pack_into("<" + fmt, data, offset, value)
    with pytest.raises(RpmDbError, match=message):
        records(data)


def test_file_shorter_than_meta_page() -> None:
    with pytest.raises(RpmDbError, match="shorter than its meta page"):
        records(load("le")[:511])


def test_truncated_file() -> None:
    with pytest.raises(RpmDbError, match="truncated"):
        records(load("be")[:-512])


# --- bucket pages --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["le", "be"])
def test_bucket_chain_cycle_is_detected(name: str) -> None:
    data = chained(name)
    set_u32(name, data, 2 * FILES[name][2] + 16, 1)  # page 2 -> page 1 again
    got: list[tuple[int, bytes] | BadRecord] = []
    with pytest.raises(RpmDbError, match="bucket 0: page 1 reached twice"):
        for rec in read_bdb(bytes(data), max_record=BIG):
            got.append(rec)
    assert len(got) == 7  # both pages were read once; what they held stands


def test_bucket_page_pointing_outside_the_file() -> None:
    data = load("le")
    set_u32("le", data, 4096 + 16, 10_000)
    with pytest.raises(RpmDbError, match=r"page 10000 outside pages 1\.\.9"):
        records(data)


def test_bucket_page_with_wrong_number() -> None:
    data = load("le")
    set_u32("le", data, 4096 + 8, 5)
    with pytest.raises(RpmDbError, match="page 1 is labelled 5"):
        records(data)


def test_bucket_page_of_wrong_type() -> None:
    data = load("le")
    data[4096 + 25] = 7
    with pytest.raises(RpmDbError, match="bucket 0: page 1 has type 7, not hash"):
        records(data)


def test_odd_item_count() -> None:
    data = load("le")
    set_u16("le", data, 4096 + 20, 3)
    with pytest.raises(RpmDbError, match="page 1: invalid item count 3"):
        records(data)


def test_item_count_beyond_page() -> None:
    data = load("le")
    set_u16("le", data, 4096 + 20, 4000)
    with pytest.raises(RpmDbError, match="invalid item count 4000"):
        records(data)


def test_item_offset_outside_page() -> None:
    data = load("le")
    set_u16("le", data, 4096 + 26, 2)  # inside the page header
    with pytest.raises(RpmDbError, match="item 0 overlaps or leaves the page"):
        records(data)


@pytest.mark.parametrize(
    ("kind", "message"), [(9, "unknown item type 9"), (2, "duplicate data sets")]
)
def test_unknown_item_type_spoils_one_record(kind: int, message: str) -> None:
    data = load("le")
    (value_off,) = struct.unpack_from("<H", data, 4096 + 28)  # item 1: first pair's data
    data[4096 + value_off] = kind
    good, bad = good_and_bad(records(data))
    assert len(bad) == 1
    assert message in bad[0].reason
    assert len(good) >= 6


def test_off_page_item_of_wrong_size() -> None:
    """An OFFPAGE item must be exactly 12 bytes; a KEYDATA item retyped as OFFPAGE isn't."""
    data = load("bigpage")
    (value_off,) = struct.unpack_from("<H", data, 16384 + 28)
    data[16384 + value_off] = 3
    _, bad = good_and_bad(records(data))
    assert len(bad) == 1
    assert "off-page item of" in bad[0].reason


# --- overflow chains -----------------------------------------------------------------------


def first_chained_overflow(data: bytearray) -> int:
    return next(p for p, t, nxt in pages("be", data) if t == 7 and nxt != 0)


def test_overflow_cycle_spoils_one_record() -> None:
    data = load("be")
    pgno = first_chained_overflow(data)
    set_u32("be", data, pgno * 512 + 16, pgno)
    good, bad = good_and_bad(records(data))
    assert len(bad) == 1
    assert f"page {pgno} reached twice" in bad[0].reason
    assert bad[0].hnum in range(1, 8)
    assert len(good) == 6


def test_overflow_chain_cut_short() -> None:
    data = load("be")
    pgno = first_chained_overflow(data)
    set_u32("be", data, pgno * 512 + 16, 0)
    _, bad = good_and_bad(records(data))
    assert len(bad) == 1
    assert "overflow chain ends after" in bad[0].reason


def test_overflow_page_of_wrong_type() -> None:
    data = load("be")
    pgno = first_chained_overflow(data)
    data[pgno * 512 + 25] = 13
    _, bad = good_and_bad(records(data))
    assert [b for b in bad if f"page {pgno} has type 13, not overflow" in b.reason]


def test_overflow_page_claiming_too_many_bytes() -> None:
    data = load("le")
    set_u16("le", data, 3 * 4096 + 22, 4090)
    _, bad = good_and_bad(records(data))
    assert len(bad) == 1
    assert "overflow page 3 holds 4090 bytes" in bad[0].reason


def test_overflow_shared_by_two_records() -> None:
    """Two items pointing at the same chain: the second is refused, so a hostile file
    cannot make the reader re-read one long chain for every item."""
    data = load("le")
    base = 4096
    (count,) = struct.unpack_from("<H", data, base + 20)
    offsets = [struct.unpack_from("<H", data, base + 26 + 2 * i)[0] for i in range(count)]
    off_page = [offsets[i] for i in range(1, count, 2) if data[base + offsets[i]] == 3]
    assert len(off_page) >= 2, "fixture must keep its headers on overflow pages"
    a, b = off_page[:2]
    data[base + b : base + b + 12] = data[base + a : base + a + 12]
    _, bad = good_and_bad(records(data))
    assert len(bad) == 1
    assert "reached twice" in bad[0].reason


def test_record_over_the_size_limit() -> None:
    good, bad = good_and_bad(records(load("le"), max_record=1500))
    assert all(len(blob) <= 1500 for blob in good.values())
    assert bad and all("outside 1..1500" in b.reason for b in bad)
    assert len(good) + len(bad) == 7  # key 0's counter is no record, whatever its size


def test_on_page_record_over_the_size_limit() -> None:
    good, bad = good_and_bad(records(load("bigpage"), max_record=1500))
    assert all(len(blob) <= 1500 for blob in good.values())
    assert bad and all("exceed 1500" in b.reason for b in bad)


# --- fuzzing -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(list(FILES)),
    edits=st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 63), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
)
def test_fuzz_page_headers(name: str, edits: list[tuple[int, int, int]]) -> None:
    """Corrupt the first 64 bytes of pages (headers, offset tables): never crash or hang."""
    data = load(name)
    size = FILES[name][2]
    for page, offset, value in edits:
        data[(page * size + offset) % len(data)] = value
    try:
        for rec in read_bdb(bytes(data), max_record=BIG):
            if isinstance(rec, BadRecord):
                assert "\n" not in rec.reason
            else:
                assert len(rec[1]) <= len(data)
    except RpmDbError as err:
        assert "\n" not in str(err)
