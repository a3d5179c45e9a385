"""Package URLs (purl spec) for every package type, written as Syft writes them."""

from __future__ import annotations

import re

from packageurl import PackageURL

from shoal.model.package import Package, PackageType

_PURL_TYPE = {
    PackageType.DEB: "deb",
    PackageType.APK: "apk",
    PackageType.RPM: "rpm",
    PackageType.PYTHON: "pypi",
    PackageType.NPM: "npm",
    PackageType.GO: "golang",
    PackageType.JAVA: "maven",
    PackageType.GEM: "gem",
    PackageType.RUST: "cargo",
    PackageType.PHP: "composer",
    PackageType.DOTNET: "nuget",
}

_DEFAULT_OS_NAMESPACE = {
    PackageType.DEB: "debian",
    PackageType.APK: "alpine",
    PackageType.RPM: None,
}


def normalize_python_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def package_purl(pkg: Package) -> str:
    ptype = _PURL_TYPE[pkg.type]
    namespace: str | None = None
    name = pkg.name
    version = pkg.version or None
    qualifiers: dict[str, str] = {}

    if pkg.type.is_os:
        namespace = pkg.distro.id if pkg.distro else _DEFAULT_OS_NAMESPACE[pkg.type]
        if pkg.type is PackageType.RPM and namespace == "rhel":
            namespace = "redhat"  # the purl-spec / Syft namespace for Red Hat rpms
        if pkg.arch:
            qualifiers["arch"] = pkg.arch
        if pkg.type is PackageType.RPM:
            epoch = pkg.meta("epoch")
            if epoch:
                qualifiers["epoch"] = epoch
                # the purl version of an rpm is version-release, the epoch is a qualifier
                if version and version.startswith(f"{epoch}:"):
                    version = version[len(epoch) + 1 :]
        upstream = _upstream(pkg)
        if upstream:
            qualifiers["upstream"] = upstream
        if pkg.distro:
            qualifiers["distro"] = pkg.distro.purl_qualifier
    elif pkg.type is PackageType.PYTHON:
        name = normalize_python_name(name)
    elif pkg.type is PackageType.NPM:
        if name.startswith("@") and "/" in name:
            namespace, name = name.split("/", 1)
    elif pkg.type is PackageType.GO:
        if "/" in name:
            namespace, name = name.rsplit("/", 1)
        elif name == "stdlib" and version and version.startswith("go"):
            version = version[2:]  # the toolchain "go1.22.1" is stdlib@1.22.1, as Syft writes
    elif pkg.type is PackageType.JAVA:
        namespace = pkg.namespace
    elif pkg.type is PackageType.PHP and "/" in name:
        namespace, name = name.split("/", 1)

    return PackageURL(
        type=ptype,
        namespace=namespace,
        name=name,
        version=version,
        qualifiers=qualifiers or None,
    ).to_string()


def _upstream(pkg: Package) -> str | None:
    """The `upstream` qualifier as Syft writes it for each OS package type."""
    if pkg.type is PackageType.RPM:
        return pkg.meta("sourcerpm")
    if not pkg.source_name:
        return None
    if pkg.type is PackageType.DEB:
        # dpkg: written whenever there is a Source field, with its version if it differs
        if pkg.source_version and pkg.source_version != pkg.version:
            return f"{pkg.source_name}@{pkg.source_version}"
        return pkg.source_name
    return pkg.source_name if pkg.source_name != pkg.name else None
