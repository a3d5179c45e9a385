"""Alpine packages: the apk installed database (`/lib/apk/db/installed`).

The database is a text file of `X:value` lines, one package per blank-line-separated block,
with the single-character field tags of APKINDEX (`P` name, `V` version, `A` arch, `o` origin,
`L` licence, `t` build time, `c` aports commit, `m` maintainer, `D` dependencies, `p`
provides) followed by the package's file list (`F` directory, `R` file, `M`/`a` ownership
and mode, `Z` checksum). See apk-package(5) and the Alpine wiki's "Apk spec".

Newer layouts keep the same file at `/usr/lib/apk/db/installed`. Wolfi and Chainguard images
use the same format.
"""

from __future__ import annotations

import re

from shoal.catalog._support import LineProblem, LineProblems, split_lines
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, Location, Package, PackageType

NAME = "os/apk"

# apk-package(5): [a-zA-Z0-9._+-], starting with an alphanumeric.
_PKG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_DIGITS = re.compile(r"[0-9]{1,20}")
# SPDX expression tokens: parentheses, operators, licence ids (LicenseRef-x, GPL-2.0+, ...)
_SPDX_TOKEN = re.compile(r"\(|\)|[A-Za-z0-9][A-Za-z0-9.+:-]*")
_SPDX_OPERATORS = frozenset({"AND", "OR", "WITH"})

# The fields kept: the package's identity plus what a matcher or an SBOM reader can use.
_IDENTITY = frozenset("PVAoL")
_METADATA = {
    "t": "build_time",
    "c": "commit",
    "m": "maintainer",
    "D": "depends",
    "p": "provides",
    "I": "installed_size",
}
# A hostile file can have a problem on every line; past this many, one summary line is kept.
MAX_UNKNOWNS = 100
# Longest value kept in metadata; real `p:`/`D:` lines are a few hundred bytes.
_MAX_META = 4096


class ApkCataloger(Cataloger):
    """Installed Alpine (and Wolfi) packages (`os/apk`)."""

    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.endswith("/lib/apk/db/installed")

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_apk_installed(f.data.decode("utf-8", errors="replace"), f.path)


class _Entry:
    """The kept fields of one package block, with the line each came from."""

    __slots__ = ("fields", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self.fields: dict[str, tuple[str, int]] = {}


def parse_apk_installed(text: str, path: str) -> CatalogResult:
    """Packages in an apk installed database.

    Every block that names a package and its version becomes a `Package`; each problem (a
    line that is not `X:value`, a block without `P` or `V`, a repeated identity field, a bad
    build time) becomes an `Unknown` naming its line, and parsing goes on.
    """
    packages: list[Package] = []
    problems = LineProblems(NAME, MAX_UNKNOWNS)
    entry: _Entry | None = None

    def finish() -> None:
        if entry is not None:
            pkg = _package(entry, path, problems)
            if pkg is not None:
                packages.append(pkg)

    for number, raw in enumerate(split_lines(text), start=1):
        line = raw.removesuffix("\r")
        if not line:
            finish()
            entry = None
            continue
        if len(line) < 2 or line[1] != ":" or not line[0].isascii() or not line[0].isalpha():
            problems.append(LineProblem(number, f"expected 'X:value', got {_clip(line)!r}"))
            continue
        tag, value = line[0], line[2:]
        if entry is None:
            entry = _Entry(number)
        if tag in _IDENTITY or tag in _METADATA:
            if tag in entry.fields:
                problems.append(LineProblem(number, f"repeated field '{tag}:'"))
                continue
            if value:  # apk writes no empty fields; an empty one says nothing
                entry.fields[tag] = (value, number)
        # every other tag (file lists, checksums, sizes, ...) is valid and not needed
    finish()
    return CatalogResult(packages=tuple(packages), unknowns=problems.unknowns(path))


def _package(entry: _Entry, path: str, problems: LineProblems) -> Package | None:
    def get(tag: str) -> str | None:
        got = entry.fields.get(tag)
        return got[0] if got else None

    def line_of(tag: str) -> int:
        got = entry.fields.get(tag)
        return got[1] if got else entry.line

    name = get("P")
    if name is None:
        problems.append(LineProblem(entry.line, "package block without 'P:' (name)"))
        return None
    if not _PKG_NAME.fullmatch(name):
        problems.append(LineProblem(line_of("P"), f"invalid package name {_clip(name)!r}"))
        return None
    version = get("V")
    if version is None:
        problems.append(LineProblem(line_of("P"), f"package {name!r} has no 'V:' (version)"))
        return None
    if any(c.isspace() or not c.isprintable() for c in version):
        problems.append(
            LineProblem(line_of("V"), f"package {name!r}: invalid version {_clip(version)!r}")
        )
        return None

    metadata: list[tuple[str, str]] = []
    for tag, key in _METADATA.items():
        value = get(tag)
        if value is None:
            continue
        if tag in "tI" and not _DIGITS.fullmatch(value):
            problems.append(
                LineProblem(
                    line_of(tag), f"package {name!r}: '{tag}:' {_clip(value)!r} is not a number"
                )
            )
            continue
        metadata.append((key, value[:_MAX_META]))

    origin = get("o")
    licence = get("L")
    if licence is not None and len(licence) > _MAX_META:
        problems.append(
            LineProblem(line_of("L"), f"package {name!r}: 'L:' is {len(licence)} characters long")
        )
        licence = None
    return Package(
        name=name,
        version=version,
        type=PackageType.APK,
        cataloger=NAME,
        locations=(Location(path=path),),
        licenses=split_license(licence) if licence else (),
        arch=get("A"),
        # the origin is the aport (source package) this binary was built from, at this version
        source_name=origin,
        source_version=version if origin else None,
        metadata=tuple(metadata),
    )


def split_license(value: str) -> tuple[str, ...]:
    """Licences of an `L:` field, as Syft reports them.

    A valid SPDX expression is kept whole (`ISC AND (BSD-3-Clause OR MIT)`); anything else
    is a space-separated list from before Alpine used SPDX (`MIT BSD GPL2+`).
    """
    value = value.strip()
    if not value:
        return ()
    if is_spdx_expression(value):
        return (value,)
    return tuple(value.split())


def is_spdx_expression(value: str) -> bool:
    """Syntax check of an SPDX licence expression: ids joined by AND, OR or WITH, parentheses
    balanced. Licence ids are not checked against the SPDX list."""
    tokens = _SPDX_TOKEN.findall(value)
    if "".join(tokens) != "".join(value.split()):
        return False  # characters no token accounts for
    depth = 0
    expect_operand = True
    for token in tokens:
        upper = token.upper()
        if token == "(":
            if not expect_operand:
                return False
            depth += 1
        elif token == ")":
            if expect_operand or depth == 0:
                return False
            depth -= 1
        elif upper in _SPDX_OPERATORS:  # case-insensitive, as most SPDX parsers are
            if expect_operand:
                return False
            expect_operand = True
        elif not expect_operand:
            return False  # two ids in a row: a space-separated list
        else:
            expect_operand = False
    return depth == 0 and not expect_operand


def _clip(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "..."
