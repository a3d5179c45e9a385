"""Plain, frozen data shared by every part of shoal. Imports only stdlib and packageurl."""

from shoal.model.digest import Digest, parse_digest, sha256_digest
from shoal.model.package import (
    CatalogResult,
    Distro,
    LicenseEvidence,
    Location,
    Package,
    PackageType,
    Unknown,
)
from shoal.model.sbom import ImageInfo, LayerInfo, Platform, Sbom

__all__ = [
    "CatalogResult",
    "Digest",
    "Distro",
    "ImageInfo",
    "LayerInfo",
    "LicenseEvidence",
    "Location",
    "Package",
    "PackageType",
    "Platform",
    "Sbom",
    "Unknown",
    "parse_digest",
    "sha256_digest",
]
