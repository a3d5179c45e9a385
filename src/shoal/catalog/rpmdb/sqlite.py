"""`rpmdb.sqlite` (rpm >= 4.16): header blobs in table `Packages(hnum, blob)`.

The database is opened from memory with `sqlite3.Connection.deserialize`, so nothing is
written to disk and nothing next to it (journals, WAL) is consulted. The file is treated as
hostile: the schema must say `Packages` is a plain table (a view could run arbitrary SQL),
schema code is not trusted, the connection is read-only, and a progress handler aborts a
query that does far more work than a file of this size can justify.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from shoal.catalog.rpmdb.errors import BadRecord, RpmDbError

MAGIC = b"SQLite format 3\x00"

# Progress handler granularity (SQLite virtual machine instructions per callback), and the
# callbacks allowed: a full scan costs a few instructions per row and per page, so even a
# table of tiny rows stays well inside one callback per 64 bytes of file.
_PROGRESS_STEP = 10_000
_PROGRESS_BASE = 1_000


def read_sqlite(data: bytes, *, max_record: int) -> Iterator[tuple[int, bytes] | BadRecord]:
    """Yield `(hnum, blob)` for every row of `Packages`, in hnum order.

    A row whose blob is larger than `max_record` bytes, or not a blob, gives a `BadRecord`.
    Raises `RpmDbError` if the file is not a readable rpm sqlite database.
    """
    if not data.startswith(MAGIC):
        raise RpmDbError("not an SQLite database: bad magic")
    if len(data) < 100:
        raise RpmDbError(f"SQLite database truncated to {len(data)} bytes, inside its header")
    image: bytes | bytearray = data
    # rpm leaves its database in WAL mode (header bytes 18-19 = 2). The in-memory VFS has
    # no shared memory for WAL, so declare the legacy journal (1); rpm checkpoints the WAL
    # into the main file when it closes the database, and a -wal file is not ours to read.
    if data[18] == 2 or data[19] == 2:
        image = bytearray(data)
        image[18] = image[19] = 1
    budget = [_PROGRESS_BASE + len(data) // 64]

    def progress() -> int:
        budget[0] -= 1
        return 1 if budget[0] < 0 else 0

    con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        con.set_progress_handler(progress, _PROGRESS_STEP)
        yield from _rows(con, image, max_record)
    except UnicodeDecodeError as err:
        # SQLite quotes the corrupt schema text in its message, which Python then fails
        # to decode: the database is malformed either way
        raise RpmDbError("SQLite: malformed database (error text not UTF-8)") from err
    except sqlite3.Error as err:
        if budget[0] < 0:
            raise RpmDbError(
                "SQLite: query stopped, far more work than the file size explains"
            ) from err
        raise RpmDbError(f"SQLite: {_one_line(err)}") from err
    finally:
        con.close()


def _rows(
    con: sqlite3.Connection, image: bytes | bytearray, max_record: int
) -> Iterator[tuple[int, bytes] | BadRecord]:
    con.deserialize(image)
    # text comes back as bytes: a corrupt schema or row must not fail in Python's decoder
    con.text_factory = bytes
    con.execute("PRAGMA trusted_schema = OFF")
    con.execute("PRAGMA query_only = ON")
    kinds = con.execute(
        "SELECT type, name FROM sqlite_master WHERE lower(name) = 'packages'"
    ).fetchall()
    if not kinds:
        raise RpmDbError("SQLite database has no Packages table")
    if any(kind != b"table" for kind, _ in kinds):
        raise RpmDbError("SQLite database: Packages is not a plain table")
    columns = {bytes(row[1]).lower() for row in con.execute("PRAGMA table_info(Packages)")}
    if not {b"hnum", b"blob"} <= columns:
        raise RpmDbError("SQLite database: table Packages lacks column hnum or blob")
    rows = con.execute(
        "SELECT hnum, typeof(blob), length(blob),"
        " CASE WHEN typeof(blob) = 'blob' AND length(blob) <= ? THEN blob END"
        " FROM Packages ORDER BY hnum",
        (max_record,),
    )
    for hnum, kind, length, blob in rows:
        if not isinstance(hnum, int):
            yield BadRecord(-1, f"row with non-integer hnum {hnum!r:.40}")
        elif kind != b"blob":
            yield BadRecord(hnum, f"record {hnum}: blob column holds {kind.decode()}, not a blob")
        elif blob is None:
            yield BadRecord(hnum, f"record {hnum}: {length}-byte header exceeds {max_record}")
        else:
            yield hnum, bytes(blob)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
