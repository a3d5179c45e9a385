"""CycloneDX 1.6 JSON, built with cyclonedx-python-lib.

The image is ``metadata.component`` (type ``container``, a ``pkg:oci`` purl), the
distribution an ``operating-system`` component, and every package a ``library``
component whose bom-ref is its purl plus a stable ``package-id``. What CycloneDX has no
field for (the layer that introduced a package, where it was found, which cataloger
found it, the image's layers, what could not be catalogued) is written as ``shoal:*``
properties.

The library builds and serialises every model object (components, licences,
properties, metadata). Its `Bom` object is not used to assemble the document: its
`register_dependency` and `validate` scan the whole dependency list once per component,
which is quadratic and takes tens of seconds at 10,000 packages. The few top-level keys
are put together here instead, in the order the library writes them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, BinaryIO, ClassVar

from cyclonedx.contrib.license.exceptions import InvalidSpdxLicenseException
from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import Property
from cyclonedx.model.bom import BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import License
from cyclonedx.model.tool import ToolRepository
from cyclonedx.schema.schema import SchemaVersion1Dot6
from packageurl import PackageURL

from shoal.export.base import (
    Clock,
    UuidFactory,
    clean_sbom,
    dump_json,
    safe_purl,
    sorted_packages,
    sorted_unknowns,
    utc_now,
)
from shoal.export.identity import (
    image_facts,
    image_name,
    image_purl,
    image_version,
    package_ids,
)
from shoal.export.licenses import conjoin, license_terms
from shoal.model import Distro, ImageInfo, Package, Sbom, Unknown

_VIEW = SchemaVersion1Dot6
_SCHEMA_URI = "http://cyclonedx.org/schema/bom-1.6.schema.json"
_FACTORY = LicenseFactory()
_MAX_VERSION = 1024  # the 1.6 schema's limit on a version string


def _version(version: str | None) -> tuple[str | None, list[tuple[str, str | None]]]:
    """A version CycloneDX accepts, plus a property holding it whole if it had to be cut
    (a garbage version over 1 KiB must not make the whole document invalid)."""
    if not version:
        return None, []
    if len(version) <= _MAX_VERSION:
        return version, []
    return version[: _MAX_VERSION - 1] + "\u2026", [("shoal:version:full", version)]


class CycloneDxJsonFormatter:
    """CycloneDX 1.6 JSON."""

    id: ClassVar[str] = "cyclonedx-json"
    media_type: ClassVar[str] = "application/vnd.cyclonedx+json; version=1.6"
    spec_version: ClassVar[str] = "1.6"

    def __init__(self, *, clock: Clock = utc_now, new_uuid: UuidFactory = uuid.uuid4) -> None:
        self._clock = clock
        self._new_uuid = new_uuid

    def write(self, sbom: Sbom, out: BinaryIO) -> None:
        dump_json(self.to_document(sbom), out, what=self.id)

    def to_document(self, sbom: Sbom) -> dict[str, Any]:
        """The BOM as a JSON-ready dict."""
        sbom = clean_sbom(sbom)
        image = _image_component(sbom.image)
        tool = Component(type=ComponentType.APPLICATION, name=sbom.tool, version=sbom.tool_version)
        metadata = BomMetaData(
            tools=ToolRepository(components=[tool]),
            component=image,
            timestamp=_utc(self._clock()),
            properties=_unknown_properties(sbom.unknowns),
        )
        components: list[dict[str, Any]] = []
        if sbom.distro is not None:
            components.append(_as_json(_os_component(sbom.distro)))
        packages = sorted_packages(sbom.packages)
        for pkg, pid in zip(packages, package_ids(packages), strict=True):
            components.append(_as_json(_package_component(pkg, pid)))
        return {
            "$schema": _SCHEMA_URI,
            "bomFormat": "CycloneDX",
            "specVersion": self.spec_version,
            "serialNumber": f"urn:uuid:{self._new_uuid()}",
            "version": 1,
            "metadata": _as_json(metadata),
            "components": components,
            # Only the image's edges are known. The library would also write an empty
            # entry for every component, which in CycloneDX claims "depends on nothing".
            "dependencies": [
                {"ref": str(image.bom_ref), "dependsOn": sorted(c["bom-ref"] for c in components)}
            ],
        }


def _utc(ts: datetime) -> datetime:
    """Whole seconds, in UTC; a naive time is taken to be UTC already."""
    ts = ts.replace(microsecond=0)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _as_json(obj: Component | BomMetaData) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(obj.as_json(view_=_VIEW))  # type: ignore[union-attr]
    return data


def _image_component(image: ImageInfo) -> Component:
    name = image_name(image.reference)
    purl = image_purl(image)
    version, full = _version(image_version(image))
    props: list[tuple[str, str | None]] = [*full, *image_facts(image)]
    return Component(
        type=ComponentType.CONTAINER,
        name=name.repository,
        version=version,
        bom_ref=purl or f"shoal:image:{name.repository}@{version or ''}",
        purl=_parse_purl(purl),
        properties=_properties(props),
    )


def _os_component(distro: Distro) -> Component:
    version, full = _version(distro.version_id)
    props: list[tuple[str, str | None]] = [
        *full,
        ("shoal:distro:id", distro.id),
        ("shoal:distro:versionID", distro.version_id),
        ("shoal:distro:versionCodename", distro.version_codename),
        ("shoal:distro:name", distro.name),
    ]
    props += [("shoal:distro:idLike", x) for x in distro.id_like]
    return Component(
        type=ComponentType.OPERATING_SYSTEM,
        name=distro.id,
        version=version,
        description=distro.pretty_name,
        # Package bom-refs start with "pkg:" or "shoal:package:", so this cannot clash.
        bom_ref=f"shoal:os:{distro.id}@{distro.version_id or ''}",
        properties=_properties(props),
    )


def _package_component(pkg: Package, pid: str) -> Component:
    purl = safe_purl(pkg)
    if purl is not None:
        bom_ref = f"{purl}{'&' if '?' in purl else '?'}package-id={pid}"
    else:
        bom_ref = f"shoal:package:{pid}"
    version, full = _version(pkg.version)
    props: list[tuple[str, str | None]] = [
        *full,
        ("shoal:package:type", pkg.type.value),
        ("shoal:cataloger", pkg.cataloger),
        ("shoal:package:arch", pkg.arch),
        ("shoal:layer:diffID", pkg.layer),
        ("shoal:layer:createdBy", pkg.layer_created_by),
        ("shoal:source:name", pkg.source_name),
        ("shoal:source:version", pkg.source_version),
    ]
    for i, loc in enumerate(pkg.locations):
        props += [(f"shoal:location:{i}:path", loc.path), (f"shoal:location:{i}:layer", loc.layer)]
    props += [(f"shoal:metadata:{k}", v) for k, v in pkg.metadata]
    return Component(
        type=ComponentType.LIBRARY,
        name=pkg.name,
        version=version,
        group=pkg.namespace or None,
        bom_ref=bom_ref,
        purl=_parse_purl(purl),
        licenses=_licenses(pkg.licenses),
        properties=_properties(props),
    )


def _licenses(declared: tuple[str, ...]) -> list[License]:
    """CycloneDX allows either a list of id/name licences or one expression, never both.

    Several licences that are all SPDX become one ``A AND B`` expression when any is
    compound; when free text is mixed in, compound expressions are kept as licence names
    so that nothing declared is dropped.
    """
    terms = license_terms(declared)
    if any(t.compound for t in terms):
        spdx = [t.spdx for t in terms if t.spdx is not None]
        if len(spdx) == len(terms):
            return [_expression(conjoin(spdx))]
        return [_license(t.text, t.spdx if not t.compound else None) for t in terms]
    return [_license(t.text, t.spdx) for t in terms]


@lru_cache(maxsize=4096)  # validating an expression parses it; a few repeat thousands of times
def _expression(expression: str) -> License:
    return _FACTORY.make_with_expression(expression)


def _license(text: str, spdx_id: str | None) -> License:
    """An id licence when the text is an SPDX id CycloneDX knows, else a named one.

    Classification already happened in `license_terms`, so this skips the factory's
    `make_from_string`, which would parse every free-text licence again.
    """
    if spdx_id is not None:
        for candidate in (text, spdx_id):  # as declared first ("GPL-2.0+"), then normalised
            try:
                return _FACTORY.make_with_id(candidate)
            except InvalidSpdxLicenseException:
                pass
    return _FACTORY.make_with_name(text)


def _properties(pairs: list[tuple[str, str | None]]) -> list[Property]:
    return [Property(name=k, value=v) for k, v in pairs if v is not None]


def _unknown_properties(unknowns: tuple[Unknown, ...]) -> list[Property]:
    pairs: list[tuple[str, str | None]] = []
    for i, u in enumerate(sorted_unknowns(unknowns)):
        pairs += [
            (f"shoal:unknown:{i}:path", u.path),
            (f"shoal:unknown:{i}:cataloger", u.cataloger),
            (f"shoal:unknown:{i}:reason", u.reason),
            (f"shoal:unknown:{i}:layer", u.layer),
        ]
    return _properties(pairs)


def _parse_purl(purl: str | None) -> PackageURL | None:
    if purl is None:
        return None
    try:
        return PackageURL.from_string(purl)
    except ValueError:
        return None
