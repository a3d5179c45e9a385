"""Manual scans: of one image reference, a repository or a whole registry; job status.

- ``{registry_id, repository, reference}``: the tag or digest is resolved through the
  registry (a ``HEAD`` of the manifest, with the stored credentials) before anything is
  written; the image is recorded (its push time stays unknown if it is new: shoal did
  not see the push) and its scan queued. Scanning an image whose last scan used the
  same analyser and vulnerability DB returns that scan's job: the answer would be the
  same.
- A registry whose subscription has its plan switched off is not scanned (409).
- ``{registry_id, repository}`` or ``{registry_id}``: a discovery job is queued; it
  lists the repository (or the catalog), records what it finds and scans every image
  in scope.

Both answer 202 with the job(s) and a status URL, ``GET /api/v1/scans/{job_id}``.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from shoal.api.deps import Ctx, ReadDb
from shoal.api.models_inventory import JobId, JobOut, ScanAccepted, ScanCreate, problems
from shoal.api.problems import Problem, not_found
from shoal.api.security import Permission, authorize
from shoal.db.inventory import check_repository_name
from shoal.db.models import Job, Registry
from shoal.db.types import JobKind
from shoal.errors import AuthError, NotFound, RegistryError, ShoalError
from shoal.model.digest import InvalidDigest, parse_digest
from shoal.oci.reference import TAG_RE
from shoal.service.context import ServiceContext
from shoal.service.discovery import submit_discovery
from shoal.service.ingest import IngestError, ingest_events
from shoal.service.registry_access import RegistryAccessError, registry_client, registry_endpoint
from shoal.triggers import ScanRequest
from shoal.triggers._media import is_image

read = APIRouter(tags=["scans"], dependencies=[authorize(Permission.READ)])
write = APIRouter(tags=["scans"], dependencies=[authorize(Permission.WRITE)])
router = APIRouter()

STATUS_PATH = "/api/v1/scans/{id}"
_KINDS = (JobKind.SCAN_IMAGE, JobKind.DISCOVER_REGISTRY)


def _invalid(detail: str) -> Problem:
    return Problem(422, "Invalid request", detail, type_="invalid-request")


def job_out(job: Job) -> JobOut:
    payload = job.payload or {}
    image_id = payload.get("image_id")
    registry_id = payload.get("registry_id")
    return JobOut(
        id=job.id,
        kind=job.kind,
        state=job.state,
        attempts=job.attempts,
        error=job.last_error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        image_id=image_id if isinstance(image_id, int) else None,
        registry_id=registry_id if isinstance(registry_id, int) else None,
        status_url=STATUS_PATH.format(id=job.id),
    )


def _registry(session: Session, registry_id: int) -> Registry:
    reg = session.get(Registry, registry_id)
    if reg is None:
        raise _invalid(f"body.registry_id: registry {registry_id} does not exist")
    if not reg.subscription.plan_enabled:
        raise Problem(
            409,
            "Conflict",
            f"registry {registry_id}: its subscription {reg.subscription_id} has the plan "
            "switched off; switch it on to scan",
            type_="plan-disabled",
        )
    return reg


def _resolve(ctx: ServiceContext, reg: Registry, repository: str, reference: str) -> ScanRequest:
    """The manifest `reference` names, asked of the registry (no transaction open)."""
    by_digest = ":" in reference  # a tag never holds one
    if by_digest:
        try:
            parse_digest(reference)
        except InvalidDigest as e:
            raise _invalid(f"body.reference: {e}") from e
    elif not TAG_RE.fullmatch(reference):
        raise _invalid(f"body.reference: {reference[:200]!r} is neither a tag nor a digest")
    try:
        host = registry_endpoint(reg, ctx.settings.oci).host
        with registry_client(ctx, reg) as client:
            digest, media_type, _ = client.head_manifest(repository, reference)
            if digest is None:  # no Docker-Content-Digest: the body tells
                _, media_type, digest = client.get_manifest(repository, reference)
    except RegistryAccessError as e:
        raise Problem(409, "Conflict", str(e), type_="registry-unusable") from e
    except NotFound as e:
        raise Problem(
            404,
            "Not found",
            f"{repository}{'@' if by_digest else ':'}{reference}: not in the registry ({e})",
            type_="not-found",
        ) from e
    except (AuthError, RegistryError) as e:
        raise Problem(502, "Registry error", str(e)[:500], type_="registry-error") from e
    except ShoalError as e:  # limits, digest mismatch: the registry's answer is unusable
        raise Problem(502, "Registry error", str(e)[:500], type_="registry-error") from e
    if media_type and not is_image(media_type):
        raise _invalid(f"body.reference: {reference[:200]!r} is a {media_type[:100]}, not an image")
    tag = None if by_digest else reference
    return ScanRequest(host, repository, digest, tag, media_type or None, None, "manual")


@write.post(
    "/scans",
    summary="Scan an image reference, a repository or a whole registry",
    status_code=202,
    responses=problems(404, 409, 422, 502),
)
def create_scan(body: ScanCreate, ctx: Ctx, response: Response) -> ScanAccepted:
    if body.reference is not None and body.repository is None:
        raise _invalid("body.reference: needs body.repository")
    if body.repository is not None:
        try:
            check_repository_name(body.repository)
        except ValueError as e:
            raise _invalid(f"body.repository: {e}") from e
    with ctx.read() as s:
        reg = _registry(s, body.registry_id)
        s.expunge(reg)

    request = None
    if body.reference is not None and body.repository is not None:
        request = _resolve(ctx, reg, body.repository, body.reference)

    with ctx.write() as s:
        reg = _registry(s, body.registry_id)
        image_id = None
        if request is not None:
            try:
                done = ingest_events(s, ctx, reg, [request], pushed_now=False, trigger="manual")
            except IngestError as e:
                raise _invalid(str(e)) from e
            job_ids = done.scan_jobs
            image_id = done.images[0] if done.images else None
        else:
            job_ids = [submit_discovery(s, ctx, reg.id, body.repository, scan_all=True).job_id]
        jobs = [s.get(Job, j) for j in job_ids]
        out = [job_out(j) for j in jobs if j is not None]
        if not out:  # the plan was switched off meanwhile: nothing was queued
            _registry(s, body.registry_id)
            raise Problem(409, "Conflict", "no scan was queued", type_="plan-disabled")
    status_url = out[0].status_url
    response.headers["Location"] = status_url
    return ScanAccepted(
        jobs=out,
        image_id=image_id,
        digest=request.digest if request is not None else None,
        status_url=status_url,
    )


@read.get("/scans/{job_id}", summary="A scan or discovery job's state", responses=problems(404))
def get_scan(job_id: JobId, db: ReadDb) -> JobOut:
    job = db.get(Job, job_id)
    if job is None or job.kind not in _KINDS:
        raise not_found("scan", job_id)
    return job_out(job)


router.include_router(read)
router.include_router(write)
