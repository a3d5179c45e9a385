"""SPDX 2.3 JSON.

The document DESCRIBES the image, a package with purpose CONTAINER and a ``pkg:oci``
purl; the image CONTAINS the distribution (purpose OPERATING_SYSTEM) and every package
(purpose LIBRARY). Packages carry their purl as a PACKAGE-MANAGER external reference and
the layer that introduced them as a comment; the same ``shoal:*`` facts the CycloneDX
writer puts in properties go into annotations here. What could not be catalogued is
annotated on the document.

Declared licences become one valid SPDX expression: SPDX ids and expressions are
normalised, free text becomes a ``LicenseRef-`` with its text in
``hasExtractedLicensingInfos``. Nothing is concluded, so ``licenseConcluded`` is
NOASSERTION, as are supplier, download location and copyright, which images do not say.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, BinaryIO, ClassVar

from shoal.export.base import (
    Clock,
    UuidFactory,
    clean_sbom,
    dump_json,
    iso_seconds,
    safe_purl,
    sorted_packages,
    sorted_unknowns,
    utc_now,
)
from shoal.export.identity import (
    id_fragment,
    image_facts,
    image_name,
    image_purl,
    image_version,
    package_ids,
)
from shoal.export.licenses import conjoin, license_terms
from shoal.model import Distro, ImageInfo, Package, Sbom, Unknown

NOASSERTION = "NOASSERTION"
NAMESPACE_BASE = "https://shoal.dev/spdxdocs"
_DOC_ID = "SPDXRef-DOCUMENT"


class SpdxJsonFormatter:
    """SPDX 2.3 JSON."""

    id: ClassVar[str] = "spdx-json"
    media_type: ClassVar[str] = "application/spdx+json"
    spec_version: ClassVar[str] = "2.3"

    def __init__(self, *, clock: Clock = utc_now, new_uuid: UuidFactory = uuid.uuid4) -> None:
        self._clock = clock
        self._new_uuid = new_uuid

    def write(self, sbom: Sbom, out: BinaryIO) -> None:
        dump_json(self.to_document(sbom), out, what=self.id)

    def to_document(self, sbom: Sbom) -> dict[str, Any]:
        """The SPDX document as a JSON-ready dict."""
        sbom = clean_sbom(sbom)
        b = _Builder(created=iso_seconds(self._clock()), tool=f"{sbom.tool}-{sbom.tool_version}")
        name = image_name(sbom.image.reference)
        image_id = f"SPDXRef-Image-{id_fragment(name.repository)}"
        packages = [b.image_package(sbom.image, image_id)]
        relationships = [_rel(_DOC_ID, "DESCRIBES", image_id)]
        if sbom.distro is not None:
            os_pkg = b.os_package(sbom.distro)
            packages.append(os_pkg)
            relationships.append(_rel(image_id, "CONTAINS", os_pkg["SPDXID"]))
        ordered = sorted_packages(sbom.packages)
        for pkg, pid in zip(ordered, package_ids(ordered), strict=True):
            doc_pkg = b.package(pkg, pid)
            packages.append(doc_pkg)
            relationships.append(_rel(image_id, "CONTAINS", doc_pkg["SPDXID"]))

        doc: dict[str, Any] = {
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": _DOC_ID,
            "name": sbom.image.reference or name.repository,
            "documentNamespace": (
                f"{NAMESPACE_BASE}/{id_fragment(name.repository, 100)}-{self._new_uuid()}"
            ),
            "creationInfo": {
                "created": b.created,
                "creators": [f"Organization: {sbom.tool}", f"Tool: {b.tool}"],
            },
            "packages": packages,
            "relationships": relationships,
        }
        if sbom.unknowns:
            doc["annotations"] = [
                b.annotations(_unknown_facts(u))[0] for u in sorted_unknowns(sbom.unknowns)
            ]
        if b.extracted:
            doc["hasExtractedLicensingInfos"] = [
                {"licenseId": ref, "extractedText": text, "name": text}
                for text, ref in sorted(b.extracted.items(), key=lambda kv: kv[1])
            ]
        return doc


class _Builder:
    """Per-document state: the creation time and tool (for annotations) and the
    free-text licences seen so far with the LicenseRef each was given."""

    def __init__(self, *, created: str, tool: str) -> None:
        self.created = created
        self.tool = tool
        self.extracted: dict[str, str] = {}  # licence text -> LicenseRef-id
        self._refs: set[str] = set()

    def annotation(self, comment: str) -> dict[str, str]:
        return {
            "annotationDate": self.created,
            "annotationType": "OTHER",
            "annotator": f"Tool: {self.tool}",
            "comment": comment,
        }

    def annotations(self, facts: list[tuple[str, str | None]]) -> list[dict[str, str]]:
        # One annotation per element, one fact per line: a separate annotation per fact
        # would repeat date and annotator thousands of times in a large image.
        lines = [f"{k}={_one_line(v)}" for k, v in facts if v is not None]
        return [self.annotation("\n".join(lines))] if lines else []

    def license_ref(self, text: str) -> str:
        ref = self.extracted.get(text)
        if ref is None:
            ref = f"LicenseRef-{id_fragment(text)}"
            if ref in self._refs:  # "GPL v2" and "GPL-v2" sanitise alike: keep them apart
                digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
                ref = f"{ref}-{digest[:12]}"
            self._refs.add(ref)
            self.extracted[text] = ref
        return ref

    def declared(self, licenses: tuple[str, ...]) -> str:
        terms = license_terms(licenses)
        if not terms:
            return NOASSERTION
        return conjoin([t.spdx if t.spdx is not None else self.license_ref(t.text) for t in terms])

    def image_package(self, image: ImageInfo, spdx_id: str) -> dict[str, Any]:
        name = image_name(image.reference)
        facts = image_facts(image)
        out = _base_package(spdx_id, name.repository, image_version(image), "CONTAINER")
        purl = image_purl(image)
        if purl:
            out["externalRefs"] = [_purl_ref(purl)]
        out["annotations"] = self.annotations(facts)
        return out

    def os_package(self, distro: Distro) -> dict[str, Any]:
        spdx_id = f"SPDXRef-OperatingSystem-{id_fragment(distro.id)}"
        if distro.version_id:
            spdx_id += f"-{id_fragment(distro.version_id)}"
        out = _base_package(spdx_id, distro.id, distro.version_id, "OPERATING_SYSTEM")
        if distro.pretty_name:
            out["description"] = distro.pretty_name
        facts: list[tuple[str, str | None]] = [
            ("shoal:distro:versionCodename", distro.version_codename),
            ("shoal:distro:name", distro.name),
        ]
        facts += [("shoal:distro:idLike", x) for x in distro.id_like]
        annotations = self.annotations(facts)
        if annotations:
            out["annotations"] = annotations
        return out

    def package(self, pkg: Package, pid: str) -> dict[str, Any]:
        spdx_id = f"SPDXRef-Package-{id_fragment(pkg.type.value)}-{id_fragment(pkg.name)}-{pid}"
        out = _base_package(spdx_id, pkg.name, pkg.version, "LIBRARY")
        out["licenseDeclared"] = self.declared(pkg.licenses)
        purl = safe_purl(pkg)
        if purl is not None:
            out["externalRefs"] = [_purl_ref(purl)]
        if pkg.locations:
            paths = ", ".join(loc.path for loc in pkg.locations)
            out["sourceInfo"] = f"acquired package info from {pkg.cataloger}: {paths}"
        if pkg.layer:
            comment = f"introduced in layer {pkg.layer}"
            if pkg.layer_created_by:
                comment += f" by: {pkg.layer_created_by}"
            out["comment"] = comment
        facts: list[tuple[str, str | None]] = [
            ("shoal:package:type", pkg.type.value),
            ("shoal:cataloger", pkg.cataloger),
            ("shoal:package:arch", pkg.arch),
            ("shoal:layer:diffID", pkg.layer),
            ("shoal:layer:createdBy", pkg.layer_created_by),
            ("shoal:source:name", pkg.source_name),
            ("shoal:source:version", pkg.source_version),
        ]
        for i, loc in enumerate(pkg.locations):
            facts += [
                (f"shoal:location:{i}:path", loc.path),
                (f"shoal:location:{i}:layer", loc.layer),
            ]
        facts += [(f"shoal:metadata:{k}", v) for k, v in pkg.metadata]
        out["annotations"] = self.annotations(facts)
        return out


def _base_package(spdx_id: str, name: str, version: str | None, purpose: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "SPDXID": spdx_id}
    if version:
        out["versionInfo"] = version
    out.update(
        {
            "supplier": NOASSERTION,
            "downloadLocation": NOASSERTION,
            "filesAnalyzed": False,
            "licenseConcluded": NOASSERTION,
            "licenseDeclared": NOASSERTION,
            "copyrightText": NOASSERTION,
            "primaryPackagePurpose": purpose,
        }
    )
    return out


def _purl_ref(purl: str) -> dict[str, str]:
    return {
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": purl,
    }


def _rel(a: str, kind: str, b: str) -> dict[str, str]:
    return {"spdxElementId": a, "relationshipType": kind, "relatedSpdxElement": b}


def _unknown_facts(u: Unknown) -> list[tuple[str, str | None]]:
    return [
        ("shoal:unknown:path", u.path),
        ("shoal:unknown:cataloger", u.cataloger),
        ("shoal:unknown:reason", u.reason),
        ("shoal:unknown:layer", u.layer),
    ]


def _one_line(value: str) -> str:
    """Facts are one per line, so a value's own line breaks are escaped."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
