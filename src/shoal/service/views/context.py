"""Where an image sits in the resource tree, fetched for a page of rows at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from shoal.db.models import Image, ImageTag, Registry, Repository


@dataclass(frozen=True, slots=True)
class ImageContext:
    image_id: int
    digest: str
    platform: str
    pushed_at: datetime | None
    last_scanned_at: datetime | None
    repository_id: int
    repository_name: str
    registry_id: int
    registry_name: str
    registry_url: str
    subscription_id: int
    tags: tuple[str, ...]

    @property
    def registry_host(self) -> str:
        """`host[:port]` of the registry URL (what image references start with)."""
        return urlsplit(self.registry_url).netloc or self.registry_url


def image_contexts(session: Session, image_ids: Iterable[int]) -> dict[int, ImageContext]:
    """The contexts of the given images (two queries, however many images)."""
    ids = sorted(set(image_ids))
    if not ids:
        return {}
    tags: dict[int, list[str]] = {}
    out: dict[int, ImageContext] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for image_id, tag in session.execute(
            select(ImageTag.image_id, ImageTag.tag)
            .where(ImageTag.image_id.in_(chunk))
            .order_by(ImageTag.image_id, ImageTag.tag)
        ):
            tags.setdefault(image_id, []).append(tag)
        rows = session.execute(
            select(
                Image.id,
                Image.digest,
                Image.platform,
                Image.pushed_at,
                Image.last_scanned_at,
                Repository.id,
                Repository.name,
                Registry.id,
                Registry.name,
                Registry.url,
                Registry.subscription_id,
            )
            .join(Repository, Repository.id == Image.repository_id)
            .join(Registry, Registry.id == Repository.registry_id)
            .where(Image.id.in_(chunk))
        )
        for r in rows:
            out[r[0]] = ImageContext(
                image_id=r[0],
                digest=r[1],
                platform=r[2],
                pushed_at=r[3],
                last_scanned_at=r[4],
                repository_id=r[5],
                repository_name=r[6],
                registry_id=r[7],
                registry_name=r[8],
                registry_url=r[9],
                subscription_id=r[10],
                tags=tuple(tags.get(r[0], ())),
            )
    return out
