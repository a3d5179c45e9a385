"""`VulnDB`: the SQLite vulnerability DB, read-only, as a `VulnSource` for matchers.

Opened with `mode=ro`, so a scan can never change the data it is judged against, and
an update (which writes a copy and renames it over this file) never disturbs a reader:
the open connection keeps reading the file it opened.

Lookups are what matching costs, so they are cheap: statements are prepared once
(sqlite3's statement cache), the clustered `affected` key makes one lookup one B-tree
range scan, and decoded rows are cached per (ecosystem, name) because images share most
of their packages. `affected_many` answers a whole SBOM in a handful of queries.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from urllib.request import pathname2url

from shoal.model.advisory import Advisory, AffectedPackage, CveEnrichment
from shoal.vulndb import codec, schema
from shoal.vulndb.errors import VulnDbError
from shoal.vulndb.protocol import AffectedRow

_CACHE_ENTRIES = 65_536  # (ecosystem, name) keys kept decoded; a few MB at most
_BATCH = 400  # keys per IN (...) query; well under SQLite's 32,766 host parameters

_Q_AFFECTED = f"SELECT {codec.AFFECTED_COLUMNS} FROM affected WHERE ecosystem = ? AND name = ?"
_Q_ADVISORY = f"SELECT {codec.ADVISORY_COLUMNS} FROM advisories WHERE source = ? AND id = ?"
_Q_ADV_AFFECTED = (
    f"SELECT {codec.AFFECTED_COLUMNS} FROM affected "
    "WHERE source = ? AND advisory_id = ? ORDER BY idx"
)


def connect_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing shoal DB of this schema version."""
    if not path.is_file():
        raise VulnDbError(
            f"no vulnerability DB at {str(path)!r}; run `shoal db update` to build one"
        )
    # immutable=1: shoal never writes a DB file in place (updates and imports write a
    # copy and rename it over), so the file a connection opened cannot change under it
    # and SQLite may skip locking, which is most of the cost of a small lookup.
    uri = f"file:{pathname2url(str(path.resolve()))}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    except sqlite3.Error as e:
        raise VulnDbError(f"cannot open vulnerability DB {str(path)!r}: {e}") from e
    try:
        schema.check(conn, path)
        # read pages through a memory map (no read() per page) and keep them cached:
        # the first scan after opening is dominated by page reads otherwise
        conn.execute("PRAGMA mmap_size = 1073741824")
        conn.execute("PRAGMA cache_size = -65536")
    except BaseException:
        conn.close()
        raise
    return conn


class VulnDB:
    """The vulnerability DB at `path`, read-only. Use `VulnDB.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        # One connection shared by threads: sqlite3 objects are not safe to interleave.
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[AffectedRow, ...]] = {}
        self._advisory_cache: dict[tuple[str, str], Advisory] = {}
        row = conn.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
        self._version = str(row[0]) if row else "empty"

    @classmethod
    def open(cls, path: Path) -> VulnDB:
        """Open the DB; raises `VulnDbError` (missing, unreadable, not shoal's) or
        `SchemaMismatchError` (another schema version)."""
        return cls(connect_ro(path), path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> VulnDB:
        return self

    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def version(self) -> str:
        """Digest of every source's input and feed version: changes with the data."""
        return self._version

    def _query(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise VulnDbError(f"vulnerability DB {str(self.path)!r}: {e}") from e

    def _remember(self, key: tuple[str, str], rows: tuple[AffectedRow, ...]) -> None:
        if len(self._cache) >= _CACHE_ENTRIES:
            self._cache.clear()  # crude but bounded; a scan re-warms it at once
        self._cache[key] = rows

    @staticmethod
    def _rows(raw: Iterable[tuple[object, ...]]) -> list[AffectedRow]:
        decode = codec.decode_affected
        return [AffectedRow(str(r[2]), str(r[3]), decode(r)) for r in raw]

    def affected(self, ecosystem: str, name: str) -> Sequence[AffectedRow]:
        """Every affected entry for (ecosystem, normalised name), all releases."""
        key = (ecosystem.lower(), name)
        hit = self._cache.get(key)
        if hit is None:
            hit = tuple(self._rows(self._query(_Q_AFFECTED, key)))
            self._remember(key, hit)
        return hit

    def affected_many(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Sequence[AffectedRow]]:
        """`affected` for many (ecosystem, name) keys at once (batched IN queries);
        every key asked for is in the answer, with () when nothing affects it."""
        out: dict[tuple[str, str], Sequence[AffectedRow]] = {}
        missing: list[tuple[str, str]] = []
        for eco, name in keys:
            key = (eco.lower(), name)
            hit = self._cache.get(key)
            if hit is None:
                missing.append(key)
            else:
                out[key] = hit
        by_eco: dict[str, list[str]] = {}
        for eco, name in sorted(set(missing)):
            by_eco.setdefault(eco, []).append(name)
        for eco, names in by_eco.items():
            # `ecosystem = ? AND name IN (...)` is a primary-key search; a row-value IN
            # over (ecosystem, name) pairs would make SQLite scan the whole table.
            for i in range(0, len(names), _BATCH):
                chunk = names[i : i + _BATCH]
                found: dict[str, list[AffectedRow]] = {n: [] for n in chunk}
                sql = (
                    f"SELECT {codec.AFFECTED_COLUMNS} FROM affected "
                    f"WHERE ecosystem = ? AND name IN ({','.join('?' * len(chunk))})"
                )
                for row in self._rows(self._query(sql, [eco, *chunk])):
                    found[row.affected.name].append(row)
                for name, rows in found.items():
                    key = (eco, name)
                    hit = tuple(rows)
                    self._remember(key, hit)
                    out[key] = hit
        return out

    def advisories(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Advisory]:
        """Full advisories by (source, id); unknown keys are left out.

        Fetched in batches (two queries per batch of ids, not two per advisory) and kept
        decoded: the file never changes under an open VulnDB, and re-matching many images
        asks for the same advisories again and again.
        """
        out: dict[tuple[str, str], Advisory] = {}
        missing: list[tuple[str, str]] = []
        for key in dict.fromkeys(keys):
            hit = self._advisory_cache.get(key)
            if hit is None:
                missing.append(key)
            else:
                out[key] = hit
        for n in range(0, len(missing), _BATCH // 2):
            chunk = missing[n : n + _BATCH // 2]
            pairs = ",".join("(?,?)" for _ in chunk)
            params = [x for key in chunk for x in key]
            affected: dict[tuple[str, str], list[AffectedPackage]] = {}
            for r in self._query(
                f"SELECT {codec.AFFECTED_COLUMNS} FROM affected "
                f"WHERE (source, advisory_id) IN (VALUES {pairs}) ORDER BY idx",
                params,
            ):
                affected.setdefault((str(r[2]), str(r[3])), []).append(codec.decode_affected(r))
            for row in self._query(
                f"SELECT {codec.ADVISORY_COLUMNS} FROM advisories "
                f"WHERE (source, id) IN (VALUES {pairs})",
                params,
            ):
                k = (str(row[0]), str(row[1]))
                adv = codec.decode_advisory(row, tuple(affected.get(k, ())))
                out[k] = adv
                if len(self._advisory_cache) >= _CACHE_ENTRIES:
                    self._advisory_cache.clear()
                self._advisory_cache[k] = adv
        return out

    def by_alias(self, alias: str) -> list[tuple[str, str]]:
        """(source, id) of every advisory that is `alias` or lists it among its aliases."""
        rows = self._query("SELECT source, id FROM aliases WHERE alias = ?", (alias,))
        direct = self._query("SELECT source, id FROM advisories WHERE id = ?", (alias,))
        return sorted({(str(s), str(i)) for s, i in (*direct, *rows)})

    def enrichment(self, cves: Iterable[str]) -> dict[str, CveEnrichment]:
        """NVD / EPSS / KEV facts for the CVEs that have any."""
        wanted = sorted(set(cves))
        out: dict[str, CveEnrichment] = {}
        for i in range(0, len(wanted), _BATCH):
            chunk = wanted[i : i + _BATCH]
            sql = (
                f"SELECT {codec.ENRICHMENT_COLUMNS} FROM enrichment "
                f"WHERE cve IN ({','.join('?' * len(chunk))})"
            )
            for row in self._query(sql, chunk):
                e = codec.decode_enrichment(row)
                out[e.cve] = e
        return out
