"""Matchers for language packages, against their ecosystem's advisories (OSV, GHSA).

Each package type maps to one OSV ecosystem and a name normalised the way that
ecosystem's advisories spell it: PEP 503 for PyPI, ``group:artifact`` for Maven, the
module path for Go (and ``stdlib`` for the toolchain, version without its ``go``
prefix). Language packages are never looked up in distribution ecosystems.
"""

from __future__ import annotations

from typing import ClassVar

from shoal.match.base import NoQuery, Query
from shoal.model.package import Package, PackageType
from shoal.model.purl import normalize_python_name

ECOSYSTEM: dict[PackageType, str] = {
    PackageType.PYTHON: "PyPI",
    PackageType.NPM: "npm",
    PackageType.GO: "Go",
    PackageType.JAVA: "Maven",
    PackageType.GEM: "RubyGems",
    PackageType.RUST: "crates.io",
    PackageType.PHP: "Packagist",
    PackageType.DOTNET: "NuGet",
}


def advisory_name(pkg: Package) -> str | None:
    """The package's name as its ecosystem's advisories write it; None if it has none."""
    t = pkg.type
    if t is PackageType.PYTHON:
        return normalize_python_name(pkg.name)
    if t is PackageType.JAVA:
        if not pkg.namespace:
            return None
        return f"{pkg.namespace}:{pkg.name}"
    if t is PackageType.PHP:
        return pkg.name.lower()  # Composer names are case-insensitive, lower case on Packagist
    return pkg.name


def advisory_version(pkg: Package) -> str:
    if pkg.type is PackageType.GO and pkg.name == "stdlib" and pkg.version.startswith("go"):
        # the toolchain "go1.22.1" (or "go1.22.1 X:boringcrypto") is stdlib 1.22.1 in OSV
        return pkg.version[2:].split(" ", 1)[0]
    return pkg.version


class LanguageMatcher:
    """Every language package type, one OSV ecosystem each."""

    name: ClassVar[str] = "language"
    version: ClassVar[int] = 1

    def applies_to(self, pkg: Package) -> bool:
        return pkg.type in ECOSYSTEM

    def query(self, pkg: Package) -> Query | NoQuery:
        ecosystem = ECOSYSTEM[pkg.type]
        name = advisory_name(pkg)
        if name is None:
            return NoQuery(f"{ecosystem} package {pkg.name!r} without a groupId: cannot look it up")
        version = advisory_version(pkg)
        if not name or not version:
            return NoQuery(f"{ecosystem} package without a name or version")
        return Query(ecosystem=ecosystem, name=name, version=version, releases=None)
