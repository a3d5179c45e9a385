"""Debian release codenames and the version numbers OSV and os-release use for them.

Shared by the Debian feeds (a data table, not a plugin). Advisories name releases by
version ("12"), as OSV's ``Debian:12`` does and as ``VERSION_ID`` in an image's
os-release says; the tracker and the DSA/DLA lists name them by codename.
"""

from __future__ import annotations

CODENAMES: dict[str, str] = {
    "buzz": "1.1",
    "rex": "1.2",
    "bo": "1.3",
    "hamm": "2.0",
    "slink": "2.1",
    "potato": "2.2",
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
}
"""Codename -> release version. ``sid`` (unstable) has no number and stays ``sid``."""


def release_of(codename: str) -> str | None:
    """The release version of a codename, ``sid`` for unstable, None if unknown."""
    c = codename.strip().lower()
    if c in ("sid", "unstable"):
        return "sid"
    return CODENAMES.get(c)
