"""Debian packages: the dpkg status database and the licences in `/usr/share/doc/*/copyright`.

Three kinds of file are read:

* `/var/lib/dpkg/status`: one deb822 stanza per package dpkg knows about, including
  packages that were removed but not purged; only those whose files are on disk count.
* `/var/lib/dpkg/status.d/<name>` (distroless images): one control file per package, usually
  without a `Status` field because everything listed there is installed. The `*.md5sums`
  files beside them are file lists, not packages.
* `/usr/share/doc/<package>/copyright`: the status database carries no licence, so, as Syft
  does, licences come from the package's copyright file: the `License:` fields of a
  machine-readable (DEP-5) file, references to `/usr/share/common-licenses/<name>`, and
  failing both a few unambiguous licence titles. The engine attaches the `LicenseEvidence`
  to the package named by the directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from shoal.catalog._support import LineProblem, LineProblems, split_lines
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, LicenseEvidence, Location, Package, PackageType

NAME = "os/dpkg"

# dpkg's own rule (lib/dpkg/parsehelp.c): alphanumeric first, then alphanumerics and "+-._".
_PKG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]*")
# `Source: name` or `Source: name (version)`, the version differing from the binary's after a
# binNMU (`bash (5.2.15-2)` for bash 5.2.15-2+b8).
_SOURCE = re.compile(r"([A-Za-z0-9][A-Za-z0-9+._-]*)(?:[ \t]+\(([^\s()]+)\))?")
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII except ':' and space (deb822)
_INSTALLED_SIZE = re.compile(r"[0-9]{1,20}")

# Status "want flag state": the states in which the package's files are on disk. Left out:
# not-installed, config-files (removed, conffiles kept) and half-installed (unpacking failed
# part way, so dpkg itself considers the files unreliable).
_ON_DISK_STATES = frozenset(
    {"installed", "unpacked", "half-configured", "triggers-awaited", "triggers-pending"}
)
_WANTS = frozenset({"unknown", "install", "hold", "deinstall", "purge"})
_FLAGS = frozenset({"ok", "reinstreq"})

# Only these fields are kept while parsing; Description and Conffiles can be large.
_KEPT = frozenset(
    {
        "package",
        "version",
        "architecture",
        "source",
        "status",
        "installed-size",
        "multi-arch",
        "essential",
        "provides",
    }
)

# Longest kept field value; real ones (Provides of perl-base) are under 1 KiB.
_MAX_FIELD = 64 * 1024
# A hostile file can have a problem on every line; past this many, one summary line is kept.
MAX_UNKNOWNS = 100
# Longest `License:` line read as an expression (real ones are under 100 characters).
_MAX_EXPRESSION = 1000
# Licences kept from one copyright file (real files have a few dozen at most).
MAX_LICENSES = 100


class DpkgCataloger(Cataloger):
    """Installed Debian packages (`os/dpkg`) and their copyright-file licences."""

    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        return is_status_path(entry.path) or is_copyright_path(entry.path)

    def catalog(self, f: LayerFile) -> CatalogResult:
        text = f.data.decode("utf-8", errors="replace")
        if is_copyright_path(f.path):
            return parse_copyright(text, f.path)
        return parse_dpkg_status(text, f.path)


def is_status_path(path: str) -> bool:
    """`.../lib/dpkg/status` or a package file in `.../lib/dpkg/status.d/` (cheap tests only)."""
    if path.endswith("/lib/dpkg/status"):
        return True
    head, _, base = path.rpartition("/")
    return (
        head.endswith("/lib/dpkg/status.d")
        and bool(base)
        and not base.startswith(".")
        and not base.endswith(".md5sums")
    )


def is_copyright_path(path: str) -> bool:
    """`/usr/share/doc/<package>/copyright`, exactly one directory below `doc`."""
    return (
        path.startswith("/usr/share/doc/")
        and path.endswith("/copyright")
        and path.count("/") == 5
        and len(path) > len("/usr/share/doc//copyright")
    )


# --- deb822 stanzas -------------------------------------------------------------------------


@dataclass(slots=True)
class _Stanza:
    line: int  # 1-based line of the first field
    fields: dict[str, tuple[str, int]] = field(default_factory=dict)  # kept fields: value, line

    def get(self, key: str) -> str | None:
        got = self.fields.get(key)
        return got[0] if got else None

    def line_of(self, key: str) -> int:
        got = self.fields.get(key)
        return got[1] if got else self.line


def _stanzas(text: str) -> Iterator[_Stanza | LineProblem]:
    """Split deb822 text into stanzas, yielding problems (bad lines) as they are met.

    Field names are case-insensitive (Debian policy 5.1); a line starting with a space or a tab
    continues the previous field. Only `_KEPT` fields keep their values, but every field name
    is checked for duplicates, which dpkg itself refuses.
    """
    current: _Stanza | None = None
    seen: set[str] = set()
    last_key: str | None = None
    for number, raw in enumerate(split_lines(text), start=1):
        line = raw.removesuffix("\r")
        if not line.strip():
            if current is not None:
                yield current
            current, last_key = None, None
            seen = set()
            continue
        if line[0] in " \t":
            if last_key is None:
                yield LineProblem(number, "continuation line outside a field")
                last_key = ""  # one problem for the whole run of lines
            elif last_key in _KEPT and current is not None:
                value, at = current.fields[last_key]
                # capped: growing one string line by line is quadratic in a hostile field
                if len(value) < _MAX_FIELD:
                    current.fields[last_key] = (f"{value} {line.strip()}".strip(), at)
            continue
        key, sep, value = line.partition(":")
        if not sep or not _FIELD_NAME.fullmatch(key) or key.startswith(("#", "-")):
            yield LineProblem(number, f"expected 'Field: value', got {_clip(line)!r}")
            last_key = ""  # "": continuation lines belong to the bad line; skip them quietly
            continue
        if current is None:
            current = _Stanza(line=number)
        folded = key.lower()
        if folded in seen:
            yield LineProblem(number, f"duplicate field {key!r}")
            last_key = ""  # its continuation lines are skipped with it
            continue
        seen.add(folded)
        last_key = folded
        if folded in _KEPT:
            current.fields[folded] = (value.strip(), number)
    if current is not None:
        yield current


# --- status database ------------------------------------------------------------------------


def parse_dpkg_status(text: str, path: str) -> CatalogResult:
    """Packages in a dpkg status file (or one distroless `status.d` file).

    Packages whose Status says their files are not on disk are left out; problems become
    `Unknown`s naming the line, and every stanza that can still be read is returned.
    """
    packages: list[Package] = []
    problems = LineProblems(NAME, MAX_UNKNOWNS)
    for item in _stanzas(text):
        if isinstance(item, LineProblem):
            problems.append(item)
            continue
        pkg = _package(item, path, problems)
        if pkg is not None:
            packages.append(pkg)
    return CatalogResult(packages=tuple(packages), unknowns=problems.unknowns(path))


def _package(stanza: _Stanza, path: str, problems: LineProblems) -> Package | None:
    name = stanza.get("package")
    if not name:
        problems.append(LineProblem(stanza.line, "stanza without Package"))
        return None
    if not _PKG_NAME.fullmatch(name):
        problems.append(
            LineProblem(stanza.line_of("package"), f"invalid package name {_clip(name)!r}")
        )
        return None
    where = stanza.line_of("package")

    status = stanza.get("status")
    if status is not None:
        words = status.split()
        if len(words) != 3 or words[0] not in _WANTS or words[1] not in _FLAGS:
            problems.append(
                LineProblem(
                    stanza.line_of("status"),
                    f"package {name!r}: Status {_clip(status)!r} is not 'want flag state'",
                )
            )
            return None
        if words[2] not in _ON_DISK_STATES:
            return None

    version = stanza.get("version")
    if not version:
        problems.append(LineProblem(where, f"package {name!r} has no Version"))
        return None
    if any(c.isspace() or not c.isprintable() for c in version):
        problems.append(
            LineProblem(
                stanza.line_of("version"), f"package {name!r}: invalid Version {_clip(version)!r}"
            )
        )
        return None

    source_name: str | None = None
    source_version: str | None = None
    source = stanza.get("source")
    if source:
        m = _SOURCE.fullmatch(source)
        if m is None:
            problems.append(
                LineProblem(
                    stanza.line_of("source"), f"package {name!r}: invalid Source {_clip(source)!r}"
                )
            )
        else:
            source_name = m.group(1)
            # no version in Source means the source version is the binary's
            source_version = m.group(2) or version

    metadata: list[tuple[str, str]] = []
    size = stanza.get("installed-size")
    if size:
        if _INSTALLED_SIZE.fullmatch(size):
            metadata.append(("installed_size", size))  # KiB, as dpkg records it
        else:
            problems.append(
                LineProblem(
                    stanza.line_of("installed-size"),
                    f"package {name!r}: Installed-Size {_clip(size)!r} is not a number",
                )
            )
    for key, meta_key in (
        ("status", "status"),
        ("essential", "essential"),
        ("multi-arch", "multi_arch"),
        ("provides", "provides"),
    ):
        value = stanza.get(key)
        if value:
            metadata.append((meta_key, _clip(value, 1000)))

    return Package(
        name=name,
        version=version,
        type=PackageType.DEB,
        cataloger=NAME,
        locations=(Location(path=path),),
        arch=stanza.get("architecture") or None,
        source_name=source_name,
        source_version=source_version,
        metadata=tuple(metadata),
    )


def _clip(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


# --- copyright files ------------------------------------------------------------------------

_COMMON_LICENSE = re.compile(r"/usr/share/common-licenses/([A-Za-z0-9_.+-]+)")
_LICENSE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_/~-]*")
_OPERATORS = frozenset({"and", "or"})
# Free-form files that neither have License fields nor point at common-licenses: a few
# unambiguous licence titles. Used only as a fallback, as a bundled component's licence
# quoted in a file that names its own would otherwise be reported for the package.
_TITLES = (
    (re.compile(r"Apache License,?\s+Version 2\.0"), "Apache-2.0"),
    (re.compile(r"Mozilla Public License,?\s+(?:Version 2\.0|v\. 2\.0)"), "MPL-2.0"),
    (re.compile(r"Boost Software License - Version 1\.0"), "BSL-1.0"),
    (re.compile(r"PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2"), "PSF-2.0"),
    (re.compile(r"\bThe MIT License\b|\bMIT License\b"), "MIT"),
)


def parse_copyright(text: str, path: str) -> CatalogResult:
    """Licences named in a Debian copyright file, as evidence for the package in its path.

    `License:` fields (DEP-5, also found in older free-form files) give short names; their
    expressions (`GPL-2+ or Artistic`, `GPL-3+ with Bison exception`) are split into the
    licences they name. Prose in a `License:` line (`Permission to use, copy, ...`) is not a
    licence name and is skipped. Paths under `/usr/share/common-licenses/` name the licence
    text that the file points at. A file naming no licence gives an empty result.
    """
    package = path.split("/")[4] if is_copyright_path(path) else ""
    found: dict[str, None] = {}  # ordered set
    for line in split_lines(text):
        names: list[str] = []
        if line[:8].lower() == "license:":
            names.extend(parse_license_expression(line[8:]))
        if "/usr/share/common-licenses/" in line:
            names.extend(m.group(1).rstrip(".") for m in _COMMON_LICENSE.finditer(line))
        for name in names:
            if name and len(found) < MAX_LICENSES:
                found.setdefault(name, None)
        if len(found) >= MAX_LICENSES:
            break
    if not found:
        found = {name: None for pattern, name in _TITLES if pattern.search(text)}
    if not package or not found:
        return CatalogResult()
    evidence = LicenseEvidence(
        type=PackageType.DEB,
        package_name=package,
        licenses=tuple(sorted(found)),
        path=path,
    )
    return CatalogResult(licenses=(evidence,))


def parse_license_expression(value: str) -> tuple[str, ...]:
    """The licence names in a DEP-5 `License:` first line, or () if it is not an expression.

    `(GPL-2 or GPL-3) and MIT` -> ("GPL-2", "GPL-3", "MIT"); `GPL-2+ with OpenSSL exception`
    -> ("GPL-2+",); "none" and prose -> ().
    """
    if len(value) > _MAX_EXPRESSION:
        return ()  # no real expression is this long; prose is
    tokens = value.replace("(", " ").replace(")", " ").replace(",", " ").split()
    names: list[str] = []
    expect_name = True
    i = 0
    while i < len(tokens):
        token = tokens[i]
        low = token.lower()
        if expect_name:
            if low in _OPERATORS or low == "with" or not _LICENSE_TOKEN.fullmatch(token):
                return ()
            names.append(token)
            expect_name = False
        elif low in _OPERATORS:
            expect_name = True
        elif low == "with":
            # "with <name> exception": the exception modifies the licence before it
            end = next(
                (j for j in range(i + 1, len(tokens)) if tokens[j].lower() == "exception"), -1
            )
            if end < 0:
                return ()
            i = end
        else:
            return ()  # two names in a row: prose, not an expression
        i += 1
    if expect_name and names:
        return ()  # dangling operator
    return tuple(n for n in names if n.lower() != "none")
