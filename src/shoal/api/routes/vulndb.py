"""The vulnerability data: its status, an update on demand, and the status of any job.

An update runs as a job (`JobKind.UPDATE_FEEDS`) like the scheduler's: the DB is rebuilt
on a copy from the bundled snapshots, or upstream when the service runs with
`vulndb.online`; then exactly the in-use images the change touches are re-matched from
their stored SBOMs. Where inputs come from is the operator's setting, not the caller's:
the API takes only which sources and whether to re-read unchanged inputs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from shoal.api.deps import Ctx, ReadDb, WriteDb
from shoal.api.models_inventory import JobId, JobOut, problems
from shoal.api.problems import Problem, not_found
from shoal.api.routes.scans import job_out
from shoal.api.security import Permission, authorize
from shoal.db.models import Job
from shoal.errors import ShoalError
from shoal.service.feeds import submit_feed_update
from shoal.vulndb.status import db_status

JOB_PATH = "/api/v1/jobs/{id}"

reader = APIRouter(tags=["vulnerability data"], dependencies=[authorize(Permission.READ)])
writer = APIRouter(tags=["vulnerability data"], dependencies=[authorize(Permission.WRITE)])


class FeedUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="feed names to update (e.g. 'osv/PyPI'); empty: the configured ones",
        examples=[["osv/PyPI", "osv/Go"]],
    )
    force: StrictBool = Field(False, description="re-read inputs whose hash did not change")


@reader.get(
    "/vulnerability-db",
    summary="What the vulnerability data holds, where each source came from, how old it is",
    responses=problems(503),
)
async def vulndb_status(ctx: Ctx) -> dict[str, Any]:
    try:
        status = await run_in_threadpool(db_status, ctx.settings.vulndb.path, now=ctx.clock.now())
    except ShoalError as e:
        raise Problem(503, "Vulnerability data unavailable", str(e), type_="vulndb") from e
    out = status.to_json()
    out.pop("path", None)  # a server path is none of the caller's business
    return out


@writer.post(
    "/vulnerability-db/update",
    status_code=202,
    summary="Update the vulnerability data now; re-match what it changes",
    responses=problems(422),
)
def vulndb_update(ctx: Ctx, db: WriteDb, body: FeedUpdateIn, response: Response) -> JobOut:
    try:
        queued = submit_feed_update(db, ctx, sources=body.sources, force=body.force)
    except ValueError as e:
        raise Problem(422, "Invalid request", f"body.sources: {e}", type_="invalid-request") from e
    db.flush()
    job = db.get(Job, queued.job_id)
    assert job is not None
    out = job_out(job).model_copy(update={"status_url": JOB_PATH.format(id=job.id)})
    response.headers["Location"] = out.status_url
    return out


@reader.get("/jobs/{job_id}", summary="Any job's state (scan, re-match, discovery, feed update)")
def get_job(job_id: JobId, db: ReadDb) -> JobOut:
    job = db.get(Job, job_id)
    if job is None:
        raise not_found("job", job_id)
    return job_out(job).model_copy(update={"status_url": JOB_PATH.format(id=job.id)})


router = APIRouter()
router.include_router(reader)
router.include_router(writer)
