"""Glue between the read views (`shoal.service.views`) and HTTP: their errors as
problem details, their dataclasses as response models."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from shoal.api.problems import Problem, bad_request, conflict
from shoal.api.views_models import (
    AffectedImageOut,
    AffectedPackageOut,
    CvssOut,
    EpssOut,
    FindingOut,
    ImageRef,
    PackageRef,
    VulnerabilityOut,
)
from shoal.service.views.context import ImageContext
from shoal.service.views.errors import Conflict, InvalidQuery, NotFound
from shoal.service.views.findings import FindingRow
from shoal.service.views.vulnerabilities import AffectedImage, VulnSummary


@contextlib.contextmanager
def problems() -> Iterator[None]:
    """Turn a view's error into its problem response (400, 404, 409)."""
    try:
        yield
    except InvalidQuery as e:
        raise bad_request(str(e), parameter=e.parameter) from e
    except NotFound as e:
        raise Problem(404, "Not found", str(e), type_="not-found") from e
    except Conflict as e:
        raise conflict(str(e)) from e


def image_ref(c: ImageContext) -> ImageRef:
    return ImageRef(
        image_id=c.image_id,
        digest=c.digest,
        platform=c.platform,
        tags=list(c.tags),
        repository_id=c.repository_id,
        repository=c.repository_name,
        registry_id=c.registry_id,
        registry=c.registry_name,
        registry_host=c.registry_host,
        subscription_id=c.subscription_id,
        last_scanned_at=c.last_scanned_at,
    )


def finding_out(r: FindingRow) -> FindingOut:
    return FindingOut(
        id=r.id,
        vulnerability_id=r.vulnerability_id,
        severity=r.severity,
        fixable=r.fixable,
        fixed_versions=list(r.fixed_versions),
        package=PackageRef(name=r.package_name, version=r.package_version, purl=r.package_purl),
        layer_diff_id=r.layer_diff_id,
        state=r.state,
        first_seen=r.first_seen,
        last_seen=r.last_seen,
        resolved_at=r.resolved_at,
        image=image_ref(r.image),
        exemption_reason=r.exemption_reason,
        exempted_at=r.exempted_at,
    )


def vulnerability_fields(v: VulnSummary) -> dict[str, object]:
    info = v.info
    best = info.best_cvss
    return {
        "id": v.id,
        "severity": v.severity,
        "fixable": v.fixable,
        "cvss_score": best.score if best else None,
        "cvss_vector": best.vector if best else None,
        "cvss": [
            CvssOut(version=c.version, score=c.score, vector=c.vector, source=c.source)
            for c in info.cvss
        ],
        "epss": (
            EpssOut(score=info.epss_score, percentile=info.epss_percentile)
            if info.epss_score is not None
            else None
        ),
        "kev": info.kev,
        "kev_date_added": info.kev_date_added,
        "summary": info.summary,
        "published": info.published,
        "cves": list(info.cves),
        "aliases": list(info.aliases),
        "findings": v.findings,
        "images": v.images,
        "repositories": v.repositories,
        "registries": v.registries,
        "first_seen": v.first_seen,
    }


def vulnerability_out(v: VulnSummary) -> VulnerabilityOut:
    return VulnerabilityOut.model_validate(vulnerability_fields(v))


def affected_out(a: AffectedImage) -> AffectedImageOut:
    return AffectedImageOut(
        image=image_ref(a.image),
        packages=[
            AffectedPackageOut(
                finding_id=p.finding_id,
                package=PackageRef(name=p.name, version=p.version, purl=p.purl),
                severity=p.severity,
                fixable=p.fixable,
                fixed_versions=list(p.fixed_versions),
                state=p.state,
                first_seen=p.first_seen,
            )
            for p in a.packages
        ],
    )
