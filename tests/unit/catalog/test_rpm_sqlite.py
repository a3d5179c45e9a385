"""`rpmdb.sqlite`: the real database rpm 4.18 wrote, and hostile hand-made ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.rpmdb import sqlite as rpm_sqlite
from shoal.catalog.rpmdb.errors import BadRecord, RpmDbError
from shoal.catalog.rpmdb.header import Tag, parse_header
from shoal.catalog.rpmdb.sqlite import read_sqlite

REAL = Path(__file__).parent / "testdata" / "rpm" / "sqlite" / "rpmdb.sqlite"
HELLO = Path(__file__).parent / "testdata" / "rpm" / "headers" / "hello.hdr"
BIG = 1 << 26
RPM_SCHEMA = "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"


def records(data: bytes, max_record: int = BIG) -> list[tuple[int, bytes] | BadRecord]:
    return list(read_sqlite(data, max_record=max_record))


def make_db(*statements: str, rows: list[tuple[object, object]] | None = None) -> bytes:
    con = sqlite3.connect(":memory:")
    for sql in statements:
        con.execute(sql)
    if rows:
        con.executemany("INSERT INTO Packages (hnum, blob) VALUES (?, ?)", rows)
    con.commit()
    data = con.serialize()
    con.close()
    return data


def test_real_database_in_wal_mode() -> None:
    data = REAL.read_bytes()
    assert data[18:20] == b"\x02\x02"  # rpm leaves it in WAL mode
    got = records(data)
    assert [r[0] for r in got if not isinstance(r, BadRecord)] == list(range(1, 8))
    names = {parse_header(r[1]).string(Tag.NAME) for r in got if not isinstance(r, BadRecord)}
    assert names == {
        "gpg-pubkey",
        "hello",
        "bind-libs",
        "nodejs",
        "tzdata",
        "crypto-policies",
        "zypper",
    }


def test_real_database_bytes_are_not_modified() -> None:
    data = REAL.read_bytes()
    records(data)
    assert data == REAL.read_bytes()


def test_rollback_journal_database() -> None:
    blob = HELLO.read_bytes()
    got = records(make_db(RPM_SCHEMA, rows=[(5, blob), (2, blob)]))
    assert got == [(2, blob), (5, blob)]  # hnum order


def test_empty_packages_table() -> None:
    assert records(make_db(RPM_SCHEMA)) == []


def test_no_packages_table() -> None:
    with pytest.raises(RpmDbError, match="has no Packages table"):
        records(make_db("CREATE TABLE Other (x)"))


def test_packages_view_is_never_queried() -> None:
    """A view could run anything; this one would never finish."""
    forever = (
        "CREATE VIEW Packages AS WITH RECURSIVE c(hnum, blob) AS "
        "(SELECT 1, x'00' UNION ALL SELECT hnum + 1, blob FROM c) SELECT * FROM c"
    )
    with pytest.raises(RpmDbError, match="Packages is not a plain table"):
        records(make_db(forever))


def test_packages_table_without_blob_column() -> None:
    with pytest.raises(RpmDbError, match="lacks column hnum or blob"):
        records(make_db("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, data BLOB)"))


def test_table_name_case_does_not_matter() -> None:
    blob = HELLO.read_bytes()
    data = make_db("CREATE TABLE packages (hnum INTEGER PRIMARY KEY, blob BLOB)", rows=[(1, blob)])
    assert records(data) == [(1, blob)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("text, not bytes", "record 1: blob column holds text, not a blob"),
        (None, "record 1: blob column holds null, not a blob"),
        (42, "record 1: blob column holds integer, not a blob"),
    ],
)
def test_rows_that_hold_no_blob(value: object, message: str) -> None:
    data = make_db(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob)",
        rows=[(1, value), (2, HELLO.read_bytes())],
    )
    got = records(data)
    assert got[0] == BadRecord(1, message)
    assert got[1] == (2, HELLO.read_bytes())


def test_non_integer_hnum() -> None:
    data = make_db("CREATE TABLE Packages (hnum, blob)", rows=[("one", b"x")])
    assert records(data) == [BadRecord(-1, "row with non-integer hnum b'one'")]


def test_blob_over_the_size_limit_is_not_read() -> None:
    blob = HELLO.read_bytes()
    data = make_db(RPM_SCHEMA, rows=[(1, blob), (2, b"x" * 100)])
    got = records(data, max_record=1000)
    assert got == [BadRecord(1, f"record 1: {len(blob)}-byte header exceeds 1000"), (2, b"x" * 100)]


def test_not_sqlite() -> None:
    with pytest.raises(RpmDbError, match="bad magic"):
        records(b"RpmP" + b"\0" * 200)


def test_header_only() -> None:
    with pytest.raises(RpmDbError, match="truncated to 50 bytes"):
        records(REAL.read_bytes()[:50])


def test_garbage_after_the_magic() -> None:
    with pytest.raises(RpmDbError, match=r"^SQLite: file is not a database$"):
        records(rpm_sqlite.MAGIC + b"\xff" * 4000)


def test_truncated_database() -> None:
    data = REAL.read_bytes()
    with pytest.raises(RpmDbError, match=r"^SQLite: "):
        records(data[:8192])


def test_work_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no budget at all the query is stopped, and says why."""
    monkeypatch.setattr(rpm_sqlite, "_PROGRESS_BASE", -(1 << 40))
    monkeypatch.setattr(rpm_sqlite, "_PROGRESS_STEP", 1)
    with pytest.raises(RpmDbError, match="query stopped, far more work"):
        records(REAL.read_bytes())


@settings(max_examples=60, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 3 * 4096), st.integers(0, 255)), min_size=1, max_size=6)
)
def test_fuzz_first_pages(edits: list[tuple[int, int]]) -> None:
    """Corrupt the file header, schema and first b-tree pages: a clean error at worst."""
    data = bytearray(REAL.read_bytes())
    for pos, value in edits:
        data[pos] = value
    try:
        for rec in read_sqlite(bytes(data), max_record=BIG):
            if isinstance(rec, BadRecord):
                assert "\n" not in rec.reason
            else:
                assert isinstance(rec[1], bytes)
    except RpmDbError as err:
        assert "\n" not in str(err)


def test_schema_text_that_is_not_utf8() -> None:
    """A corrupt schema row makes SQLite quote non-UTF-8 text in its error message."""
    data = bytearray(REAL.read_bytes())
    at = data.rfind(b"CREATE TABLE 'Basenames'")  # the live schema row (earlier: stale copy)
    assert at > 0
    data[at + 2] = 0x80
    with pytest.raises(RpmDbError, match=r"^SQLite: malformed database"):
        records(bytes(data))
