"""Exact version ordering for every ecosystem shoal matches advisories in.

`compare(ecosystem, a, b)` takes an OSV ecosystem name, with or without a release
suffix (``Debian:12``, ``Alpine:v3.19``, ``Ubuntu:22.04:LTS``), and never raises on
strange version strings: each scheme documents how it orders what it cannot parse,
following its reference tool. `scheme_for(ecosystem)` gives the `VersionScheme`, whose
`parse` is strict. One module per scheme; `ranges` evaluates OSV affected ranges.
"""

from __future__ import annotations

from shoal.versions import apk, composer, deb, gem, maven, nuget, pep440, rpm, semver
from shoal.versions.base import MAX_LENGTH, InvalidVersion, Version, VersionScheme

ALL: tuple[VersionScheme, ...] = (
    deb.SCHEME,
    apk.SCHEME,
    rpm.SCHEME,
    pep440.SCHEME,
    semver.NPM,
    semver.SEMVER,
    semver.GO,
    maven.SCHEME,
    gem.SCHEME,
    nuget.SCHEME,
    composer.SCHEME,
)
"""Every scheme, once each."""

_BY_NAME = {s.name: s for s in ALL}

# OSV ecosystem names (https://ossf.github.io/osv-schema/#affectedpackage-field), lower
# case, to the scheme their versions follow.
ECOSYSTEMS: dict[str, VersionScheme] = {
    "debian": deb.SCHEME,
    "ubuntu": deb.SCHEME,
    "alpine": apk.SCHEME,
    "wolfi": apk.SCHEME,
    "chainguard": apk.SCHEME,
    "alpaquita": apk.SCHEME,
    "bellsoft hardened containers": apk.SCHEME,
    "red hat": rpm.SCHEME,
    "rocky linux": rpm.SCHEME,
    "almalinux": rpm.SCHEME,
    "suse": rpm.SCHEME,
    "opensuse": rpm.SCHEME,
    "mageia": rpm.SCHEME,
    "openeuler": rpm.SCHEME,
    "photon os": rpm.SCHEME,
    "azure linux": rpm.SCHEME,
    "pypi": pep440.SCHEME,
    "npm": semver.NPM,
    "crates.io": semver.SEMVER,
    "hex": semver.SEMVER,
    "go": semver.GO,
    "maven": maven.SCHEME,
    "rubygems": gem.SCHEME,
    "nuget": nuget.SCHEME,
    "packagist": composer.SCHEME,
}


def scheme_for(ecosystem: str) -> VersionScheme:
    """The scheme of an OSV ecosystem (release suffix allowed) or of a scheme name
    (``deb``, ``rpm``, ...). Raises ValueError naming an unknown ecosystem."""
    base = ecosystem.split(":", 1)[0].strip().lower()
    scheme = ECOSYSTEMS.get(base) or _BY_NAME.get(base)
    if scheme is None:
        raise ValueError(f"unknown ecosystem {ecosystem[:100]!r}: no version scheme for it")
    return scheme


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, with or after `b` in `ecosystem`'s order.

    Never raises on version strings (see each scheme's fallback); raises ValueError
    for an unknown ecosystem.
    """
    return scheme_for(ecosystem).compare(a, b)


__all__ = [
    "ALL",
    "ECOSYSTEMS",
    "MAX_LENGTH",
    "InvalidVersion",
    "Version",
    "VersionScheme",
    "compare",
    "scheme_for",
]
