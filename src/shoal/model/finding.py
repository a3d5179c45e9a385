"""What a vulnerability scan finds: matches of packages against advisories, merged into
findings (one per package and vulnerability), and what could not be decided.

`MatchDetail` says how a match was made, like grype's match details: which matcher,
which ecosystem and name it searched, which advisory entry and which of its ranges
contained the installed version. `Finding` carries everything a report shows, with
every severity statement and where it came from (`SeverityProvenance`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shoal.model.advisory import FixState, Rating, Severity
from shoal.model.package import Package


@dataclass(frozen=True, slots=True)
class MatchDetail:
    """How one advisory entry was found to affect one package."""

    matcher: str  # "distro/dpkg", "language/python", ...
    ecosystem: str  # ecosystem searched: "Debian", "PyPI", "Go"
    name: str  # name searched (source package, PEP 503 name, module path, ...)
    release: str  # the entry's release ("12", "v3.19"); "" when it applies to all
    version: str  # the version evaluated (source version for distro packages)
    source: str  # feed of the advisory: "osv/PyPI", "debian/dsa"
    advisory_id: str
    constraint: str  # the range or list that contained the version: "introduced 3.2, fixed 3.2.4"


@dataclass(frozen=True, slots=True)
class MatchUnknown:
    """A package/advisory pair that could not be decided (a version that does not sort),
    or a package that could not be looked up at all. Reported, never dropped."""

    reason: str  # one line: what and why
    package: Package | None = None
    source: str = ""
    advisory_id: str = ""


@dataclass(frozen=True, slots=True)
class Epss:
    score: float
    percentile: float | None
    date: str | None
    source: str = "first/epss"


@dataclass(frozen=True, slots=True)
class Kev:
    date_added: str | None
    due_date: str | None
    ransomware: str | None
    source: str = "cisa/kev"


@dataclass(frozen=True, slots=True)
class SeverityProvenance:
    """Every severity statement about one finding, each with its source, and the one
    that counts.

    The effective severity is, in order: the distribution's own rating for an OS
    package (Debian urgency, Alpine/Red Hat vendor rating) when it is known; else
    NVD's CVSS (v3.x preferred, then v4, then v2: v3 is what NVD scores almost
    everything with and what distros compare against); else the GHSA/OSV severity of
    the advisory (CVSS vector first, then a vendor word); else unknown.
    """

    effective: Rating
    effective_source: str  # "debian", "nvd", "osv/PyPI", ... or "" when unknown
    distro: tuple[Severity, ...] = ()
    nvd: tuple[Severity, ...] = ()
    advisory: tuple[Severity, ...] = ()
    epss: Epss | None = None
    kev: Kev | None = None


def package_ref(pkg: Package) -> str:
    """The package's purl; for the rare package the purl library refuses (an empty
    name), a stand-in that is still unique and stable: ``type:name@version``."""
    try:
        return pkg.purl
    except (ValueError, TypeError, KeyError):
        return f"{pkg.type.value}:{pkg.name}@{pkg.version}"


def finding_key(purl: str, vulnerability: str) -> str:
    """The image-independent key of a finding: the first 16 hex digits (64 bits) of
    sha256 over the package purl, a newline and the vulnerability id. The same in every
    image that has the package, so SARIF fingerprints (which follow a finding from one
    build of an image to the next) and ignore lists key on it."""
    return hashlib.sha256(f"{purl}\n{vulnerability}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ImageLocation:
    """Which image a finding is in, as a finding's id names it: where the image is
    (registry and repository, as image references spell them) and what it is (the
    digest the registry stores it under and the platform). Empty strings where a scan
    does not know (an image read from a local archive has no registry)."""

    registry: str  # "docker.io", "ghcr.io", "127.0.0.1:5000"
    repository: str  # "library/alpine"
    digest: str  # the pushed digest: an index's digest for each of its platforms
    platform: str  # "linux/amd64", "linux/arm64/v8"

    @property
    def qualifier(self) -> str:
        return f"repository={self.registry.lower()}/{self.repository};platform={self.platform}"


def image_finding_id(image: ImageLocation, purl: str, vulnerability: str) -> str:
    """A finding's id: the first 32 hex digits (128 bits) of sha256 over the image
    digest, the package purl, the vulnerability id and the image's qualifier
    (``repository=<registry>/<repository>;platform=<platform>``), joined by newlines.

    The same wherever the finding appears (`shoal scan` output, the service's API and
    events, sub-assessment names, exports), stable across re-scans, pushes and DB
    updates, and computed from what both sides know without a lookup. The qualifier is
    there because one digest is several images: pushed to two repositories it is two
    teams' copies with their own exemptions, and an index is one image per platform.
    128 bits: the service keys every finding it ever stored on it."""
    text = f"{image.digest}\n{purl}\n{vulnerability}\n{image.qualifier}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Finding:
    """One vulnerability of one installed package, merged across every feed that has it."""

    id: str  # image_finding_id when the scan knows the image, else finding_key
    vulnerability: str  # the CVE id when there is one, else the advisory id
    ids: tuple[str, ...]  # every id seen: CVE, GHSA, PYSEC, GO, DSA, ... (sorted)
    package: Package
    fix_state: FixState
    fixed_versions: tuple[str, ...]  # releases that fix it, as the feed says
    severity: SeverityProvenance
    matched_by: tuple[MatchDetail, ...]
    summary: str = ""
    description: str = ""
    references: tuple[str, ...] = ()
    published: str | None = None
    cwes: tuple[str, ...] = ()

    @property
    def rating(self) -> Rating:
        return self.severity.effective

    @property
    def key(self) -> str:
        """`finding_key`: the same for this package and vulnerability in any image."""
        return finding_key(package_ref(self.package), self.vulnerability)
