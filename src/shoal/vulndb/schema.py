"""The SQLite schema of the vulnerability DB, and its version check.

One file holds everything. `PRAGMA application_id` marks the file as shoal's,
`PRAGMA user_version` carries `SCHEMA_VERSION`, and the `meta` table repeats it with
`built_at` and the data version. A file from any other schema version is refused with a
message that says to rebuild it (`shoal db update`), never read with the wrong layout.

`affected` is clustered on (ecosystem, name, ...) (WITHOUT ROWID), so the matcher's
lookup for one package reads one contiguous run of the B-tree; the secondary index on
(source, advisory_id) serves the incremental rewrite of changed advisories.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shoal.vulndb.errors import CorruptDbError, SchemaMismatchError, VulnDbError

SCHEMA_VERSION = 1
APPLICATION_ID = 0x5348_4F4C  # "SHOL": tells a shoal DB from any other SQLite file

_DDL = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sources (
    name          TEXT PRIMARY KEY,
    feed_version  INTEGER NOT NULL,
    origin        TEXT NOT NULL,     -- "bundled", "url", "path"
    location      TEXT NOT NULL,     -- URL, local path or bundled file name
    fetched_at    TEXT NOT NULL,     -- RFC 3339, when shoal read the input
    upstream      TEXT,              -- upstream timestamp (Last-Modified, snapshot date)
    fingerprint   TEXT,              -- ETag / conditional-request state, JSON
    input_sha256  TEXT NOT NULL,
    records       INTEGER NOT NULL,
    problems      INTEGER NOT NULL,
    license       TEXT
) WITHOUT ROWID;

CREATE TABLE advisories (
    source     TEXT NOT NULL,
    id         TEXT NOT NULL,
    digest     TEXT NOT NULL,        -- hash of the whole record: the update diff
    aliases    TEXT,                 -- compact JSON; NULL when empty
    related    TEXT,
    summary    TEXT NOT NULL,
    details    TEXT NOT NULL,
    published  TEXT,
    modified   TEXT,
    withdrawn  TEXT,
    refs       TEXT,
    severities TEXT,
    cwes       TEXT,
    PRIMARY KEY (source, id)
);  -- a rowid table: its rows (details, references) are too big to cluster well
CREATE INDEX advisories_by_id ON advisories (id);  -- by_alias: "CVE-x" is also an id

CREATE TABLE affected (
    ecosystem      TEXT NOT NULL,    -- lower case: the lookup key
    name           TEXT NOT NULL,
    source         TEXT NOT NULL,
    advisory_id    TEXT NOT NULL,
    idx            INTEGER NOT NULL, -- position in Advisory.affected
    ecosystem_name TEXT NOT NULL,    -- as the feed spells it ("PyPI")
    release        TEXT NOT NULL,
    ranges         TEXT,
    versions       TEXT,
    fix_state      TEXT NOT NULL,
    severity       TEXT,
    purl           TEXT,
    PRIMARY KEY (ecosystem, name, source, advisory_id, idx)
) WITHOUT ROWID;
CREATE INDEX affected_by_advisory ON affected (source, advisory_id);

CREATE TABLE aliases (
    alias  TEXT NOT NULL,
    source TEXT NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (alias, source, id)
) WITHOUT ROWID;
CREATE INDEX aliases_by_advisory ON aliases (source, id);

CREATE TABLE enrichment (
    cve             TEXT PRIMARY KEY,
    nvd_severities  TEXT,
    cwes            TEXT,
    description     TEXT,
    published       TEXT,
    refs            TEXT,
    epss_score      REAL,
    epss_percentile REAL,
    epss_date       TEXT,
    kev             INTEGER,
    kev_date_added  TEXT,
    kev_due_date    TEXT,
    kev_ransomware  TEXT
) WITHOUT ROWID;

CREATE TABLE update_runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    report      TEXT NOT NULL        -- JSON: per source counts and status
);
"""


def create(conn: sqlite3.Connection) -> None:
    """Create every table in an empty database and stamp the schema version, in one
    transaction (executescript would commit a transaction opened around it)."""
    conn.executescript(
        f"""BEGIN;
        {_DDL}
        PRAGMA application_id = {APPLICATION_ID};
        PRAGMA user_version = {SCHEMA_VERSION};
        INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
        COMMIT;"""
    )


def check(conn: sqlite3.Connection, path: Path | str) -> None:
    """Raise unless `conn` is a shoal vulnerability DB of this schema version."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise CorruptDbError(
            f"vulnerability DB {str(path)!r} is unreadable ({e}); "
            "run `shoal db update` to rebuild it"
        ) from e
    if app_id != APPLICATION_ID:
        raise VulnDbError(
            f"{str(path)!r} is not a shoal vulnerability DB (application_id {app_id:#x}); "
            "run `shoal db update` to build one"
        )
    if version != SCHEMA_VERSION:
        raise SchemaMismatchError(
            f"vulnerability DB {str(path)!r} has schema version {version}, this shoal reads "
            f"version {SCHEMA_VERSION}; run `shoal db update` to rebuild it"
        )
