"""Reading SBOMs written by any tool (Syft, shoal, Trivy, ...) for `shoal scan --sbom`.

CycloneDX JSON (1.2 to 1.6) and SPDX 2.x JSON. A package is identified by its purl,
which carries everything matching needs: the type (ecosystem), namespace, name and
version, and for OS packages the distribution (``distro=debian-12``), the source
package (``upstream=openssl`` or ``upstream=bash@5.2.15-2``, Syft's convention) and
the rpm epoch. The distribution comes from the CycloneDX ``operating-system`` component
when there is one, else from the purls' ``distro`` qualifier. Layer information is kept
when the tool wrote it (Syft's ``syft:location:0:layerID``, shoal's ``shoal:layer:*``).

A component that cannot be used (no purl, a purl that does not parse, a type shoal has
no advisories for) becomes an `Unknown` in the SBOM, never an exception; a document that
is not an SBOM at all raises `SbomInputError` with one line naming the file and where.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from shoal.errors import LimitExceeded, ShoalError
from shoal.model.digest import InvalidDigest, parse_digest
from shoal.model.package import Distro, Location, Package, PackageType, Unknown
from shoal.model.sbom import ImageInfo, Platform, Sbom

MAX_BYTES = 512 * 1024 * 1024  # a 100,000-package SBOM with Syft's properties is ~300 MB
MAX_COMPONENTS = 1_000_000
MAX_DEPTH = 32  # CycloneDX nests components in components
_READER = "sbom-input"

_TYPES: dict[str, PackageType] = {
    "deb": PackageType.DEB,
    "apk": PackageType.APK,
    "alpm": PackageType.APK,  # never matched: Arch has no feed; kept for completeness below
    "rpm": PackageType.RPM,
    "pypi": PackageType.PYTHON,
    "npm": PackageType.NPM,
    "golang": PackageType.GO,
    "maven": PackageType.JAVA,
    "gem": PackageType.GEM,
    "cargo": PackageType.RUST,
    "composer": PackageType.PHP,
    "nuget": PackageType.DOTNET,
}
del _TYPES["alpm"]  # Arch packages are not apk packages; listed only to say so


class SbomInputError(ShoalError):
    """An input SBOM that cannot be read at all."""


def read_sbom(path: Path, max_bytes: int = MAX_BYTES) -> Sbom:
    """The packages of a CycloneDX or SPDX JSON SBOM at `path`."""
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise SbomInputError(f"SBOM {str(path)!r}: {e.strerror or e}") from e
    if len(data) > max_bytes:
        raise LimitExceeded(
            f"SBOM {str(path)!r}: larger than {max_bytes} bytes", limit="sbom_bytes"
        )
    return parse_sbom(data, str(path))


def parse_sbom(data: bytes, name: str = "<sbom>") -> Sbom:
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as e:
        raise SbomInputError(
            f"SBOM {name!r}: not JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from None
    except UnicodeDecodeError as e:
        raise SbomInputError(f"SBOM {name!r}: not UTF-8 (byte {e.start})") from None
    except RecursionError:
        raise SbomInputError(f"SBOM {name!r}: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise SbomInputError(f"SBOM {name!r}: expected a JSON object, got {type(doc).__name__}")
    if doc.get("bomFormat") == "CycloneDX":
        return _cyclonedx(doc, name)
    spdx = doc.get("spdxVersion")
    if isinstance(spdx, str) and spdx.startswith("SPDX-2."):
        return _spdx(doc, name)
    if isinstance(spdx, str):
        raise SbomInputError(f"SBOM {name!r}: unsupported {spdx[:40]!r} (SPDX 2.x JSON is read)")
    raise SbomInputError(
        f"SBOM {name!r}: neither CycloneDX (bomFormat) nor SPDX (spdxVersion) JSON"
    )


# --- purls -------------------------------------------------------------------------


def split_distro(value: str) -> Distro | None:
    """``debian-12`` -> Distro(debian, 12); ``ubuntu-22.04``; ``alpine-3.19.1``."""
    ident, sep, version = value.rpartition("-")
    if not sep:
        return Distro(id=value.lower()) if value else None
    if not ident or not version[:1].isdigit():
        return Distro(id=value.lower())
    return Distro(id=ident.lower(), version_id=version)


def package_from_purl(
    purl: str,
    *,
    fallback_version: str | None = None,
    distro: Distro | None = None,
    cataloger: str = _READER,
    locations: tuple[Location, ...] = (),
    layer: str | None = None,
    layer_created_by: str | None = None,
) -> Package | str:
    """A `Package` from a purl, or a one-line reason why not."""
    try:
        p = PackageURL.from_string(purl)
    except ValueError as e:
        return f"purl {purl[:120]!r} does not parse: {str(e)[:120]}"
    ptype = _TYPES.get(p.type)
    if ptype is None:
        return f"purl type {p.type[:40]!r} has no advisories in shoal"
    version = p.version or fallback_version or ""
    if not version:
        return f"purl {purl[:120]!r} has no version"
    quals: Mapping[str, str] = p.qualifiers if isinstance(p.qualifiers, dict) else {}
    name = p.name
    namespace: str | None = None
    source_name: str | None = None
    source_version: str | None = None
    metadata: list[tuple[str, str]] = []
    arch = quals.get("arch")
    if ptype.is_os:
        if quals.get("distro"):
            own = split_distro(quals["distro"])
            # the purl's own distro, unless the document's OS component says more
            if distro is None or own is None or own.id != distro.id:
                distro = own
        up = quals.get("upstream")
        if ptype is PackageType.RPM:
            epoch = quals.get("epoch")
            if epoch:
                metadata.append(("epoch", epoch))
                version = f"{epoch}:{version}"
            if up:
                metadata.append(("sourcerpm", up))
        elif up:
            src, _, src_version = up.partition("@")
            source_name = src or None
            source_version = src_version or None
            if source_name and ptype is PackageType.DEB and source_version is None:
                source_version = version  # Syft omits the source version when it is the same
    else:
        distro = None
        if ptype is PackageType.JAVA:
            namespace = p.namespace
        elif p.namespace:
            name = f"{p.namespace}/{p.name}"  # npm @scope/x, golang module path, composer vendor/x
    return Package(
        name=name,
        version=version,
        type=ptype,
        cataloger=cataloger,
        locations=locations,
        arch=arch,
        source_name=source_name,
        source_version=source_version,
        namespace=namespace,
        metadata=tuple(metadata),
        layer=layer,
        layer_created_by=layer_created_by,
        distro=distro,
    )


# --- CycloneDX ---------------------------------------------------------------------


def _image_info(reference: str, facts: Mapping[str, str]) -> ImageInfo:
    """The image an SBOM describes: the digests and platform shoal's own exports record
    (`shoal:image:*`; so that a scan of the SBOM names findings as a scan of the image
    does), each left unknown when absent or malformed."""

    def digest(key: str) -> str | None:
        value = facts.get(key)
        if value is None:
            return None
        try:
            parse_digest(value)
        except InvalidDigest:
            return None
        return value

    platform = None
    if facts.get("shoal:image:platform"):
        try:
            platform = Platform.parse(facts["shoal:image:platform"])
        except ValueError:
            platform = None
    return ImageInfo(
        reference=reference,
        manifest_digest=digest("shoal:image:manifestDigest"),
        config_digest=digest("shoal:image:configDigest"),
        platform=platform,
        index_digest=digest("shoal:image:indexDigest"),
    )


def _annotated_facts(p: Mapping[str, Any]) -> dict[str, str]:
    """`name=value` lines of an SPDX element's annotations (how shoal writes facts)."""
    out: dict[str, str] = {}
    notes = p.get("annotations")
    for note in notes if isinstance(notes, list) else ():
        comment = note.get("comment") if isinstance(note, dict) else None
        for line in comment.splitlines() if isinstance(comment, str) else ():
            k, sep, v = line.partition("=")
            if sep:
                out.setdefault(k, v)
    return out


def _props(c: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    props = c.get("properties")
    if isinstance(props, list):
        for p in props:
            if (
                isinstance(p, dict)
                and isinstance(p.get("name"), str)
                and isinstance(p.get("value"), str)
            ):
                out.setdefault(p["name"], p["value"])
    return out


def _walk(components: Any, where: str, depth: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(components, list):
        return
    if depth > MAX_DEPTH:
        raise SbomInputError(f"{where}: components nested deeper than {MAX_DEPTH}")
    for i, c in enumerate(components):
        w = f"{where}[{i}]"
        if isinstance(c, dict):
            yield w, c
            yield from _walk(c.get("components"), f"{w}.components", depth + 1)


def _cdx_distro(c: Mapping[str, Any]) -> Distro:
    props = _props(c)
    ident = props.get("syft:distro:id") or props.get("shoal:distro:id") or str(c.get("name", ""))
    version = (
        props.get("syft:distro:versionID")
        or props.get("shoal:distro:versionID")
        or (str(c["version"]) if isinstance(c.get("version"), str) else None)
    )
    return Distro(
        id=ident.lower(),
        version_id=version,
        version_codename=props.get("syft:distro:versionCodename")
        or props.get("shoal:distro:versionCodename"),
        pretty_name=c.get("description") if isinstance(c.get("description"), str) else None,
    )


def _cyclonedx(doc: dict[str, Any], name: str) -> Sbom:
    comps = list(_walk(doc.get("components"), "components"))
    if len(comps) > MAX_COMPONENTS:
        raise LimitExceeded(
            f"SBOM {name!r}: more than {MAX_COMPONENTS} components", limit="sbom_components"
        )
    distro: Distro | None = None
    for _, c in comps:
        if c.get("type") == "operating-system":
            distro = _cdx_distro(c)
            break
    packages: list[Package] = []
    unknowns: list[Unknown] = []
    for where, c in comps:
        if c.get("type") == "operating-system":
            continue
        purl = c.get("purl")
        if not isinstance(purl, str) or not purl:
            if c.get("type") in ("library", "framework", "application", None):
                label = str(c.get("name", "?"))[:80]
                unknowns.append(
                    Unknown(path=name, cataloger=_READER, reason=f"{where} ({label!r}): no purl")
                )
            continue
        props = _props(c)
        paths = [v for k, v in sorted(props.items()) if k.endswith(":path") and ":location:" in k]
        layer = props.get("shoal:layer:diffID") or props.get("syft:location:0:layerID")
        version = c.get("version") if isinstance(c.get("version"), str) else None
        source = props.get("shoal:source:name")
        pkg = package_from_purl(
            purl,
            fallback_version=version,
            distro=distro,
            cataloger=props.get("shoal:cataloger") or props.get("syft:package:foundBy") or _READER,
            locations=tuple(Location(path=p, layer=layer) for p in paths[:16]),
            layer=layer,
            layer_created_by=props.get("shoal:layer:createdBy"),
        )
        if isinstance(pkg, str):
            unknowns.append(Unknown(path=name, cataloger=_READER, reason=f"{where}: {pkg}"))
            continue
        if source and pkg.type.is_os and pkg.source_name is None:
            pkg = replace(pkg, source_name=source, source_version=props.get("shoal:source:version"))
        packages.append(pkg)
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    image = meta.get("component") if isinstance(meta, dict) else None
    facts: dict[str, str] = {}
    ref = name
    if isinstance(image, dict):
        facts = _props(image)
        ref = facts.get("shoal:image:reference") or str(image.get("name") or name)
    if distro is None:
        distro = next((p.distro for p in packages if p.distro is not None), None)
    return Sbom(
        image=_image_info(ref, facts),
        distro=distro,
        packages=tuple(packages),
        unknowns=tuple(unknowns),
        tool=_tool(meta),
    )


def _tool(meta: Any) -> str:
    tools = meta.get("tools") if isinstance(meta, dict) else None
    if isinstance(tools, dict):
        tools = tools.get("components")
    if isinstance(tools, list) and tools and isinstance(tools[0], dict):
        return str(tools[0].get("name", "unknown"))[:80]
    return "unknown"


# --- SPDX --------------------------------------------------------------------------


def _spdx(doc: dict[str, Any], name: str) -> Sbom:
    pkgs = doc.get("packages")
    if pkgs is None:
        pkgs = []
    if not isinstance(pkgs, list):
        raise SbomInputError(f"SBOM {name!r}: 'packages' is not a list")
    if len(pkgs) > MAX_COMPONENTS:
        raise LimitExceeded(
            f"SBOM {name!r}: more than {MAX_COMPONENTS} packages", limit="sbom_components"
        )
    distro: Distro | None = None
    for p in pkgs:
        if isinstance(p, dict) and p.get("primaryPackagePurpose") == "OPERATING-SYSTEM":
            distro = Distro(
                id=str(p.get("name", "")).lower(), version_id=_str(p.get("versionInfo"))
            )
    packages: list[Package] = []
    unknowns: list[Unknown] = []
    image_ref = _str(doc.get("name")) or name
    for i, p in enumerate(pkgs):
        where = f"packages[{i}]"
        if not isinstance(p, dict):
            unknowns.append(Unknown(path=name, cataloger=_READER, reason=f"{where}: not an object"))
            continue
        purpose = p.get("primaryPackagePurpose")
        if purpose in ("OPERATING-SYSTEM", "CONTAINER"):
            continue
        purls = [
            r.get("referenceLocator")
            for r in p.get("externalRefs") or []
            if isinstance(r, dict) and r.get("referenceType") == "purl"
        ]
        purl = next((x for x in purls if isinstance(x, str) and x), None)
        if purl is None:
            label = str(p.get("name", "?"))[:80]
            unknowns.append(
                Unknown(path=name, cataloger=_READER, reason=f"{where} ({label!r}): no purl")
            )
            continue
        pkg = package_from_purl(purl, fallback_version=_str(p.get("versionInfo")), distro=distro)
        if isinstance(pkg, str):
            unknowns.append(Unknown(path=name, cataloger=_READER, reason=f"{where}: {pkg}"))
            continue
        packages.append(pkg)
    if distro is None:
        distro = next((p.distro for p in packages if p.distro is not None), None)
    creators = (
        (doc.get("creationInfo") or {}).get("creators")
        if isinstance(doc.get("creationInfo"), dict)
        else None
    )
    tool = "unknown"
    if isinstance(creators, list):
        tool = next(
            (c[6:].strip()[:80] for c in creators if isinstance(c, str) and c.startswith("Tool:")),
            tool,
        )
    facts = next(
        (
            _annotated_facts(p)
            for p in pkgs
            if isinstance(p, dict) and p.get("primaryPackagePurpose") == "CONTAINER"
        ),
        {},
    )
    return Sbom(
        image=_image_info(facts.get("shoal:image:reference") or image_ref, facts),
        distro=distro,
        packages=tuple(packages),
        unknowns=tuple(unknowns),
        tool=tool,
    )


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None
