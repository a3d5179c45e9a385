"""SBOMs stored once per (manifest digest, platform), as zstd-compressed native JSON.

Re-matching after a feed update reads SBOMs from here, never from the registry. An SBOM
made by another analyser version is replaced; the same analyser storing it again is a
no-op. A blob that does not decode is corruption of our own data, so it raises
`StoredSbomError` rather than passing as an empty SBOM.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import zstandard
from sqlalchemy import select
from sqlalchemy.orm import Session

from shoal.config import Limits
from shoal.db.dialect import insert_for
from shoal.db.errors import StoredSbomError
from shoal.db.models import Sbom as SbomRow
from shoal.errors import ShoalError
from shoal.export.json import from_native_json, to_native
from shoal.model import Sbom

ENCODING = "shoal-json-1+zstd"
_LEVEL = 6  # ~5x on SBOM JSON; levels above cost far more CPU for a few percent


def sbom_key(sbom: Sbom) -> tuple[str, str]:
    """(manifest digest, platform) of the SBOM; ValueError when it has no digest.

    For a platform picked from an index the digest is the index's: that is the digest
    a push or a tag names and the `Image` row carries, so the service finds the SBOM
    from the row alone (re-matching never asks the registry which child it was)."""
    digest = sbom.image.index_digest or sbom.image.manifest_digest
    if not digest:
        raise ValueError(f"SBOM of {sbom.image.reference!r} has no manifest digest to key it by")
    return digest, str(sbom.image.platform) if sbom.image.platform else ""


def encode_sbom(sbom: Sbom) -> tuple[bytes, int]:
    """(compressed blob, uncompressed size)."""
    raw = json.dumps(to_native(sbom), separators=(",", ":"), ensure_ascii=False).encode()
    return zstandard.ZstdCompressor(level=_LEVEL).compress(raw), len(raw)


def decode_sbom(blob: bytes, *, max_bytes: int | None = None) -> Sbom:
    """The SBOM in a stored blob; `StoredSbomError` (one line) when it does not decode."""
    limit = max_bytes if max_bytes is not None else Limits.model_validate({}).metadata_bytes
    try:
        # stream with a cap: the frame header's size field is the writer's claim, not a bound
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob))
        raw = reader.read(limit + 1)
    except zstandard.ZstdError as e:
        raise StoredSbomError(f"stored SBOM: not zstd data ({e})") from e
    if len(raw) > limit:
        raise StoredSbomError(f"stored SBOM: over {limit} bytes uncompressed (metadata_bytes)")
    try:
        return from_native_json(raw, max_bytes=limit)
    except ShoalError as e:
        raise StoredSbomError(f"stored SBOM: {e}") from e


def store_sbom(
    session: Session, sbom: Sbom, analyser_version: str, *, now: datetime | None = None
) -> bool:
    """Store the image's SBOM unless this analyser version already did; True if written."""
    digest, platform = sbom_key(sbom)
    blob, size = encode_sbom(sbom)
    ins = insert_for(session, SbomRow).values(
        manifest_digest=digest,
        platform=platform,
        analyser_version=analyser_version,
        encoding=ENCODING,
        size=size,
        blob=blob,
        created_at=now or datetime.now(UTC),
    )
    # the same analyser storing again is a no-op; another (normally newer) version replaces it
    stmt = ins.on_conflict_do_update(
        index_elements=["manifest_digest", "platform"],
        set_={
            "analyser_version": ins.excluded.analyser_version,
            "encoding": ins.excluded.encoding,
            "size": ins.excluded.size,
            "blob": ins.excluded.blob,
            "created_at": ins.excluded.created_at,
        },
        where=SbomRow.analyser_version != ins.excluded.analyser_version,
    ).returning(SbomRow.id)
    # RETURNING, not rowcount: through psycopg this INSERT reports rowcount -1 either way
    return session.execute(stmt).first() is not None


def sbom_version(session: Session, digest: str, platform: str = "") -> str | None:
    """The analyser version of the stored SBOM, None when there is none: lets a scan
    skip pulling an image whose SBOM is current."""
    return session.scalar(
        select(SbomRow.analyser_version).where(
            SbomRow.manifest_digest == digest, SbomRow.platform == platform
        )
    )


def load_sbom(session: Session, digest: str, platform: str = "") -> Sbom | None:
    row = session.execute(
        select(SbomRow.blob, SbomRow.encoding).where(
            SbomRow.manifest_digest == digest, SbomRow.platform == platform
        )
    ).one_or_none()
    if row is None:
        return None
    if row.encoding != ENCODING:
        raise StoredSbomError(f"stored SBOM of {digest!r}: unknown encoding {row.encoding!r}")
    try:
        return decode_sbom(row.blob)
    except StoredSbomError as e:
        raise StoredSbomError(f"{e} (digest {digest!r}, platform {platform!r})") from e
