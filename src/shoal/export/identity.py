"""Stable identifiers for what an SBOM describes: packages and the image itself.

A package id is a hash of the package's purl (or, lacking one, its type, name and
version) and the locations it was found at, so the same package in the same place gets
the same CycloneDX bom-ref and SPDX id in every scan, and two copies of one package in
different places stay apart. Ids that would still collide (the very same package
reported twice) get a counter, assigned in output order so that it is stable too.

The image is named the way the purl spec's ``oci`` type names it: the last path
component of the repository as the name, the manifest digest as the version, and the
full repository as the ``repository_url`` qualifier.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from packageurl import PackageURL

from shoal.export.base import safe_purl
from shoal.model import ImageInfo, Package

_ID_HEX = 16  # 64 bits: no accidental collisions at SBOM scale, short enough to read


def package_ids(packages: Sequence[Package]) -> list[str]:
    """One unique, stable id (hex) per package, aligned with `packages`."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for pkg in packages:
        h = hashlib.sha256()
        h.update(_b(safe_purl(pkg) or f"{pkg.type.value}/{pkg.name}@{pkg.version}"))
        for loc in pkg.locations:
            h.update(b"\0" + _b(loc.path) + b"\0" + _b(loc.layer or ""))
        base = h.hexdigest()[:_ID_HEX]
        n = seen.get(base, 0) + 1
        seen[base] = n
        out.append(base if n == 1 else f"{base}-{n}")
    return out


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")  # hashing must not fail on odd text


_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9.-]+")


def id_fragment(text: str, max_len: int = 64) -> str:
    """`text` reduced to the characters SPDX ids allow (``[A-Za-z0-9.-]``), bounded."""
    return _NOT_ID_CHARS.sub("-", text).strip("-")[:max_len].strip("-") or "x"


# Transports that name something other than a registry repository ("oci:dir:tag").
_TRANSPORTS = ("oci-archive", "docker-archive", "oci", "dir", "tarball", "docker")


@dataclass(frozen=True, slots=True)
class ImageName:
    """An image reference split for naming: ``repository`` as the user knows it
    (``docker.io/library/alpine``, or a path for local sources), its last component,
    the tag, and whether it lives in a registry."""

    repository: str
    name: str
    tag: str | None
    in_registry: bool


def image_name(reference: str) -> ImageName:
    """Split a normalised reference; never raises, as the reference is already known
    good (or is a local source) and naming must not fail an export."""
    ref = reference.strip()
    in_registry = True
    for transport in _TRANSPORTS:
        if ref.startswith(transport + ":"):
            ref = ref[len(transport) + 1 :]
            in_registry = transport == "docker"
            break
    ref = ref.removeprefix("//")
    ref = ref.split("@", 1)[0]
    tag: str | None = None
    colon = ref.rfind(":")
    # A ':' before the last '/' is a registry port ("localhost:5000/app"), not a tag.
    if colon > ref.rfind("/"):
        ref, tag = ref[:colon], ref[colon + 1 :] or None
    # An empty reference cannot come from a real source, but naming must still give a name.
    repository = ref.rstrip("/") or reference.strip() or "unnamed"
    name = repository.rsplit("/", 1)[-1] or repository
    return ImageName(repository=repository, name=name, tag=tag, in_registry=in_registry)


def image_version(image: ImageInfo) -> str | None:
    """What identifies the image's content: its manifest digest, else its config digest
    (sources such as ``docker save`` archives have no manifest digest)."""
    return image.manifest_digest or image.config_digest


def image_purl(image: ImageInfo) -> str | None:
    """``pkg:oci/alpine@sha256%3A...?arch=amd64&repository_url=docker.io/library/alpine&tag=3.19``.

    None without a manifest digest: the purl spec requires it as the oci version.
    """
    if not image.manifest_digest:
        return None
    parsed = image_name(image.reference)
    qualifiers: dict[str, str] = {}
    if image.platform is not None:
        qualifiers["arch"] = image.platform.architecture
    if parsed.in_registry:
        qualifiers["repository_url"] = parsed.repository
    if parsed.tag:
        qualifiers["tag"] = parsed.tag
    try:
        return PackageURL(
            type="oci",
            name=parsed.name.lower(),
            version=image.manifest_digest,
            qualifiers=qualifiers or None,
        ).to_string()
    except (ValueError, TypeError):  # names the purl library cannot encode
        return None


def image_facts(image: ImageInfo) -> list[tuple[str, str | None]]:
    """The image's identity and layers as `shoal:image:*` name/value pairs, written as
    CycloneDX properties and SPDX annotations alike (None values are left out there)."""
    facts: list[tuple[str, str | None]] = [
        ("shoal:image:reference", image.reference),
        ("shoal:image:manifestDigest", image.manifest_digest),
        ("shoal:image:configDigest", image.config_digest),
        ("shoal:image:indexDigest", image.index_digest),
        ("shoal:image:platform", str(image.platform) if image.platform else None),
        ("shoal:image:created", image.created),
    ]
    facts += [("shoal:image:tag", t) for t in image.tags]
    facts += [("shoal:image:repoDigest", d) for d in image.repo_digests]
    for i, layer in enumerate(image.layers):
        facts += [
            (f"shoal:image:layer:{i}:digest", layer.digest),
            (f"shoal:image:layer:{i}:diffID", layer.diff_id),
            (f"shoal:image:layer:{i}:mediaType", layer.media_type),
            (f"shoal:image:layer:{i}:size", str(layer.size)),
            (f"shoal:image:layer:{i}:createdBy", layer.created_by),
        ]
    return facts
