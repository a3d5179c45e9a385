"""Images (view 1's third level): one row per manifest digest and platform.

The tags an image shows are those of every row of its digest in its repository (an
index scanned per platform keeps its tags on one row; each platform shows them). The
OS comes from the stored SBOM; counts are of open findings (exempted and fixed ones
are left out), by severity, with how many have a fixed version.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from fastapi import APIRouter, Query
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from shoal.api.deps import ReadDb
from shoal.api.models_inventory import (
    DIGEST_PATTERN,
    MAX_ID,
    TAG_PATTERN,
    TEXT_PATTERN,
    Id,
    ImageDetail,
    ImageOut,
    OsOut,
    problems,
)
from shoal.api.pagination import CursorParam, Limit, Page, decode_cursor, next_cursor
from shoal.api.problems import not_found
from shoal.api.security import Permission, authorize
from shoal.api.views_models import SeverityCounts
from shoal.db.errors import DbError
from shoal.db.models import Finding, Image, ImageTag, Repository
from shoal.db.sboms import load_sbom
from shoal.db.types import FindingState
from shoal.service.assess import image_health, image_scope

log = logging.getLogger("shoal.api.images")

router = APIRouter(tags=["images"], dependencies=[authorize(Permission.READ)])

_CURSOR = "images"
DIGEST_MAX = 150


def _tags(session: Session, images: Sequence[Image]) -> dict[tuple[int, str], list[str]]:
    """Tags per (repository id, digest) for the given images, in one query."""
    if not images:
        return {}
    repo_ids = {i.repository_id for i in images}
    digests = {i.digest for i in images}
    out: dict[tuple[int, str], set[str]] = defaultdict(set)
    for repo_id, digest, tag in session.execute(
        select(Image.repository_id, Image.digest, ImageTag.tag)
        .join(ImageTag, ImageTag.image_id == Image.id)
        .where(Image.repository_id.in_(repo_ids), Image.digest.in_(digests))
    ):
        out[(repo_id, digest)].add(tag)
    return {k: sorted(v) for k, v in out.items()}


def _summaries(session: Session, rows: Sequence[tuple[Image, Repository]]) -> list[ImageOut]:
    tags = _tags(session, [img for img, _ in rows])
    return [
        ImageOut(
            id=img.id,
            registry_id=repo.registry_id,
            repository_id=repo.id,
            repository=repo.name,
            digest=img.digest,
            platform=img.platform,
            tags=tags.get((img.repository_id, img.digest), []),
            pushed_at=img.pushed_at,
            last_pulled_at=img.last_pulled_at,
            last_scanned_at=img.last_scanned_at,
            analyser_version=img.analyser_version,
            db_version=img.db_version,
        )
        for img, repo in rows
    ]


@router.get(
    "/images",
    summary="List images, filtered by registry, repository, tag or digest",
    response_model=Page[ImageOut],
    responses=problems(400),
)
def list_images(
    db: ReadDb,
    registry_id: int | None = Query(None, ge=1, le=MAX_ID),
    repository_id: int | None = Query(None, ge=1, le=MAX_ID),
    repository: str | None = Query(
        None, max_length=255, pattern=TEXT_PATTERN, description="repository name"
    ),
    tag: str | None = Query(None, pattern=TAG_PATTERN, description="images this tag names"),
    digest: str | None = Query(
        None, max_length=DIGEST_MAX, pattern=DIGEST_PATTERN, description="manifest digest"
    ),
    limit: Limit = 100,
    cursor: CursorParam = None,
) -> Page[ImageOut]:
    q = (
        select(Image, Repository)
        .join(Repository, Repository.id == Image.repository_id)
        .order_by(Image.id)
        .limit(limit + 1)
    )
    if registry_id is not None:
        q = q.where(Repository.registry_id == registry_id)
    if repository_id is not None:
        q = q.where(Image.repository_id == repository_id)
    if repository is not None:
        q = q.where(Repository.name == repository)
    if digest is not None:
        q = q.where(Image.digest == digest)
    if tag is not None:
        tagged = aliased(Image)
        q = q.where(
            exists(
                select(ImageTag.id)
                .join(tagged, tagged.id == ImageTag.image_id)
                .where(
                    ImageTag.tag == tag,
                    and_(
                        tagged.repository_id == Image.repository_id,
                        tagged.digest == Image.digest,
                    ),
                )
            )
        )
    after = decode_cursor(_CURSOR, cursor, (int,))
    if after is not None:
        q = q.where(Image.id > after[0])
    rows = [(img, repo) for img, repo in db.execute(q)]
    return Page[ImageOut](
        items=_summaries(db, rows[:limit]),
        next_cursor=next_cursor(_CURSOR, rows, limit, lambda r: [r[0].id]),
    )


@router.get(
    "/images/{image_id}",
    summary="Get an image: tags, digest, platform, OS, times, versions, open findings",
    responses=problems(404),
)
def get(image_id: Id, db: ReadDb) -> ImageDetail:
    row = db.execute(
        select(Image, Repository)
        .join(Repository, Repository.id == Image.repository_id)
        .where(Image.id == image_id)
    ).one_or_none()
    if row is None:
        raise not_found("image", image_id)
    image, repo = row
    [summary] = _summaries(db, [(image, repo)])
    counts: dict[str, int] = {}
    for severity, n in db.execute(
        select(Finding.severity, func.count())
        .where(Finding.image_id == image.id, Finding.state == FindingState.OPEN)
        .group_by(Finding.severity)
    ):
        counts[severity.value] = int(n)
    fixable = db.scalar(
        select(func.count()).where(
            Finding.image_id == image.id,
            Finding.state == FindingState.OPEN,
            Finding.fixable.is_(True),
        )
    )
    scope = image_scope(db, image)
    return ImageDetail(
        **summary.model_dump(),
        os=_os(db, image),
        health=image_health(db, image, scope.threshold).value,
        open_findings=SeverityCounts(**counts),
        fixable=int(fixable or 0),
    )


def _os(session: Session, image: Image) -> OsOut | None:
    try:
        sbom = load_sbom(session, image.digest, image.platform)
    except DbError as e:  # our own data damaged: say so in the log, show what we can
        log.warning("image %s: stored SBOM unreadable: %s", image.id, e)
        return None
    if sbom is None or sbom.distro is None:
        return None
    d = sbom.distro
    return OsOut(id=d.id, version_id=d.version_id, pretty_name=d.pretty_name)
