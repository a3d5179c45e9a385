"""`shoal db status`: what the DB holds, where each source came from, and how old it is."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shoal.vulndb import schema
from shoal.vulndb.store import connect_ro


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    feed_version: int
    origin: str  # "bundled" (shipped with shoal), "url" or "path"
    location: str
    fetched_at: str
    upstream: str | None
    records: int
    problems: int
    license: str | None
    input_sha256: str


@dataclass(frozen=True, slots=True)
class DbStatus:
    path: Path
    schema_version: int
    data_version: str
    built_at: str | None
    age_seconds: int | None
    size_bytes: int
    advisories: int
    affected: int
    enrichment: int
    sources: list[SourceStatus] = field(default_factory=list)
    last_run: dict[str, Any] | None = None

    @property
    def bundled(self) -> list[SourceStatus]:
        """Sources whose data is the snapshot shipped inside shoal."""
        return [s for s in self.sources if s.origin == "bundled"]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def db_status(path: Path, *, now: datetime | None = None) -> DbStatus:
    """The status of the DB at `path`; raises `VulnDbError` when there is none."""
    conn = connect_ro(path)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        counts = [
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("advisories", "affected", "enrichment")
        ]
        sources = [
            SourceStatus(*row)
            for row in conn.execute(
                "SELECT name, feed_version, origin, location, fetched_at, upstream, records, "
                "problems, license, input_sha256 FROM sources ORDER BY name"
            )
        ]
        run = conn.execute("SELECT report FROM update_runs ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    built = _parse_time(meta.get("built_at"))
    age = int(((now or datetime.now(UTC)) - built).total_seconds()) if built else None
    return DbStatus(
        path=path,
        schema_version=schema.SCHEMA_VERSION,
        data_version=meta.get("data_version", "empty"),
        built_at=meta.get("built_at"),
        age_seconds=age,
        size_bytes=path.stat().st_size,
        advisories=counts[0],
        affected=counts[1],
        enrichment=counts[2],
        sources=sources,
        last_run=json.loads(run[0]) if run else None,
    )
