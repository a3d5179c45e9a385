"""Packages found in an image, and the problems found while looking for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property


class PackageType(StrEnum):
    """Package kinds; the values are Syft's so SBOMs and benchmarks line up."""

    DEB = "deb"
    APK = "apk"
    RPM = "rpm"
    PYTHON = "python"
    NPM = "npm"
    GO = "go-module"
    JAVA = "java-archive"
    GEM = "gem"
    RUST = "rust-crate"
    PHP = "php-composer"
    DOTNET = "dotnet"

    @property
    def is_os(self) -> bool:
        return self in (PackageType.DEB, PackageType.APK, PackageType.RPM)


@dataclass(frozen=True, slots=True)
class Distro:
    """What `/etc/os-release` (or its older equivalents) says the image is."""

    id: str  # "debian", "alpine", "rhel", "ubuntu", ... (os-release ID, lower case)
    version_id: str | None = None  # "12", "3.19.1", "9.3"
    version_codename: str | None = None  # "bookworm"
    name: str | None = None
    pretty_name: str | None = None
    id_like: tuple[str, ...] = ()

    @property
    def purl_qualifier(self) -> str:
        """`distro=` qualifier value as Syft writes it, e.g. ``debian-12``."""
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


@dataclass(frozen=True, slots=True)
class Location:
    """Where evidence for a package was found: a path in the image, and the layer."""

    path: str  # absolute, normalised: "/var/lib/dpkg/status"
    layer: str | None = None  # diff_id of the layer that holds this version of the file


@dataclass(frozen=True)
class Package:
    """One installed package.

    Catalogers fill the identity fields from the file they parse. The engine fills
    `locations[*].layer`, `layer`, `layer_created_by` and `distro` after it has worked out
    which layer introduced the package and what distribution the image is; `purl` is
    derived from all of that.
    """

    name: str
    version: str
    type: PackageType
    cataloger: str  # plugin id that found it, e.g. "os/dpkg"
    locations: tuple[Location, ...] = ()
    licenses: tuple[str, ...] = ()
    arch: str | None = None
    # Distro packages: the source package (dpkg `Source:`, apk origin, rpm sourcerpm name)
    source_name: str | None = None
    source_version: str | None = None
    # Maven groupId; other types keep their namespace inside `name` ("@scope/x", "vendor/x")
    namespace: str | None = None
    # Free-form, type-specific facts ("epoch", "release", "go.toolchain", "heuristic", ...)
    metadata: tuple[tuple[str, str], ...] = ()
    # Filled by the engine:
    layer: str | None = None  # diff_id of the layer that introduced the package
    layer_created_by: str | None = None  # config history line for that layer
    distro: Distro | None = field(default=None, compare=False)

    def meta(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.metadata:
            if k == key:
                return v
        return default

    @cached_property
    def purl(self) -> str:
        from shoal.model.purl import package_purl

        return package_purl(self)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity used to de-duplicate: type, namespace, name, version."""
        return (self.type.value, self.namespace or "", self.name, self.version)


@dataclass(frozen=True, slots=True)
class LicenseEvidence:
    """A licence found apart from the package record (dpkg copyright files)."""

    type: PackageType
    package_name: str
    licenses: tuple[str, ...]
    path: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """Something that could not be catalogued, kept as data instead of raised."""

    path: str
    cataloger: str
    reason: str  # one line: what is wrong and where ("line 12: missing 'Version'")
    layer: str | None = None


@dataclass(frozen=True, slots=True)
class CatalogResult:
    """What one cataloger found in one file."""

    packages: tuple[Package, ...] = ()
    unknowns: tuple[Unknown, ...] = ()
    licenses: tuple[LicenseEvidence, ...] = ()

    @staticmethod
    def failed(path: str, cataloger: str, reason: str) -> CatalogResult:
        return CatalogResult(unknowns=(Unknown(path=path, cataloger=cataloger, reason=reason),))
