"""SBOMs stored once per (manifest digest, platform), as zstd-compressed native JSON.

Re-matching after a feed update reads SBOMs from here, never from the registry. An SBOM
made by another analyser version is replaced; the same analyser storing it again is a
no-op. A blob that does not decode is corruption of our own data, so it raises
`StoredSbomError` rather than passing as an empty SBOM.

Each stored SBOM can carry its lookup keys (`SbomKey`: the (ecosystem, name) pairs the
vulnerability DB indexes its packages' advisories by, hashed), so a feed update's changed
keys select the images to re-match in one indexed query. The keys come from the matchers
(`shoal.match`), which this layer cannot import: callers pass them with the version of
the derivation. An SBOM stored or replaced without keys has `keys_version` None and
counts as touched by every update until a re-match indexes it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime

import zstandard
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shoal.config import Limits
from shoal.db.dialect import insert_for
from shoal.db.errors import StoredSbomError
from shoal.db.models import Sbom as SbomRow
from shoal.db.models import SbomKey
from shoal.errors import ShoalError
from shoal.export.json import from_native_json, to_native
from shoal.model import Sbom
from shoal.model.package import Distro, Package, PackageType

ENCODING = "shoal-json-1+zstd"
_LEVEL = 6  # ~5x on SBOM JSON; levels above cost far more CPU for a few percent
_KEY_ROWS = 1000  # key rows per INSERT


def match_key_hash(ecosystem: str, name: str) -> int:
    """The signed 64-bit hash `sbom_keys` stores for a lookup key (ecosystem compared
    case-insensitively, as the vulnerability DB indexes it)."""
    raw = hashlib.sha256(f"{ecosystem.lower()}\n{name}".encode()).digest()[:8]
    return int.from_bytes(raw, "big", signed=True)


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
        return from_native_json(raw, max_bytes=limit, validate=False)
    except ShoalError as e:
        raise StoredSbomError(f"stored SBOM: {e}") from e


MATCH_ROWS_VERSION = 1


def encode_match_rows(sbom: Sbom) -> bytes:
    """What matching reads of each package (all but locations, licences and the layer's
    history line), as compact zstd-compressed JSON: one array per package, the
    distributions listed once."""
    distros: dict[Distro, int] = {}
    rows: list[list[object]] = []
    for p in sbom.packages:
        d = -1
        if p.distro is not None:
            d = distros.setdefault(p.distro, len(distros))
        rows.append(
            [
                p.name,
                p.version,
                p.type.value,
                p.cataloger,
                p.arch,
                p.source_name,
                p.source_version,
                p.namespace,
                [list(m) for m in p.metadata],
                p.layer,
                d,
            ]
        )
    doc = {
        "v": MATCH_ROWS_VERSION,
        "d": [
            [d.id, d.version_id, d.version_codename, d.name, d.pretty_name, list(d.id_like)]
            for d in distros
        ],
        "p": rows,
    }
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return zstandard.ZstdCompressor(level=_LEVEL).compress(raw)


# What matching and the purl read of a package: all but locations, layer, the layer's
# history line and licences (`shoal.scan.memo` keys its memo by it).
PackageIdentity = tuple[
    str,  # name
    str,  # version
    PackageType,
    str,  # cataloger
    str | None,  # arch
    str | None,  # source_name
    str | None,  # source_version
    str | None,  # namespace
    tuple[tuple[str, str], ...],  # metadata
    Distro | None,
]


def package_identity(p: Package) -> PackageIdentity:
    return (
        p.name,
        p.version,
        p.type,
        p.cataloger,
        p.arch,
        p.source_name,
        p.source_version,
        p.namespace,
        p.metadata,
        p.distro,
    )


def package_from_identity(ident: PackageIdentity, layer: str | None) -> Package:
    name, version, type_, cataloger, arch, src, src_version, namespace, metadata, distro = ident
    return Package(
        name=name,
        version=version,
        type=type_,
        cataloger=cataloger,
        arch=arch,
        source_name=src,
        source_version=src_version,
        namespace=namespace,
        metadata=metadata,
        layer=layer,
        distro=distro,
    )


def decode_match_identities(
    blob: bytes, *, max_bytes: int | None = None
) -> list[tuple[PackageIdentity, str | None]]:
    """(identity, layer) of each package of `encode_match_rows`, in SBOM order, without
    building `Package` objects; `StoredSbomError` (one line) when it does not decode."""
    limit = max_bytes if max_bytes is not None else Limits.model_validate({}).metadata_bytes
    try:
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read(limit + 1)
    except zstandard.ZstdError as e:
        raise StoredSbomError(f"stored match rows: not zstd data ({e})") from e
    if len(raw) > limit:
        raise StoredSbomError(f"stored match rows: over {limit} bytes uncompressed")
    try:
        doc = json.loads(raw)
        if doc["v"] != MATCH_ROWS_VERSION:
            raise ValueError(f"version {doc['v']!r}")
        distros = [
            Distro(
                id=i, version_id=v, version_codename=c, name=n, pretty_name=pn, id_like=tuple(il)
            )
            for i, v, c, n, pn, il in doc["d"]
        ]
        types = {t.value: t for t in PackageType}
        out: list[tuple[PackageIdentity, str | None]] = []
        for name, version, type_, cataloger, arch, src, src_version, namespace, metadata, layer, d in doc["p"]:  # fmt: skip
            meta = tuple((k, v) for k, v in metadata) if metadata else ()
            ident = (name, version, types[type_], cataloger, arch, src, src_version, namespace,
                     meta, distros[d] if d >= 0 else None)  # fmt: skip
            if not isinstance(name, str) or not isinstance(version, str):
                raise ValueError("package without a name or version")
            out.append((ident, layer))
        return out
    except (ValueError, KeyError, TypeError, IndexError, RecursionError) as e:
        raise StoredSbomError(f"stored match rows: {type(e).__name__}: {str(e)[:120]}") from e


def decode_match_rows(blob: bytes, *, max_bytes: int | None = None) -> list[Package]:
    """The packages of `encode_match_rows` (without locations, licences, history line)."""
    return [
        package_from_identity(i, layer)
        for i, layer in decode_match_identities(blob, max_bytes=max_bytes)
    ]


def store_sbom(
    session: Session,
    sbom: Sbom,
    analyser_version: str,
    *,
    now: datetime | None = None,
    match_keys: Iterable[tuple[str, str]] | None = None,
    keys_version: int | None = None,
) -> bool:
    """Store the image's SBOM unless this analyser version already did; True if written.

    `match_keys` (with the `keys_version` of their derivation) index the SBOM for
    feed-update selection; without them a written SBOM is left unindexed."""
    if match_keys is not None and keys_version is None:
        raise ValueError("store_sbom: match_keys need the keys_version they were derived with")
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
        match_rows=encode_match_rows(sbom),
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
            "match_rows": ins.excluded.match_rows,
            "keys_version": None,  # the old keys describe the old content
        },
        where=SbomRow.analyser_version != ins.excluded.analyser_version,
    ).returning(SbomRow.id)
    # RETURNING, not rowcount: through psycopg this INSERT reports rowcount -1 either way
    row = session.execute(stmt).first()
    if row is None:
        return False
    if match_keys is not None and keys_version is not None:
        index_sbom_keys(session, int(row[0]), match_keys, keys_version)
    else:
        session.execute(delete(SbomKey).where(SbomKey.sbom_id == row[0]))
    return True


def index_sbom_keys(
    session: Session, sbom_id: int, match_keys: Iterable[tuple[str, str]], keys_version: int
) -> None:
    """Replace the stored SBOM's lookup keys and note the derivation's version."""
    hashes = sorted({match_key_hash(e, n) for e, n in match_keys})
    session.execute(delete(SbomKey).where(SbomKey.sbom_id == sbom_id))
    for i in range(0, len(hashes), _KEY_ROWS):
        session.execute(
            insert_for(session, SbomKey),
            [{"sbom_id": sbom_id, "key_hash": h} for h in hashes[i : i + _KEY_ROWS]],
        )
    session.execute(
        update(SbomRow)
        .where(SbomRow.id == sbom_id)
        .values(keys_version=keys_version)
        .execution_options(synchronize_session=False)
    )


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
