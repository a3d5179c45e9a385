"""Subscriptions, registries, repositories, images and tags: the resource tree.

Functions take a `Session` and leave committing to the caller, so one request's changes
land together. Writes that webhooks repeat (a push delivered twice, a pull of a known
digest) are upserts: the same digest pushed again is the same `Image` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from shoal.db.crypto import (
    CredentialCipher,
    RegistryCredentials,
    hash_webhook_secret,
    new_webhook_secret,
    verify_webhook_secret,
)
from shoal.db.dialect import insert_for
from shoal.db.errors import DbError
from shoal.db.models import Image, ImageTag, Registry, Repository, Subscription
from shoal.db.types import RegistryKind
from shoal.model.advisory import Rating
from shoal.model.digest import InvalidDigest, parse_digest
from shoal.model.sbom import Platform
from shoal.oci.reference import NAME_TOTAL_LENGTH_MAX, PATH_RE, TAG_RE, registry_of_url

MAX_WINDOW_DAYS = 3650


@dataclass(frozen=True, slots=True)
class SubscriptionSettings:
    """A subscription's knobs, with the issue's defaults."""

    unhealthy_severity: Rating = Rating.MEDIUM  # a finding at or above this is unhealthy
    in_use_window_days: int = 30  # pulled or pushed this recently: re-assessed daily

    def to_json(self) -> dict[str, Any]:
        return {
            "unhealthy_severity": self.unhealthy_severity.value,
            "in_use_window_days": self.in_use_window_days,
        }

    @classmethod
    def from_json(cls, doc: Any) -> SubscriptionSettings:
        """Validated settings; unknown keys and bad values raise ValueError (one line)."""
        if not isinstance(doc, dict):
            raise ValueError(f"subscription settings: expected an object, got {type(doc).__name__}")
        unknown = sorted(set(doc) - {"unhealthy_severity", "in_use_window_days"})
        if unknown:
            raise ValueError(f"subscription settings: unknown key {str(unknown[0])[:60]!r}")
        sev = doc.get("unhealthy_severity", Rating.MEDIUM.value)
        allowed = [r.value for r in Rating if r is not Rating.UNKNOWN]
        if not isinstance(sev, str) or sev not in allowed:
            raise ValueError(
                f"subscription settings: unhealthy_severity {str(sev)[:60]!r} is not one of "
                f"{', '.join(allowed)}"
            )
        days = doc.get("in_use_window_days", 30)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WINDOW_DAYS:
            raise ValueError(
                f"subscription settings: in_use_window_days {str(days)[:60]!r} is not a "
                f"whole number of days from 1 to {MAX_WINDOW_DAYS}"
            )
        return cls(Rating(sev), days)


def create_subscription(
    session: Session,
    name: str,
    *,
    plan_enabled: bool = True,
    settings: SubscriptionSettings | None = None,
    now: datetime | None = None,
) -> Subscription:
    sub = Subscription(
        name=name,
        plan_enabled=plan_enabled,
        settings=(settings or SubscriptionSettings()).to_json(),
        created_at=now or _now(),
    )
    session.add(sub)
    session.flush()
    return sub


def subscription_settings(sub: Subscription) -> SubscriptionSettings:
    """The subscription's stored settings; a row edited into nonsense raises DbError."""
    try:
        return SubscriptionSettings.from_json(sub.settings)
    except ValueError as e:
        raise DbError(f"subscription {sub.id}: {e}") from e


@dataclass(frozen=True, slots=True)
class NewRegistry:
    """A registry just created, with its webhook secret: shown this once, stored hashed."""

    registry: Registry
    webhook_secret: str


def create_registry(
    session: Session,
    subscription_id: int,
    name: str,
    url: str,
    kind: RegistryKind,
    *,
    cipher: CredentialCipher,
    credentials: RegistryCredentials | None = None,
    now: datetime | None = None,
) -> NewRegistry:
    secret = new_webhook_secret()
    reg = Registry(
        subscription_id=subscription_id,
        name=name,
        url=url,
        kind=kind,
        credentials=cipher.encrypt(credentials) if credentials else None,
        webhook_secret_hash=hash_webhook_secret(secret),
        created_at=now or _now(),
    )
    session.add(reg)
    session.flush()
    return NewRegistry(reg, secret)


def registry_at(session: Session, url: str, *, but: int | None = None) -> Registry | None:
    """The registry (other than `but`) at the same place as `url`, as image references
    name it (`registry_of_url`): a registry is added once, since finding ids name its
    images by that place."""
    where = registry_of_url(url)
    for reg in session.scalars(select(Registry).order_by(Registry.id)):
        if reg.id != but and registry_of_url(reg.url) == where:
            return reg
    return None


def set_registry_credentials(
    reg: Registry, credentials: RegistryCredentials | None, *, cipher: CredentialCipher
) -> None:
    reg.credentials = cipher.encrypt(credentials) if credentials else None


def registry_credentials(reg: Registry, *, cipher: CredentialCipher) -> RegistryCredentials | None:
    return cipher.decrypt(reg.credentials) if reg.credentials else None


def rotate_webhook_secret(reg: Registry) -> str:
    """A new webhook secret for the registry; the old one stops working."""
    secret = new_webhook_secret()
    reg.webhook_secret_hash = hash_webhook_secret(secret)
    return secret


def check_webhook_secret(reg: Registry, presented: str | bytes) -> bool:
    return verify_webhook_secret(reg.webhook_secret_hash, presented)


def check_repository_name(name: str) -> None:
    """ValueError unless `name` is a repository name the distribution spec allows."""
    if len(name) > NAME_TOTAL_LENGTH_MAX or not PATH_RE.fullmatch(name):
        raise ValueError(f"invalid repository name {name[:100]!r}")


def check_image_key(digest: str, platform: str) -> None:
    """ValueError unless `digest` is a sha256/sha512 digest and `platform` is "" or
    os/arch[/variant]. Webhook bodies reach here: checking keeps junk out of the key."""
    try:
        parse_digest(digest)
    except InvalidDigest as e:
        raise ValueError(str(e)) from e
    if platform:
        try:
            Platform.parse(platform)
        except ValueError as e:
            raise ValueError(str(e)[:200]) from e
        if len(platform) > 100:
            raise ValueError(f"invalid platform {platform[:100]!r}: too long")


def check_tag(tag: str) -> None:
    if not TAG_RE.fullmatch(tag):
        raise ValueError(f"invalid tag {tag[:200]!r}")


def ensure_repository(
    session: Session, registry_id: int, name: str, *, now: datetime | None = None
) -> Repository:
    """The registry's repository `name`, created on first sight (concurrency-safe)."""
    check_repository_name(name)
    stmt = (
        insert_for(session, Repository)
        .values(registry_id=registry_id, name=name, created_at=now or _now())
        .on_conflict_do_nothing(index_elements=["registry_id", "name"])
    )
    session.execute(stmt)
    return session.scalars(
        select(Repository).where(Repository.registry_id == registry_id, Repository.name == name)
    ).one()


def record_push(
    session: Session,
    repository_id: int,
    digest: str,
    *,
    platform: str = "",
    tags: Sequence[str] = (),
    at: datetime | None = None,
) -> Image:
    """The image for a pushed manifest: one row however often the digest is pushed;
    `pushed_at` is the latest push and each tag moves to this image. ValueError for a
    malformed digest, platform or tag (before anything is written)."""
    check_image_key(digest, platform)
    for tag in tags:
        check_tag(tag)
    at = at or _now()
    stmt = (
        insert_for(session, Image)
        .values(
            repository_id=repository_id,
            digest=digest,
            platform=platform,
            pushed_at=at,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=["repository_id", "digest", "platform"])
    )
    session.execute(stmt)
    image = session.scalars(
        select(Image).where(
            Image.repository_id == repository_id, Image.digest == digest, Image.platform == platform
        )
    ).one()
    if image.pushed_at is None or image.pushed_at < at:
        image.pushed_at = at
    for tag in tags:
        tag_image(session, image, tag, at=at)
    session.flush()
    return image


def tag_image(session: Session, image: Image, tag: str, *, at: datetime | None = None) -> None:
    """Point `tag` of the image's repository at `image` (moving it from another image)."""
    check_tag(tag)
    at = at or _now()
    ins = insert_for(session, ImageTag).values(
        repository_id=image.repository_id, image_id=image.id, tag=tag, updated_at=at
    )
    session.execute(
        ins.on_conflict_do_update(
            index_elements=["repository_id", "tag"],
            set_={"image_id": ins.excluded.image_id, "updated_at": ins.excluded.updated_at},
        )
    )


def image_tags(session: Session, image_id: int) -> list[str]:
    return list(
        session.scalars(
            select(ImageTag.tag).where(ImageTag.image_id == image_id).order_by(ImageTag.tag)
        )
    )


def pulled_as(repository_id: int, digest: str) -> ColumnElement[bool]:
    """The image rows a pull of `digest` in the repository is a pull of: the digest's own
    rows, and the platform of an index whose manifest `digest` is."""
    return and_(
        Image.repository_id == repository_id,
        or_(Image.digest == digest, Image.manifest_digest == digest),
    )


def record_pull(
    session: Session, repository_id: int, digest: str, *, at: datetime | None = None
) -> int:
    """Note a pull of `digest`: every platform of it, or the one platform of an index
    whose own manifest it is (a client fetches the index, then its platform's manifest);
    returns the images updated. An older event delivered late never moves
    `last_pulled_at` back."""
    at = at or _now()
    result = session.execute(
        update(Image)
        .where(
            pulled_as(repository_id, digest),
            or_(Image.last_pulled_at.is_(None), Image.last_pulled_at < at),
        )
        .values(last_pulled_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_scanned(
    session: Session,
    image: Image,
    *,
    analyser_version: str,
    db_version: str | None,
    at: datetime | None = None,
) -> None:
    image.last_scanned_at = at or _now()
    image.analyser_version = analyser_version
    image.db_version = db_version


def images_in_use(
    session: Session, subscription_id: int, *, now: datetime | None = None
) -> list[Image]:
    """Images of the subscription pulled or pushed within its in-use window, which are
    the ones continuous re-assessment covers."""
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise DbError(f"subscription {subscription_id} does not exist")
    since = (now or _now()) - timedelta(days=subscription_settings(sub).in_use_window_days)
    return list(
        session.scalars(
            select(Image)
            .join(Repository, Repository.id == Image.repository_id)
            .join(Registry, Registry.id == Repository.registry_id)
            .where(
                Registry.subscription_id == subscription_id,
                or_(Image.last_pulled_at >= since, Image.pushed_at >= since),
            )
            .order_by(Image.id)
        )
    )


def _now() -> datetime:
    return datetime.now(UTC)
