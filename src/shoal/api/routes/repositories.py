"""Repositories of a registry (view 1's second level), created as images arrive."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shoal.api.deps import ReadDb
from shoal.api.models_inventory import MAX_ID, Id, RepositoryOut, problems
from shoal.api.pagination import CursorParam, Limit, Page, decode_cursor, next_cursor
from shoal.api.problems import not_found
from shoal.api.security import Permission, authorize
from shoal.db.models import Image, Registry, Repository

router = APIRouter(tags=["repositories"], dependencies=[authorize(Permission.READ)])

_CURSOR = "repositories"


def _out(session: Session, repos: Sequence[Repository]) -> list[RepositoryOut]:
    ids = [r.id for r in repos]
    counts: dict[int, int] = {}
    if ids:
        counts = {
            rid: int(n)
            for rid, n in session.execute(
                select(Image.repository_id, func.count())
                .where(Image.repository_id.in_(ids))
                .group_by(Image.repository_id)
            )
        }
    return [
        RepositoryOut(
            id=r.id,
            registry_id=r.registry_id,
            name=r.name,
            created_at=r.created_at,
            images=counts.get(r.id, 0),
        )
        for r in repos
    ]


@router.get(
    "/repositories",
    summary="List repositories (of one registry, or all), by name",
    response_model=Page[RepositoryOut],
    responses=problems(400),
)
def list_repositories(
    db: ReadDb,
    registry_id: int | None = Query(None, ge=1, le=MAX_ID, description="only this registry's"),
    limit: Limit = 100,
    cursor: CursorParam = None,
) -> Page[RepositoryOut]:
    q = select(Repository).order_by(Repository.name, Repository.id).limit(limit + 1)
    if registry_id is not None:
        q = q.where(Repository.registry_id == registry_id)
    after = decode_cursor(_CURSOR, cursor, (str, int))
    if after is not None:
        name, rid = after
        q = q.where((Repository.name > name) | ((Repository.name == name) & (Repository.id > rid)))
    rows = list(db.scalars(q))
    return Page[RepositoryOut](
        items=_out(db, rows[:limit]),
        next_cursor=next_cursor(_CURSOR, rows, limit, lambda r: [r.name, r.id]),
    )


@router.get(
    "/registries/{registry_id}/repositories",
    summary="List a registry's repositories, by name",
    response_model=Page[RepositoryOut],
    responses=problems(400, 404),
)
def list_registry_repositories(
    registry_id: Id, db: ReadDb, limit: Limit = 100, cursor: CursorParam = None
) -> Page[RepositoryOut]:
    if db.get(Registry, registry_id) is None:
        raise not_found("registry", registry_id)
    return list_repositories(db, registry_id=registry_id, limit=limit, cursor=cursor)


@router.get("/repositories/{repository_id}", summary="Get a repository", responses=problems(404))
def get(repository_id: Id, db: ReadDb) -> RepositoryOut:
    repo = db.get(Repository, repository_id)
    if repo is None:
        raise not_found("repository", repository_id)
    return _out(db, [repo])[0]
