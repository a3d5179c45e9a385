"""Matchers for OS packages: dpkg, apk and rpm against their distribution's advisories.

Distributions publish advisories per *source* package and per release, so a binary
package is looked up by its source (dpkg ``Source:``, apk origin, rpm source rpm) and its
source version, in the ecosystem of the image's distribution, and only entries for the
image's release (or for every release) apply. OS packages are never looked up in
language ecosystems: a Debian ``python3-django`` is patched by Debian, and PyPI's ranges
say nothing about it.
"""

from __future__ import annotations

import re
from typing import ClassVar

from shoal.feeds.debian_releases import release_of
from shoal.match.base import NoQuery, Query
from shoal.model.package import Distro, Package, PackageType

# os-release ID -> OSV ecosystem, per package format. Derivatives (ID_LIKE) are not
# matched against their parent's advisories: their releases and versions differ.
_DPKG = {"debian": "Debian", "ubuntu": "Ubuntu"}
_APK = {"alpine": "Alpine", "wolfi": "Wolfi", "chainguard": "Chainguard"}
_RPM = {
    "rhel": "Red Hat",
    "centos": "Red Hat",  # CentOS Stream/Linux rebuild RHEL sources, and OSV has no CentOS
    "rocky": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "sles": "SUSE",
    "sled": "SUSE",
    "opensuse-leap": "openSUSE",
    "mageia": "Mageia",
    "openeuler": "openEuler",
    "photon": "Photon OS",
    "azurelinux": "Azure Linux",
    "mariner": "Azure Linux",
}
_ROLLING = frozenset({"Wolfi", "Chainguard"})  # no releases: every entry applies
# Ecosystems whose OSV release names are product strings that os-release cannot be
# mapped to yet ("SUSE:Linux Enterprise Server 15 SP5", "openEuler:22.03-LTS-SP1"):
# reported as not looked up rather than silently never matching.
_UNMAPPED = frozenset({"SUSE", "openSUSE", "openEuler"})

_SRPM = re.compile(r"^(?P<name>.+)-[^-]+-[^-]+\.(?:no)?src\.rpm$")


def _major(version_id: str) -> str:
    return version_id.split(".", 1)[0]


def releases(ecosystem: str, distro: Distro) -> frozenset[str] | None:
    """The release names an advisory entry may carry for this image: Debian's major
    version and codename ("12", "bookworm"), Ubuntu's "22.04", Alpine's branch "v3.19",
    the major version for rpm distributions. None when the image's release is unknown."""
    if ecosystem in _ROLLING:
        return frozenset({""})
    vid = (distro.version_id or "").strip()
    names: set[str] = set()
    if ecosystem == "Debian":
        if vid:
            names.add(_major(vid))
        if distro.version_codename:
            # testing and sid images often have a codename but no VERSION_ID; feeds
            # name releases by number ("13") or by codename
            names.add(distro.version_codename)
            number = release_of(distro.version_codename)
            if number:
                names.add(number)
    elif ecosystem == "Ubuntu":
        if vid:
            names.add(vid)
        if distro.version_codename:
            names.add(distro.version_codename)
    elif ecosystem == "Alpine":
        parts = vid.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            names.add(f"v{parts[0]}.{parts[1]}")
        elif "_alpha" in vid or vid == "edge":
            names.add("edge")
    elif vid:
        names.add(_major(vid))
        names.add(vid)  # "Photon OS:5.0", "Azure Linux:3.0"
    return frozenset(names) if names else None


def release_prefixes(ecosystem: str, distro: Distro) -> tuple[str, ...]:
    """Red Hat's OSV releases name a product stream, ``enterprise_linux:9::appstream``:
    every stream of the image's major release applies."""
    if ecosystem == "Red Hat" and distro.version_id:
        return (f"enterprise_linux:{_major(distro.version_id)}:",)
    return ()


class _DistroMatcher:
    name: ClassVar[str]
    version: ClassVar[int] = 1
    _type: ClassVar[PackageType]
    _ecosystems: ClassVar[dict[str, str]]

    def applies_to(self, pkg: Package) -> bool:
        return pkg.type is self._type

    def query(self, pkg: Package) -> Query | NoQuery:
        distro = pkg.distro
        if distro is None:
            return NoQuery(f"{self._type.value} package without a known distribution")
        ecosystem = self._ecosystems.get(distro.id)
        if ecosystem is None:
            return NoQuery(f"no advisory feed for distribution {distro.id!r}")
        if ecosystem in _UNMAPPED:
            return NoQuery(f"{ecosystem} release names are not mapped from os-release yet")
        rel = releases(ecosystem, distro)
        if rel is None:
            return NoQuery(
                f"release of {distro.id!r} unknown (os-release VERSION_ID "
                f"{distro.version_id!r}): cannot pick its advisories"
            )
        name, version = self.source(pkg)
        if not name or not version:
            return NoQuery("package without a name or version")
        return Query(
            ecosystem=ecosystem,
            name=name,
            version=version,
            releases=rel | {""},
            release_prefixes=release_prefixes(ecosystem, distro),
            also=self.also(pkg, name),
        )

    def also(self, pkg: Package, name: str) -> tuple[str, ...]:
        return ()

    def source(self, pkg: Package) -> tuple[str, str]:
        return pkg.source_name or pkg.name, pkg.source_version or pkg.version


class DpkgMatcher(_DistroMatcher):
    """Debian and Ubuntu: source package and source version, deb order."""

    name = "distro/dpkg"
    _type = PackageType.DEB
    _ecosystems = _DPKG


class ApkMatcher(_DistroMatcher):
    """Alpine, Wolfi, Chainguard: origin package, apk order. An origin package's
    version is its subpackages' version, so the installed version is evaluated."""

    name = "distro/apk"
    _type = PackageType.APK
    _ecosystems = _APK

    def source(self, pkg: Package) -> tuple[str, str]:
        return pkg.source_name or pkg.name, pkg.version


class RpmMatcher(_DistroMatcher):
    """Red Hat family: the source rpm name and the binary name (Red Hat's and its
    rebuilds' advisories list binary packages), the binary's epoch:version-release (a
    binary rpm carries its source rpm's EVR)."""

    name = "distro/rpm"
    _type = PackageType.RPM
    _ecosystems = _RPM

    def source(self, pkg: Package) -> tuple[str, str]:
        name = pkg.source_name
        if not name:
            m = _SRPM.match(pkg.meta("sourcerpm") or "")
            name = m.group("name") if m else pkg.name
        return name, pkg.version

    def also(self, pkg: Package, name: str) -> tuple[str, ...]:
        return (pkg.name,) if pkg.name != name else ()
