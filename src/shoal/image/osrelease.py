"""Which Linux distribution an image is, from its release files.

`/etc/os-release` (or `/usr/lib/os-release`, its standard location, which `/etc/os-release`
usually links to) answers for every current distribution. Images too old to have one,
or stripped of it, still carry older markers: `/etc/lsb-release`, `/etc/alpine-release`,
the Red Hat family's `/etc/*-release` sentences, `/etc/system-release-cpe`,
`/etc/SuSE-release` and `/etc/debian_version`; these are read, in that order, only when no
os-release names a distribution. Debian's codename, which Debian advisories are keyed by,
is filled in when os-release leaves it out (distroless images, Debian 8 and older).

Everything here is a pure function of file contents; the engine reads `OS_RELEASE_PATHS`
from the image's final file view (following symlinks) and calls `detect_distro`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shoal.model import Distro

OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
_LSB = "/etc/lsb-release"
_ALPINE = "/etc/alpine-release"
_DEBIAN = "/etc/debian_version"
_SUSE = "/etc/SuSE-release"
_CPE = "/etc/system-release-cpe"
# Most specific first: on CentOS, redhat-release and system-release link to centos-release.
_REDHAT_FAMILY = (
    "/etc/centos-release",
    "/etc/rocky-release",
    "/etc/almalinux-release",
    "/etc/oracle-release",
    "/etc/fedora-release",
    "/etc/redhat-release",
    "/etc/system-release",
)

OS_RELEASE_PATHS: tuple[str, ...] = (
    *OS_RELEASE,
    _LSB,
    _ALPINE,
    *_REDHAT_FAMILY,
    _CPE,
    _SUSE,
    _DEBIAN,
)
"""Every path `detect_distro` can use, in order of precedence."""

# Only the head of a release file is read: real ones are under 1 KiB.
_MAX_BYTES = 64 * 1024
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Debian release numbers to codenames (debian-archive-keyring, www.debian.org/releases).
DEBIAN_CODENAMES: Mapping[str, str] = {
    "1.1": "buzz",
    "1.2": "rex",
    "1.3": "bo",
    "2.0": "hamm",
    "2.1": "slink",
    "2.2": "potato",
    "3.0": "woody",
    "3.1": "sarge",
    "4": "etch",
    "5": "lenny",
    "6": "squeeze",
    "7": "wheezy",
    "8": "jessie",
    "9": "stretch",
    "10": "buster",
    "11": "bullseye",
    "12": "bookworm",
    "13": "trixie",
    "14": "forky",
    "15": "duke",
}

# "<Name> release <version> (<codename>)", the sentence of the Red Hat family's files.
_RELEASE_SENTENCE = re.compile(r"^(.+?)\s+release\s+(\d+(?:\.\d+)*)", re.MULTILINE)
# Distribution names in those sentences, to os-release IDs (first match wins).
_REDHAT_IDS = (
    ("red hat enterprise linux", "rhel"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("oracle linux", "ol"),
    ("fedora", "fedora"),
    ("amazon linux", "amzn"),
    ("scientific linux", "scientific"),
)
# cpe:/o:<vendor>:<product>:<version>[:...]
_CPE_RE = re.compile(r"cpe:/o:([^:\s]+):([^:\s]*):([^:\s]+)")


def parse_os_release(text: str) -> dict[str, str]:
    """The variables of an os-release(5) file.

    Each line is `KEY=value`, the value quoted as in a shell: double quotes (where backslash
    escapes `$`, `"`, `\\` and `` ` ``), single quotes (literal), or unquoted (backslash
    escapes any character). Comments, blank lines and lines that are not assignments are
    skipped. A later assignment of the same key wins, as it would in a shell.
    """
    values: dict[str, str] = {}
    for raw in text[:_MAX_BYTES].split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, rest = line.partition("=")
        if not sep or not _KEY.fullmatch(key):
            continue
        values[key] = _unquote(rest)
    return values


def _unquote(value: str) -> str:
    out: list[str] = []
    i, n = 0, len(value)
    quote: str | None = None
    while i < n:
        c = value[i]
        if quote == "'":
            if c == "'":
                quote = None
            else:
                out.append(c)
        elif quote == '"':
            if c == '"':
                quote = None
            elif c == "\\" and i + 1 < n and value[i + 1] in '$"\\`':
                i += 1
                out.append(value[i])
            else:
                out.append(c)
        elif c in "'\"":
            quote = c
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(value[i])
        elif c == "#" and out and out[-1].isspace():
            break  # an unquoted comment after the value
        else:
            out.append(c)
        i += 1
    return "".join(out).strip()


def detect_distro(files: Mapping[str, bytes]) -> Distro | None:
    """The distribution the given release files describe, or None if they name none.

    `files` maps paths from `OS_RELEASE_PATHS` to their content in the image's final view;
    absent files are simply left out. os-release wins over every older marker.
    """
    texts = {path: _text(data) for path, data in files.items() if path in OS_RELEASE_PATHS}
    distro = _from_os_release(texts)
    if distro is None:
        distro = (
            _from_lsb_release(texts.get(_LSB))
            or _from_alpine_release(texts.get(_ALPINE))
            or _from_redhat_family(texts)
            or _from_system_release_cpe(texts.get(_CPE))
            or _from_suse_release(texts.get(_SUSE))
            or _from_debian_version(texts.get(_DEBIAN))
        )
    if distro is not None and distro.id == "debian":
        distro = _complete_debian(distro, texts.get(_DEBIAN))
    return distro


def _text(data: bytes) -> str:
    return data[:_MAX_BYTES].decode("utf-8", errors="replace")


def _from_os_release(texts: Mapping[str, str]) -> Distro | None:
    for path in OS_RELEASE:
        text = texts.get(path)
        if text is None:
            continue
        values = parse_os_release(text)
        distro_id = values.get("ID", "").strip().lower()
        if not distro_id:
            continue  # an empty or broken file: let /usr/lib/os-release or older files answer
        return Distro(
            id=distro_id,
            version_id=values.get("VERSION_ID") or None,
            # Ubuntu before 16.04 had only UBUNTU_CODENAME; Fedora writes VERSION_CODENAME=""
            version_codename=values.get("VERSION_CODENAME")
            or values.get("UBUNTU_CODENAME")
            or None,
            name=values.get("NAME") or None,
            pretty_name=values.get("PRETTY_NAME") or None,
            id_like=tuple(values.get("ID_LIKE", "").lower().split()),
        )
    return None


def _from_lsb_release(text: str | None) -> Distro | None:
    if text is None:
        return None
    values = parse_os_release(text)  # same KEY=value syntax
    distro_id = values.get("DISTRIB_ID", "").strip().lower()
    if not distro_id:
        return None
    return Distro(
        id=distro_id,
        version_id=values.get("DISTRIB_RELEASE") or None,
        version_codename=values.get("DISTRIB_CODENAME") or None,
        name=values.get("DISTRIB_ID") or None,
        pretty_name=values.get("DISTRIB_DESCRIPTION") or None,
    )


def _from_alpine_release(text: str | None) -> Distro | None:
    version = _first_line(text)
    if not version or not re.fullmatch(r"\d+(?:\.\d+)*(?:_\w+)?", version):
        return None
    return Distro(
        id="alpine",
        version_id=version,
        name="Alpine Linux",
        pretty_name=f"Alpine Linux v{'.'.join(version.split('.')[:2])}",
    )


def _from_redhat_family(texts: Mapping[str, str]) -> Distro | None:
    for path in _REDHAT_FAMILY:
        text = texts.get(path)
        m = _RELEASE_SENTENCE.search(text) if text else None
        if m is None:
            continue
        name, version = m.group(1).strip(), m.group(2)
        low = name.lower()
        distro_id = next((i for key, i in _REDHAT_IDS if key in low), low.split()[0])
        if distro_id == "centos":
            version = version.split(".")[0]  # CentOS's os-release VERSION_ID is the major only
        return Distro(
            id=distro_id,
            version_id=version,
            name=name,
            pretty_name=_first_line(text),
        )
    return None


def _from_system_release_cpe(text: str | None) -> Distro | None:
    m = _CPE_RE.search(text) if text else None
    if m is None:
        return None
    vendor, version = m.group(1).lower(), m.group(3)
    distro_id = {"redhat": "rhel", "oracle": "ol", "amazon": "amzn"}.get(vendor, vendor)
    return Distro(id=distro_id, version_id=version.split(".")[0] if vendor == "centos" else version)


def _from_suse_release(text: str | None) -> Distro | None:
    first = _first_line(text)
    if not first or text is None:
        return None
    # "SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4"
    values: dict[str, str] = {}
    for line in text.split("\n")[1:]:
        key, _, value = line.partition("=")
        values[key.strip().upper()] = value.strip()
    version = values.get("VERSION")
    if not version:
        return None
    patch = values.get("PATCHLEVEL")
    if first.lower().startswith("opensuse"):
        return Distro(id="opensuse", version_id=version, name="openSUSE", pretty_name=first)
    if patch and patch != "0":
        version = f"{version}.{patch}"
    return Distro(id="sles", version_id=version, name="SLES", pretty_name=first)


def _from_debian_version(text: str | None) -> Distro | None:
    version_id, codename = _debian_release(_first_line(text))
    if version_id is None and codename is None:
        return None
    return Distro(
        id="debian", version_id=version_id, version_codename=codename, name="Debian GNU/Linux"
    )


def _complete_debian(distro: Distro, debian_version: str | None) -> Distro:
    """Fill a Debian distro's missing version or codename.

    Distroless images write `VERSION="Debian GNU/Linux 12 (bookworm)"` and no
    VERSION_CODENAME, nor does Debian 8 and older; testing and sid have no VERSION_ID.
    """
    file_version, file_codename = _debian_release(_first_line(debian_version))
    version_id = distro.version_id or file_version
    codename = (
        distro.version_codename
        or (DEBIAN_CODENAMES.get(_debian_key(version_id)) if version_id else None)
        or file_codename
    )
    if (version_id, codename) == (distro.version_id, distro.version_codename):
        return distro
    return Distro(
        id=distro.id,
        version_id=version_id,
        version_codename=codename,
        name=distro.name,
        pretty_name=distro.pretty_name,
        id_like=distro.id_like,
    )


def _debian_release(line: str | None) -> tuple[str | None, str | None]:
    """`/etc/debian_version` content -> (VERSION_ID as os-release writes it, codename).

    "12.5" -> ("12", "bookworm"); "3.1" -> ("3.1", "sarge"); "trixie/sid" -> (None, "trixie").
    """
    if not line:
        return None, None
    if re.fullmatch(r"\d+(?:\.\d+)*", line):
        key = _debian_key(line)
        return key, DEBIAN_CODENAMES.get(key)
    m = re.fullmatch(r"([a-z]+)/sid", line)
    if m is not None:
        return None, m.group(1)
    return None, None


def _debian_key(version: str) -> str:
    """Debian 4 onwards number releases by the major ("12.5" is 12); before, by major.minor."""
    parts = version.split(".")
    major = parts[0]
    if major.isdigit() and int(major) <= 3:
        return f"{major}.{parts[1] if len(parts) > 1 else '0'}"
    return major


def _first_line(text: str | None) -> str | None:
    if text is None:
        return None
    stripped = text.strip()
    return stripped.split("\n", 1)[0].strip() if stripped else None
