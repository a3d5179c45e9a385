"""Assessments: the recommendation "Container registry images should have
vulnerability findings resolved" per subscription, registry, repository and image.

    GET /assessments?scope=registry&subscription_id=1    every registry's, paged
    GET /assessments/registries/7                          one registry's
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from shoal.api.deps import ReadDb
from shoal.api.pagination import CursorParam, Limit, Page
from shoal.api.security import Permission, authorize
from shoal.api.views_common import problems
from shoal.api.views_models import (
    AssessmentOut,
    ImageHealthCounts,
    RecommendationRef,
    ScopeRef,
    SeverityCounts,
)
from shoal.service.views.assessments import (
    RECOMMENDATION,
    RECOMMENDATION_KEY,
    Assessment,
    ScopeKind,
    get_assessment,
    list_assessments,
)

router = APIRouter(tags=["assessments"], dependencies=[authorize(Permission.READ)])

Id = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
PathId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def assessment_out(a: Assessment) -> AssessmentOut:
    return AssessmentOut(
        recommendation=RecommendationRef(key=RECOMMENDATION_KEY, display_name=RECOMMENDATION),
        scope=ScopeRef(kind=a.kind.value, id=a.id, name=a.name),
        subscription_id=a.subscription_id,
        status=a.status,
        cause=a.cause.value if a.cause else None,
        threshold=a.threshold,
        open_findings=SeverityCounts.of(a.open_by_severity),
        open_total=a.open_findings,
        fixable=a.fixable,
        images=ImageHealthCounts(
            total=a.images,
            scanned=a.scanned_images,
            healthy=a.healthy_images,
            unhealthy=a.unhealthy_images,
            not_applicable=a.images - a.scanned_images,
        ),
        last_scanned_at=a.last_scanned_at,
    )


@router.get(
    "/assessments", response_model=Page[AssessmentOut], summary="Assessments of one kind of scope"
)
def assessments_list(
    db: ReadDb,
    scope: ScopeKind = ScopeKind.SUBSCRIPTION,
    subscription_id: Id = None,
    registry_id: Id = None,
    repository_id: Id = None,
    cursor: CursorParam = None,
    limit: Limit = 100,
) -> Page[AssessmentOut]:
    with problems():
        page = list_assessments(
            db,
            scope,
            subscription_id=subscription_id,
            registry_id=registry_id,
            repository_id=repository_id,
            cursor=cursor,
            limit=limit,
        )
    return Page[AssessmentOut](
        items=[assessment_out(a) for a in page.items], next_cursor=page.next_cursor
    )


def _one(db: ReadDb, kind: ScopeKind, scope_id: int) -> AssessmentOut:
    with problems():
        return assessment_out(get_assessment(db, kind, scope_id))


@router.get("/assessments/subscriptions/{subscription_id}", response_model=AssessmentOut)
def assessment_subscription(db: ReadDb, subscription_id: PathId) -> AssessmentOut:
    return _one(db, ScopeKind.SUBSCRIPTION, subscription_id)


@router.get("/assessments/registries/{registry_id}", response_model=AssessmentOut)
def assessment_registry(db: ReadDb, registry_id: PathId) -> AssessmentOut:
    return _one(db, ScopeKind.REGISTRY, registry_id)


@router.get("/assessments/repositories/{repository_id}", response_model=AssessmentOut)
def assessment_repository(db: ReadDb, repository_id: PathId) -> AssessmentOut:
    return _one(db, ScopeKind.REPOSITORY, repository_id)


@router.get("/assessments/images/{image_id}", response_model=AssessmentOut)
def assessment_image(db: ReadDb, image_id: PathId) -> AssessmentOut:
    return _one(db, ScopeKind.IMAGE, image_id)
