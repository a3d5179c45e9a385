"""Sub-assessments shaped like Azure Security Center's container-registry ones, so
tools written for that API read shoal's findings (see `service/views/subassessments.py`).

    GET /subscriptions/{id}/assessments/{assessmentKey}/subAssessments
    GET /subscriptions/{id}/assessments/{assessmentKey}/subAssessments/{name}
    GET /subscriptions/{id}/subAssessments      (every one, in the MDVM shape)

Paging as Azure's: `{value, nextLink}`; follow `nextLink` (it carries `$skipToken`).
`api-version` is accepted and ignored, so Azure clients' URLs work unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from shoal.api.deps import Ctx, ReadDb
from shoal.api.security import Permission, authorize
from shoal.api.views_common import problems
from shoal.api.views_models import SubAssessmentList
from shoal.service.views.cursor import MAX_CURSOR, MAX_LIMIT
from shoal.service.views.subassessments import (
    AssessmentKey,
    get_subassessment,
    list_subassessments,
    parse_key,
)

router = APIRouter(tags=["sub-assessments"], dependencies=[authorize(Permission.READ)])

SubId = Annotated[int, Path(ge=1, le=2**31 - 1)]
SkipToken = Annotated[str | None, Query(alias="$skipToken", max_length=MAX_CURSOR)]
Top = Annotated[int, Query(alias="$top", ge=1, le=MAX_LIMIT, description="page size")]
ApiVersion = Annotated[str | None, Query(alias="api-version", max_length=50)]


def _list(
    request: Request,
    ctx: Ctx,
    db: ReadDb,
    sub: int,
    key: AssessmentKey,
    token: str | None,
    top: int,
) -> SubAssessmentList:
    with problems():
        page = list_subassessments(db, ctx, sub, key, cursor=token, limit=top)
    link = None
    if page.next_cursor is not None:
        link = str(request.url.include_query_params(**{"$skipToken": page.next_cursor}))
    return SubAssessmentList(value=list(page.items), nextLink=link)


@router.get(
    "/subscriptions/{subscription_id}/subAssessments",
    response_model=SubAssessmentList,
    summary="Every sub-assessment of the subscription (Azure MDVM shape)",
)
def subassessments_all(
    request: Request,
    ctx: Ctx,
    db: ReadDb,
    subscription_id: SubId,
    skip_token: SkipToken = None,
    top: Top = 100,
    api_version: ApiVersion = None,
) -> SubAssessmentList:
    return _list(request, ctx, db, subscription_id, AssessmentKey.MDVM, skip_token, top)


@router.get(
    "/subscriptions/{subscription_id}/assessments/{assessment_key}/subAssessments",
    response_model=SubAssessmentList,
    summary="Sub-assessments of one assessment (its key picks the Azure shape)",
)
def subassessments_list(
    request: Request,
    ctx: Ctx,
    db: ReadDb,
    subscription_id: SubId,
    assessment_key: str,
    skip_token: SkipToken = None,
    top: Top = 100,
    api_version: ApiVersion = None,
) -> SubAssessmentList:
    with problems():
        key = parse_key(assessment_key)
    return _list(request, ctx, db, subscription_id, key, skip_token, top)


@router.get(
    "/subscriptions/{subscription_id}/assessments/{assessment_key}/subAssessments/{name}",
    summary="One sub-assessment (its name is the finding id)",
)
def subassessment_get(
    ctx: Ctx,
    db: ReadDb,
    subscription_id: SubId,
    assessment_key: str,
    name: str,
    api_version: ApiVersion = None,
) -> dict[str, Any]:
    with problems():
        return get_subassessment(db, ctx, subscription_id, parse_key(assessment_key), name)
