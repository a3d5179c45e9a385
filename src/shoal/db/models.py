"""The service's tables (SQLAlchemy 2 typed declarative models).

    Subscription ─< Registry ─< Repository ─< Image ─< ImageTag
                                               └──< Finding
    Sbom        one per (manifest digest, platform): shared by every repository holding it
    └──< SbomKey  the (ecosystem, name) lookup keys of its packages, hashed: which SBOMs a
                  feed update's changed keys touch is one indexed query, no SBOM decoded
    Event       append-only; its id is the cursor clients resume from
    Job         the work queue; the idempotency key collapses duplicate requests
    DailyCount  open findings per day, subscription, registry, severity and fixable

The Alembic migrations in `shoal/db/migrations` create exactly these tables; a test
compares the two so they never drift. Enums are stored as their string values with a
CHECK constraint (not PostgreSQL enum types), so adding a value is a one-line migration.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shoal.db.types import (
    BigId,
    EventType,
    FindingState,
    JobKind,
    JobState,
    RegistryKind,
    UtcDateTime,
)
from shoal.model.advisory import Rating

# Deterministic constraint names: Alembic can only drop or alter what it can name.
NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DIGEST_LEN = 150  # sha512 is 7 + 128; room for the algorithm names the spec allows
PURL_LEN = 2048


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in cls) + 8,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


class Subscription(Base):
    """A scope of registries with its own plan switch and settings."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    plan_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # {"unhealthy_severity": "medium", "in_use_window_days": 30}; see inventory.SubscriptionSettings
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]

    registries: Mapped[list[Registry]] = relationship(
        back_populates="subscription", cascade="all, delete-orphan", passive_deletes=True
    )


class Registry(Base):
    """One registry endpoint. Credentials are Fernet ciphertext; the webhook secret a hash."""

    __tablename__ = "registries"
    __table_args__ = (UniqueConstraint("subscription_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    kind: Mapped[RegistryKind] = mapped_column(_enum(RegistryKind, "registry_kind"))
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)  # crypto.CredentialCipher
    webhook_secret_hash: Mapped[str] = mapped_column(String(200))  # crypto.hash_webhook_secret
    created_at: Mapped[datetime]

    subscription: Mapped[Subscription] = relationship(back_populates="registries")

    def __repr__(self) -> str:  # never the credentials, not even as ciphertext
        return f"Registry(id={self.id!r}, name={self.name!r}, url={self.url!r})"


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("registry_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registry_id: Mapped[int] = mapped_column(ForeignKey("registries.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]


class Image(Base):
    """One manifest (per platform) in one repository. The same digest pushed again is
    the same row; tags point at it from `ImageTag`."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("repository_id", "digest", "platform"),
        Index("ix_images_last_pulled_at", "last_pulled_at"),
        Index("ix_images_pushed_at", "pushed_at"),
        Index("ix_images_digest", "digest"),
        Index("ix_images_repository_manifest_digest", "repository_id", "manifest_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(DIGEST_LEN))
    platform: Mapped[str] = mapped_column(String(100))  # "linux/amd64"; "" before analysis
    # the platform's own manifest, once analysed: `digest` itself, or for one platform of
    # an index the child manifest a client fetches after the index (its pull is this row's)
    manifest_digest: Mapped[str | None] = mapped_column(String(DIGEST_LEN))
    pushed_at: Mapped[datetime | None]
    last_pulled_at: Mapped[datetime | None]
    last_scanned_at: Mapped[datetime | None]
    analyser_version: Mapped[str | None] = mapped_column(String(100))
    db_version: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


class ImageTag(Base):
    """A tag of a repository; it moves to the newest image pushed under it."""

    __tablename__ = "image_tags"
    __table_args__ = (UniqueConstraint("repository_id", "tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(128))  # the distribution spec's tag limit
    updated_at: Mapped[datetime]


class Sbom(Base):
    """The native JSON SBOM of one manifest digest and platform, zstd-compressed.

    Keyed by content, not by repository: the same image in ten repositories is analysed
    and stored once, and a feed update re-matches it without touching the registry."""

    __tablename__ = "sboms"
    __table_args__ = (UniqueConstraint("manifest_digest", "platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    manifest_digest: Mapped[str] = mapped_column(String(DIGEST_LEN))
    platform: Mapped[str] = mapped_column(String(100))
    analyser_version: Mapped[str] = mapped_column(String(100))
    encoding: Mapped[str] = mapped_column(String(50))  # "shoal-json-1+zstd"
    size: Mapped[int] = mapped_column(Integer)  # uncompressed bytes
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    # version of the key derivation `SbomKey` rows were written with; None: not indexed
    # (stored without keys, or replaced since), so every key selection includes it
    keys_version: Mapped[int | None] = mapped_column(Integer)
    # what matching reads of each package, compact and zstd-compressed
    # (`sboms.encode_match_rows`): a re-match decodes this, ~5x smaller than `blob`
    match_rows: Mapped[bytes | None] = mapped_column(LargeBinary)


class SbomKey(Base):
    """One lookup key of one stored SBOM: 64 bits of SHA-256 over the (ecosystem, name)
    the vulnerability DB indexes a package's advisories by (`sboms.match_key_hash`).

    Hashed, so keys of any length index alike; a collision only re-matches an image that
    did not need it, never misses one."""

    __tablename__ = "sbom_keys"
    __table_args__ = (Index("ix_sbom_keys_key_hash", "key_hash"),)

    sbom_id: Mapped[int] = mapped_column(
        ForeignKey("sboms.id", ondelete="CASCADE"), primary_key=True
    )
    key_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class Finding(Base):
    """One vulnerability of one package in one image, tracked over time."""

    __tablename__ = "findings"
    __table_args__ = (
        # measured with bench/findings_query.py at 1,000,000 findings on PostgreSQL:
        # each serves a filter or sort of the findings view that otherwise scans the table
        Index(
            "ix_findings_image_state_severity",
            "image_id",
            "state",
            "severity",
            "fixable",
            "first_seen",
            "id",
        ),
        Index("ix_findings_state_severity_first_seen", "state", "severity", "first_seen", "id"),
        Index("ix_findings_package_name_first_seen", "package_name", "first_seen", "id"),
        Index("ix_findings_package_purl", "package_purl"),
        Index("ix_findings_vulnerability_id", "vulnerability_id"),
        Index("ix_findings_first_seen_id", "first_seen", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # findings.image_finding_id
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    package_purl: Mapped[str] = mapped_column(String(PURL_LEN))
    package_name: Mapped[str] = mapped_column(String(500))
    package_version: Mapped[str] = mapped_column(String(200))
    vulnerability_id: Mapped[str] = mapped_column(String(100))
    severity: Mapped[Rating] = mapped_column(_enum(Rating, "severity"))
    fixable: Mapped[bool] = mapped_column(Boolean)
    fixed_versions: Mapped[list[str]] = mapped_column(JSON, default=list)
    layer_diff_id: Mapped[str | None] = mapped_column(String(DIGEST_LEN))
    state: Mapped[FindingState] = mapped_column(_enum(FindingState, "finding_state"))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # who decided a finding does not apply says why; kept when the exemption is lifted
    exemption_reason: Mapped[str | None] = mapped_column(Text)
    exempted_at: Mapped[datetime | None]


class Event(Base):
    """An append-only record of something that happened; `id` is the resume cursor.

    Subject ids carry no foreign keys on purpose: the log outlives what it talks about."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[EventType] = mapped_column(_enum(EventType, "event_type"))
    subscription_id: Mapped[int | None] = mapped_column(Integer)
    registry_id: Mapped[int | None] = mapped_column(Integer)
    image_id: Mapped[int | None] = mapped_column(Integer)
    finding_id: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class Job(Base):
    """One unit of work. `idempotency_key` is unique: enqueueing it again is a no-op."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind, "job_kind"))
    idempotency_key: Mapped[str] = mapped_column(String(500), unique=True)
    state: Mapped[JobState] = mapped_column(_enum(JobState, "job_state"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class DailyCount(Base):
    """Open findings on one day for one (subscription, registry, severity, fixable)."""

    __tablename__ = "daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    registry_id: Mapped[int] = mapped_column(
        ForeignKey("registries.id", ondelete="CASCADE"), primary_key=True
    )
    severity: Mapped[Rating] = mapped_column(_enum(Rating, "severity"), primary_key=True)
    fixable: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    open_count: Mapped[int] = mapped_column(Integer)
