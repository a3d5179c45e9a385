"""Package builders for matcher tests."""

from __future__ import annotations

from shoal.model.package import Distro, Package, PackageType

BULLSEYE = Distro(id="debian", version_id="11", version_codename="bullseye")
BUSTER = Distro(id="debian", version_id="10", version_codename="buster")
BOOKWORM = Distro(id="debian", version_id="12", version_codename="bookworm")
ALPINE_3_11 = Distro(id="alpine", version_id="3.11.6")


def deb(
    name: str,
    version: str,
    source: str | None = None,
    source_version: str | None = None,
    distro: Distro | None = BULLSEYE,
) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.DEB,
        cataloger="os/dpkg",
        source_name=source,
        source_version=source_version,
        distro=distro,
    )


def apk(
    name: str, version: str, origin: str | None = None, distro: Distro = ALPINE_3_11
) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.APK,
        cataloger="os/apk",
        source_name=origin,
        source_version=version if origin else None,
        distro=distro,
    )


def lang(type_: PackageType, name: str, version: str, namespace: str | None = None) -> Package:
    return Package(name=name, version=version, type=type_, cataloger="test", namespace=namespace)


def py(name: str, version: str) -> Package:
    return lang(PackageType.PYTHON, name, version)


def go(name: str, version: str) -> Package:
    return lang(PackageType.GO, name, version)
