"""Writing the DB: a copy of it, one source per transaction, renamed into place.

An update never touches the live file. `WorkingCopy` copies it to `<db>.tmp` (or
creates a new one), `apply_advisories`/`apply_enrichment` replace one source's rows in
one transaction each, and `WorkingCopy.commit` fsyncs the copy and renames it over
the live file. A crash, an exception or Ctrl-C anywhere before the rename leaves the
previous DB exactly as it was; the copy is deleted.

Within a source the rewrite is incremental: each advisory row carries a digest of its
content, so only added, changed and removed advisories are written, and the (ecosystem,
name) keys they touch are reported for re-matching.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from shoal.model.advisory import Advisory, CveEnrichment, FeedProblem
from shoal.vulndb import codec, schema
from shoal.vulndb.errors import CorruptDbError, SchemaMismatchError, VulnDbError

log = logging.getLogger(__name__)

MAX_PROBLEMS_KEPT = 100  # problems listed in a report; all are counted


@dataclass(frozen=True, slots=True)
class SourceMeta:
    """What the `sources` table records about one source's input."""

    name: str
    feed_version: int
    origin: str  # "bundled" | "url" | "path"
    location: str
    fetched_at: str
    input_sha256: str
    upstream: str | None = None
    fingerprint: str | None = None  # JSON
    license: str | None = None


@dataclass(slots=True)
class SourceDiff:
    """What replacing one source's rows changed."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    records: int = 0
    problems: int = 0
    problem_samples: list[FeedProblem] = field(default_factory=list)
    changed_keys: set[tuple[str, str]] = field(default_factory=set)
    changed_cves: set[str] = field(default_factory=set)

    def problem(self, p: FeedProblem) -> None:
        self.problems += 1
        if len(self.problem_samples) < MAX_PROBLEMS_KEPT:
            self.problem_samples.append(p)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(tmp: Path, dest: Path) -> None:
    """fsync `tmp`, rename it over `dest`, fsync the directory: all or nothing."""
    _fsync(tmp)
    os.replace(tmp, dest)
    with contextlib.suppress(OSError):  # some filesystems refuse O_RDONLY on directories
        _fsync(dest.parent)


class UpdateLock:
    """An exclusive lock (`<db>.lock`) so two updates never write the same copy."""

    def __init__(self, db_path: Path) -> None:
        self._path = db_path.with_name(db_path.name + ".lock")
        self._f: IO[bytes] | None = None

    def __enter__(self) -> UpdateLock:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            f = self._path.open("wb")
        except OSError as e:
            raise VulnDbError(f"cannot lock {str(self._path)!r}: {e}") from e
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            f.close()
            raise VulnDbError(
                f"vulnerability DB {str(self._path.with_suffix(''))!r} is being updated "
                "by another shoal process"
            ) from e
        self._f = f
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._f is not None:
            self._f.close()  # closing releases the flock


class WorkingCopy:
    """A writable copy of the DB at `db_path` (new and empty if there is none, or if
    the old one has another schema version: rebuilding is the fix for that)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.tmp = db_path.with_name(db_path.name + ".tmp")
        self.rebuilt_from: str | None = None  # why the old DB was not reused, if it was not
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.unlink(missing_ok=True)  # debris of a killed update
        fresh = not db_path.exists()
        if not fresh:
            shutil.copyfile(db_path, self.tmp)
        self.conn = sqlite3.connect(self.tmp, isolation_level=None)
        try:
            self._prepare(fresh)
        except BaseException:
            self.discard()
            raise

    def _prepare(self, fresh: bool) -> None:
        if not fresh:
            try:
                schema.check(self.conn, self.db_path)
            except (SchemaMismatchError, CorruptDbError) as e:
                log.warning("rebuilding the vulnerability DB: %s", e)
                self.rebuilt_from = str(e)
                self.conn.close()
                self.tmp.unlink()
                self.conn = sqlite3.connect(self.tmp, isolation_level=None)
                fresh = True
        # The copy is private until the rename, so durability comes from one fsync at
        # the end; the in-memory journal still lets a failed source roll back.
        self.conn.execute("PRAGMA journal_mode = MEMORY")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -65536")
        if fresh:
            schema.create(self.conn)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def source_row(self, name: str) -> sqlite3.Row | None:
        self.conn.row_factory = sqlite3.Row
        try:
            row: sqlite3.Row | None = self.conn.execute(
                "SELECT * FROM sources WHERE name = ?", (name,)
            ).fetchone()
        finally:
            self.conn.row_factory = None
        return row

    def _write_source(self, meta: SourceMeta, diff: SourceDiff) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO sources (name, feed_version, origin, location, fetched_at, "
            "upstream, fingerprint, input_sha256, records, problems, license) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                meta.name,
                meta.feed_version,
                meta.origin,
                meta.location,
                meta.fetched_at,
                meta.upstream,
                meta.fingerprint,
                meta.input_sha256,
                diff.records,
                diff.problems,
                meta.license,
            ),
        )

    def _keys_of(self, source: str, adv_id: str) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT ecosystem, name FROM affected WHERE source = ? AND advisory_id = ?",
            (source, adv_id),
        ).fetchall()

    def _delete(self, source: str, adv_id: str) -> None:
        c = self.conn
        c.execute("DELETE FROM affected WHERE source = ? AND advisory_id = ?", (source, adv_id))
        c.execute("DELETE FROM aliases WHERE source = ? AND id = ?", (source, adv_id))
        c.execute("DELETE FROM advisories WHERE source = ? AND id = ?", (source, adv_id))

    def apply_advisories(
        self, meta: SourceMeta, items: Iterable[Advisory | CveEnrichment | FeedProblem]
    ) -> SourceDiff:
        """Replace source `meta.name`'s advisories with `items`, in one transaction.

        Problems and records that do not belong (another source's id, an enrichment
        record, a duplicate id) are counted as problems; everything else is stored.
        """
        diff = SourceDiff()
        name = meta.name
        c = self.conn
        with self.transaction():
            old: dict[str, str] = dict(
                c.execute("SELECT id, digest FROM advisories WHERE source = ?", (name,))
            )
            seen: set[str] = set()
            for item in items:
                if isinstance(item, FeedProblem):
                    diff.problem(item)
                    continue
                if not isinstance(item, Advisory) or item.source != name:
                    what = getattr(item, "id", None) or getattr(item, "cve", "?")
                    diff.problem(FeedProblem(name, str(what), "record is not this source's"))
                    continue
                if item.id in seen:
                    diff.problem(FeedProblem(name, item.id, "duplicate id; kept the first"))
                    continue
                seen.add(item.id)
                diff.records += 1
                row, affected = codec.encode_advisory(item)
                digest = old.get(item.id)
                if digest == row[2]:
                    diff.unchanged += 1
                    continue
                if digest is None:
                    diff.added += 1
                else:
                    diff.changed += 1
                    diff.changed_keys.update(self._keys_of(name, item.id))
                    self._delete(name, item.id)
                c.execute(
                    f"INSERT INTO advisories ({codec.ADVISORY_COLUMNS}) "
                    f"VALUES ({','.join('?' * len(row))})",
                    row,
                )
                if affected:
                    c.executemany(
                        f"INSERT INTO affected ({codec.AFFECTED_COLUMNS}) "
                        f"VALUES ({','.join('?' * len(affected[0]))})",
                        affected,
                    )
                    diff.changed_keys.update((a[0], a[1]) for a in affected)
                # only true aliases: `related` names a different vulnerability
                aliases = set(item.aliases) - {item.id}
                c.executemany(
                    "INSERT OR IGNORE INTO aliases (alias, source, id) VALUES (?,?,?)",
                    [(a, name, item.id) for a in sorted(aliases)],
                )
            if old and not seen:
                # An empty or truncated download must not wipe a source: refuse it.
                raise VulnDbError(
                    f"source {name!r} yielded no advisories (it had {len(old)}); "
                    "kept the previous data"
                )
            for adv_id in old.keys() - seen:
                diff.removed += 1
                diff.changed_keys.update(self._keys_of(name, adv_id))
                self._delete(name, adv_id)
            self._write_source(meta, diff)
        return diff

    def apply_enrichment(
        self, meta: SourceMeta, items: Iterable[Advisory | CveEnrichment | FeedProblem]
    ) -> SourceDiff:
        """Replace the enrichment columns source `meta.name` owns (NVD, EPSS or KEV),
        in one transaction, diffing old and new in SQL so memory stays flat."""
        group = codec.enrichment_group(meta.name)
        cols = codec.ENRICHMENT_GROUPS[group]
        diff = SourceDiff()
        c = self.conn
        col_list = ", ".join(cols)
        marks = ",".join("?" * (len(cols) + 1))
        with self.transaction():
            c.execute(f"CREATE TEMP TABLE new_enr (cve TEXT PRIMARY KEY, {col_list})")
            try:
                for item in items:
                    if isinstance(item, FeedProblem):
                        diff.problem(item)
                    elif isinstance(item, CveEnrichment):
                        cur = c.execute(
                            f"INSERT OR IGNORE INTO new_enr (cve, {col_list}) VALUES ({marks})",
                            codec.encode_enrichment(item, group),
                        )
                        if cur.rowcount == 0:
                            diff.problem(FeedProblem(meta.name, item.cve, "duplicate CVE"))
                        else:
                            diff.records += 1
                    else:
                        diff.problem(
                            FeedProblem(meta.name, item.id, "advisory in an enrichment feed")
                        )
                if diff.records == 0 and self._has_enrichment(cols):
                    raise VulnDbError(
                        f"source {meta.name!r} yielded no records; kept the previous data"
                    )
                self._merge_enrichment(cols, diff)
            finally:
                c.execute("DROP TABLE temp.new_enr")
            self._write_source(meta, diff)
        return diff

    def _has_enrichment(self, cols: tuple[str, ...]) -> bool:
        where = " OR ".join(f"{k} IS NOT NULL" for k in cols)
        return (
            self.conn.execute(f"SELECT 1 FROM enrichment WHERE {where} LIMIT 1").fetchone()
            is not None
        )

    def _merge_enrichment(self, cols: tuple[str, ...], diff: SourceDiff) -> None:
        c = self.conn
        col_list = ", ".join(cols)
        has_old = " OR ".join(f"e.{k} IS NOT NULL" for k in cols)
        old_t = ", ".join(f"e.{k}" for k in cols)
        new_t = ", ".join(f"n.{k}" for k in cols)
        added = [
            r[0]
            for r in c.execute(
                "SELECT n.cve FROM new_enr n LEFT JOIN enrichment e ON e.cve = n.cve "
                f"WHERE e.cve IS NULL OR NOT ({has_old})"
            )
        ]
        changed = [
            r[0]
            for r in c.execute(
                f"SELECT n.cve FROM new_enr n JOIN enrichment e ON e.cve = n.cve "
                f"WHERE ({has_old}) AND ({old_t}) IS NOT ({new_t})"
            )
        ]
        removed = [
            r[0]
            for r in c.execute(
                f"SELECT e.cve FROM enrichment e WHERE ({has_old}) "
                "AND NOT EXISTS (SELECT 1 FROM new_enr n WHERE n.cve = e.cve)"
            )
        ]
        nulls = ", ".join(f"{k} = NULL" for k in cols)
        c.executemany(f"UPDATE enrichment SET {nulls} WHERE cve = ?", [(x,) for x in removed])
        sets = ", ".join(f"{k} = excluded.{k}" for k in cols)
        c.execute(
            f"INSERT INTO enrichment (cve, {col_list}) SELECT cve, {col_list} FROM new_enr "
            f"WHERE true ON CONFLICT (cve) DO UPDATE SET {sets}"
        )
        all_null = " AND ".join(f"{k} IS NULL" for k in codec.ENRICHMENT_COLUMNS.split(", ")[1:])
        c.execute(f"DELETE FROM enrichment WHERE {all_null}")
        diff.added, diff.changed, diff.removed = len(added), len(changed), len(removed)
        diff.unchanged = diff.records - diff.added - diff.changed
        diff.changed_cves.update(added, changed, removed)

    def finish(self, *, built_at: str, started_at: str, run_report: dict[str, Any]) -> str:
        """Stamp the data version, built_at and the update run; returns the version."""
        c = self.conn
        with self.transaction():
            h = hashlib.sha256(f"schema {schema.SCHEMA_VERSION}\n".encode())
            for name, ver, sha in c.execute(
                "SELECT name, feed_version, input_sha256 FROM sources ORDER BY name"
            ):
                h.update(f"{name} {ver} {sha}\n".encode())
            version = h.hexdigest()[:32]
            c.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("data_version", version), ("built_at", built_at)],
            )
            c.execute(
                "INSERT INTO update_runs (started_at, finished_at, report) VALUES (?,?,?)",
                (started_at, built_at, json.dumps({**run_report, "data_version": version})),
            )
            # Keep a bounded history of runs.
            c.execute("DELETE FROM update_runs WHERE id <= (SELECT max(id) - 100 FROM update_runs)")
        return version

    def commit(self) -> None:
        """Compact if worthwhile, then make the copy the live DB, atomically."""
        pages, free = (
            self.conn.execute("PRAGMA page_count").fetchone()[0],
            self.conn.execute("PRAGMA freelist_count").fetchone()[0],
        )
        if free * 4 > pages:  # a quarter of the file is free pages: worth a VACUUM
            self.conn.execute("VACUUM")
        self.conn.execute("PRAGMA optimize")
        self.conn.close()
        replace_atomically(self.tmp, self.db_path)

    def discard(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        self.tmp.unlink(missing_ok=True)
