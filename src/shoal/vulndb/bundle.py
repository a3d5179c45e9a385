"""`shoal db export` / `shoal db import`: the whole DB as one checksummed file.

A bundle is a zstd-compressed tar with exactly two members, in this order:

    manifest.json   {"format": "shoal-vulndb-bundle", "format_version": 1,
                     "schema_version": N, "data_version": ..., "built_at": ...,
                     "created_at": ..., "sources": [...],
                     "members": {"vuln.db": {"size": ..., "sha256": ...}}}
    vuln.db         the SQLite DB

Import reads the bundle as a stream and trusts nothing in it: the members must be
exactly these, regular files within size bounds, the DB must hash to the manifest's
sha256, carry this shoal's schema version and pass SQLite's `quick_check`. Only then is
it renamed over the live DB; any failure leaves the live DB untouched and says why in
one line. (Checksums catch corruption and careless edits; they are not signatures.)
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from shoal.vulndb import schema
from shoal.vulndb.errors import BundleError, VulnDbError
from shoal.vulndb.store import connect_ro
from shoal.vulndb.writer import UpdateLock, replace_atomically

FORMAT = "shoal-vulndb-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_MEMBER = "vuln.db"
MAX_MANIFEST_BYTES = 1 << 20
DEFAULT_MAX_DB_BYTES = 8 << 30
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class BundleInfo:
    path: Path
    schema_version: int
    data_version: str
    built_at: str | None
    db_size: int
    db_sha256: str
    sources: list[dict[str, Any]]


def _snapshot(db_path: Path, dest: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Copy the DB consistently (SQLite backup) and read what the manifest reports."""
    src = connect_ro(db_path)
    try:
        meta = dict(src.execute("SELECT key, value FROM meta").fetchall())
        cur = src.execute(
            "SELECT name, feed_version, origin, location, fetched_at, upstream, "
            "input_sha256, records, problems, license FROM sources ORDER BY name"
        )
        cols = [d[0] for d in cur.description]
        sources = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return meta, sources


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def export_bundle(db_path: Path, out: Path) -> BundleInfo:
    """Write the DB at `db_path` as a bundle to `out` (atomically: `out.part`, rename)."""
    part = out.with_name(out.name + ".part")
    snap = out.with_name(out.name + ".db.part")
    try:
        meta, sources = _snapshot(db_path, snap)
        size, sha = snap.stat().st_size, _sha256(snap)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_version": schema.SCHEMA_VERSION,
            "data_version": meta.get("data_version", "empty"),
            "built_at": meta.get("built_at"),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sources": sources,
            "members": {DB_MEMBER: {"size": size, "sha256": sha}},
        }
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        cctx = zstandard.ZstdCompressor(level=10, write_checksum=True, threads=-1)
        with (
            part.open("wb") as raw,
            cctx.stream_writer(raw, closefd=False) as zw,
            tarfile.open(fileobj=zw, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            now = int(time.time())
            ti = tarfile.TarInfo(MANIFEST)
            ti.size, ti.mtime, ti.mode = len(body), now, 0o644
            tar.addfile(ti, io.BytesIO(body))
            ti = tarfile.TarInfo(DB_MEMBER)
            ti.size, ti.mtime, ti.mode = size, now, 0o644
            with snap.open("rb") as f:
                tar.addfile(ti, f)
        replace_atomically(part, out)
    except (OSError, sqlite3.Error) as e:
        raise VulnDbError(f"cannot write bundle {str(out)!r}: {e}") from e
    finally:
        part.unlink(missing_ok=True)
        snap.unlink(missing_ok=True)
    return BundleInfo(
        out,
        schema.SCHEMA_VERSION,
        manifest["data_version"],
        manifest["built_at"],
        size,
        sha,
        sources,
    )


def _bad(bundle: Path, why: str) -> BundleError:
    return BundleError(f"bundle {str(bundle)!r} refused: {why}; the current DB is unchanged")


def _read_manifest(bundle: Path, tar: tarfile.TarFile) -> dict[str, Any]:
    ti = tar.next()
    if ti is None or ti.name != MANIFEST or not ti.isreg():
        raise _bad(bundle, f"first member is not {MANIFEST}")
    if ti.size > MAX_MANIFEST_BYTES:
        raise _bad(bundle, f"{MANIFEST} is {ti.size} bytes (limit {MAX_MANIFEST_BYTES})")
    f = tar.extractfile(ti)
    assert f is not None  # a regular file always has data
    try:
        manifest = json.loads(f.read())
    except ValueError as e:
        raise _bad(bundle, f"{MANIFEST} is not JSON ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad(bundle, "not a shoal vulnerability DB bundle")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise _bad(bundle, f"bundle format version {manifest.get('format_version')!r:.20}")
    if manifest.get("schema_version") != schema.SCHEMA_VERSION:
        raise _bad(
            bundle,
            f"DB schema version {manifest.get('schema_version')!r:.20}, this shoal reads "
            f"{schema.SCHEMA_VERSION} (export it with a matching shoal)",
        )
    members = manifest.get("members")
    member = members.get(DB_MEMBER) if isinstance(members, dict) else None
    if (
        not isinstance(member, dict)
        or not isinstance(member.get("size"), int)
        or not isinstance(member.get("sha256"), str)
    ):
        raise _bad(bundle, f"{MANIFEST} has no size and sha256 for {DB_MEMBER}")
    return manifest


def _extract_db(
    bundle: Path, tar: tarfile.TarFile, member: dict[str, Any], dest: Path, max_bytes: int
) -> None:
    ti = tar.next()
    if ti is None or ti.name != DB_MEMBER or not ti.isreg():
        raise _bad(bundle, f"second member is not {DB_MEMBER}")
    if ti.size != member["size"]:
        raise _bad(bundle, f"{DB_MEMBER} is {ti.size} bytes, manifest says {member['size']}")
    if ti.size > max_bytes:
        raise _bad(bundle, f"{DB_MEMBER} is {ti.size} bytes (limit {max_bytes})")
    src = tar.extractfile(ti)
    assert src is not None
    h = hashlib.sha256()
    with dest.open("wb") as out:
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            out.write(chunk)
    if h.hexdigest() != member["sha256"]:
        raise _bad(bundle, f"{DB_MEMBER} does not match its sha256 in {MANIFEST}")
    if tar.next() is not None:
        raise _bad(bundle, "unexpected members after the DB")


def _verify_db(bundle: Path, path: Path, manifest: dict[str, Any]) -> None:
    try:
        conn = connect_ro(path)
    except VulnDbError as e:
        raise _bad(bundle, f"the DB inside is unusable ({e})") from e
    try:
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        row = conn.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
    except sqlite3.Error as e:
        raise _bad(bundle, f"the DB inside is corrupt ({e})") from e
    finally:
        conn.close()
    if ok != "ok":
        raise _bad(bundle, f"the DB inside fails SQLite's integrity check ({ok:.80})")
    if (row[0] if row else "empty") != manifest.get("data_version"):
        raise _bad(bundle, "the DB's data version differs from the manifest's")


def import_bundle(
    bundle: Path, db_path: Path, *, max_db_bytes: int = DEFAULT_MAX_DB_BYTES
) -> BundleInfo:
    """Verify `bundle` completely, then make its DB the one at `db_path`, atomically.

    Raises `BundleError` (one line) for anything wrong with the bundle; the DB at
    `db_path` is then untouched.
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(db_path.name + ".import.tmp")
    with UpdateLock(db_path):
        try:
            manifest = _read_stream(bundle, tmp, max_db_bytes)
            _verify_db(bundle, tmp, manifest)
            replace_atomically(tmp, db_path)
        finally:
            tmp.unlink(missing_ok=True)
    member = manifest["members"][DB_MEMBER]
    return BundleInfo(
        db_path,
        manifest["schema_version"],
        str(manifest.get("data_version")),
        manifest.get("built_at"),
        member["size"],
        member["sha256"],
        list(manifest.get("sources") or []),
    )


def _read_stream(bundle: Path, tmp: Path, max_db_bytes: int) -> dict[str, Any]:
    try:
        dctx = zstandard.ZstdDecompressor()
        with (
            bundle.open("rb") as raw,
            dctx.stream_reader(raw) as zr,
            tarfile.open(fileobj=zr, mode="r|") as tar,
        ):
            manifest = _read_manifest(bundle, tar)
            _extract_db(bundle, tar, manifest["members"][DB_MEMBER], tmp, max_db_bytes)
            return manifest
    except BundleError:
        raise
    except FileNotFoundError as e:
        raise BundleError(f"bundle {str(bundle)!r} does not exist") from e
    except (tarfile.TarError, zstandard.ZstdError, EOFError, ValueError, UnicodeError) as e:
        raise _bad(
            bundle,
            f"not a readable zstd tar ({str(e).splitlines()[0] if str(e) else type(e).__name__})",
        ) from e
    except OSError as e:
        raise BundleError(f"bundle {str(bundle)!r}: {e}") from e
