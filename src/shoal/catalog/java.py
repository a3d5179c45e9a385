"""Java archives (jar, war, ear and their plugin cousins), including archives inside them.

What identifies an archive, best first:

1. ``META-INF/maven/<groupId>/<artifactId>/pom.properties``: one package per file, as
   Maven wrote it. Fat jars and shaded jars hold several; the one whose artifactId matches
   the archive's file name (or the only one) is the archive itself.
2. ``META-INF/MANIFEST.MF`` main section, when no pom.properties is the archive: version
   from Implementation-Version, Bundle-Version or Specification-Version; the name is the
   file name's artifact part (as Syft does: it is what Maven named the file), else
   Implementation-Title, Bundle-SymbolicName or Specification-Title.
3. The file name alone (``commons-lang3-3.12.0.jar``), marked
   ``metadata (("heuristic", "filename"), ...)`` because nothing inside confirmed it.

Archives inside archives (``WEB-INF/lib/*.jar``, ``BOOT-INF/lib/*.jar``, wars in ears)
are read in memory up to `Limits.nesting_depth` deep; their packages carry
``("java.archive", "/app.war:WEB-INF/lib/x.jar")``. All the bytes inflated for one
top-level file are bounded by `Limits.file_bytes`, and central directories by
`MAX_CENTRAL_DIRECTORY`, so a zip bomb becomes an `Unknown`, not an outage.
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass, field
from typing import IO

from shoal.catalog._support import ZIP_CORRUPT, ZIP_UNSUPPORTED, one_line
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.config import Limits
from shoal.model import CatalogResult, Location, Package, PackageType, Unknown

NAME = "java/archive"
ARCHIVE_EXTENSIONS = (".jar", ".war", ".ear", ".jpi", ".hpi", ".par", ".sar", ".nar", ".kar")
MANIFEST = "META-INF/MANIFEST.MF"
MAX_PROPERTIES = 1024 * 1024  # pom.properties are ~100 bytes
MAX_MANIFEST_HEAD = 4 * 1024 * 1024  # main section only; signed jars append MiBs of digests
# Python builds one ZipInfo per central-directory record before we can look at any of
# them; this caps that work at ~700k entries (46 bytes each at least).
MAX_CENTRAL_DIRECTORY = 32 * 1024 * 1024
_DEFAULT_LIMITS = Limits.model_validate({})

_ZIP_ERRORS: tuple[type[Exception], ...] = (*ZIP_CORRUPT, *ZIP_UNSUPPORTED, struct.error)


class JavaCataloger(Cataloger):
    name = NAME
    version = 1
    # No magic filter: "fully executable" Spring Boot jars start with a shell script and
    # zip readers find the archive from its end, so the first bytes prove nothing.

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or _DEFAULT_LIMITS

    def wants(self, entry: FileEntry) -> bool:
        return entry.size > 0 and entry.path.lower().endswith(ARCHIVE_EXTENSIONS)

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_java_archive(f.data, f.path, self.limits)


@dataclass
class _Walk:
    """State shared by one top-level archive and everything nested in it."""

    path: str  # the file in the image: every package's Location
    limits: Limits
    bytes_left: int
    packages: list[Package] = field(default_factory=list)
    unknowns: list[Unknown] = field(default_factory=list)

    def unknown(self, where: tuple[str, ...], reason: str) -> None:
        """Record a problem; `where` is the chain of entry names inside the file
        (empty for the file itself), so the reason reads "WEB-INF/lib/x.jar: ..."."""
        text = f"{':'.join(where)}: {reason}" if where else reason
        self.unknowns.append(Unknown(self.path, NAME, _printable(text)))


@dataclass(frozen=True, slots=True)
class _Pom:
    entry: str
    group: str
    artifact: str
    version: str


def parse_java_archive(data: bytes, path: str, limits: Limits | None = None) -> CatalogResult:
    """Packages in the Java archive `data` found at `path`, nested archives included."""
    limits = limits or _DEFAULT_LIMITS
    walk = _Walk(path=path, limits=limits, bytes_left=limits.file_bytes)
    _archive(walk, data, inner=())
    return CatalogResult(packages=tuple(walk.packages), unknowns=tuple(walk.unknowns))


def _archive(walk: _Walk, data: bytes, inner: tuple[str, ...]) -> None:
    """Catalog one archive; `inner` is the chain of entry names leading to it."""
    cd_size = central_directory_size(data)
    if cd_size is not None and cd_size > MAX_CENTRAL_DIRECTORY:
        walk.unknown(inner, f"central directory of {cd_size} bytes (limit {MAX_CENTRAL_DIRECTORY})")
        return
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except _ZIP_ERRORS as e:
        walk.unknown(inner, f"not a readable zip archive ({one_line(e)})")
        return

    manifest: zipfile.ZipInfo | None = None
    pom_infos: list[zipfile.ZipInfo] = []
    nested: list[zipfile.ZipInfo] = []
    for info in infos:
        name = info.filename
        if not name or name.endswith("/"):  # directories (ZipInfo.is_dir fails on "")
            continue
        if name.upper() == MANIFEST:
            manifest = info
        elif name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
            pom_infos.append(info)
        elif name.lower().endswith(ARCHIVE_EXTENSIONS):
            nested.append(info)

    poms: list[_Pom] = []
    for info in pom_infos:
        text = _read(walk, zf, info, inner, MAX_PROPERTIES)
        if text is None:
            continue
        props = parse_pom_properties(text.decode("latin-1"))
        missing = [k for k in ("groupId", "artifactId", "version") if not props.get(k)]
        if missing:
            walk.unknown((*inner, info.filename), f"missing {', '.join(missing)}")
            continue
        poms.append(_Pom(info.filename, props["groupId"], props["artifactId"], props["version"]))

    attrs: dict[str, str] = {}
    if manifest is not None:
        head = _read(walk, zf, manifest, inner, MAX_MANIFEST_HEAD, head_only=True)
        if head is not None:
            attrs, problems = parse_manifest(head.decode("utf-8", "replace"))
            for p in problems:
                walk.unknown((*inner, manifest.filename), p)

    _identify(walk, inner, poms, attrs, broken_poms=len(pom_infos) - len(poms))

    for i, info in enumerate(nested):
        child = (*inner, info.filename)
        if len(child) > walk.limits.nesting_depth:
            walk.unknown(child, f"archives nested deeper than {walk.limits.nesting_depth}")
            return
        blob = _read(walk, zf, info, inner, walk.bytes_left)
        if blob is None:
            if walk.bytes_left <= 0:
                skipped = len(nested) - i - 1
                if skipped:
                    plural = "s" if skipped != 1 else ""
                    walk.unknown(inner, f"skipped {skipped} more nested archive{plural}")
                return
            continue
        _archive(walk, blob, child)


def _identify(
    walk: _Walk,
    inner: tuple[str, ...],
    poms: list[_Pom],
    attrs: dict[str, str],
    *,
    broken_poms: int,
) -> None:
    filename = (inner[-1] if inner else walk.path).rsplit("/", 1)[-1]
    file_name, file_version = name_version_from_filename(filename)
    stem = _strip_extension(filename)

    def matches(p: _Pom) -> bool:
        return p.artifact in (file_name, stem) or stem.startswith(p.artifact + "-")

    own = next((p for p in poms if matches(p)), poms[0] if len(poms) == 1 else None)
    # Unfilled build placeholders ("${project.version}") say nothing: ignore them.
    attrs = {k: v for k, v in attrs.items() if "${" not in v}
    licenses = bundle_licenses(attrs.get("bundle-license", ""))
    nested_meta = [("java.archive", ":".join((walk.path, *inner)))] if inner else []

    def add(
        name: str,
        version: str,
        namespace: str | None,
        meta: list[tuple[str, str]],
        lic: tuple[str, ...],
    ) -> None:
        walk.packages.append(
            Package(
                name=name,
                version=version,
                type=PackageType.JAVA,
                cataloger=NAME,
                locations=(Location(path=walk.path),),
                licenses=lic,
                namespace=namespace,
                metadata=tuple(meta + nested_meta),
            )
        )

    for p in poms:
        meta = [("java.source", "pom.properties"), ("java.pom_properties", p.entry)]
        add(p.artifact, p.version, p.group, meta, licenses if p is own else ())
    if own is not None:
        return

    version = next(
        (
            attrs[k]
            for k in ("implementation-version", "bundle-version", "specification-version")
            if attrs.get(k)
        ),
        None,
    )
    title = next(
        (
            attrs[k]
            for k in ("implementation-title", "bundle-symbolicname", "specification-title")
            if attrs.get(k)
        ),
        None,
    )
    if title and title == attrs.get("bundle-symbolicname"):
        title = title.split(";", 1)[0].strip()  # drop directives: "x.y;singleton:=true"
    name = file_name or title
    if version and name:
        namespace = attrs.get("implementation-vendor-id") or None
        meta = [("java.source", "manifest")]
        if attrs.get("bundle-symbolicname"):
            meta.append(("java.bundle_symbolic_name", attrs["bundle-symbolicname"]))
        add(name, version, namespace, meta, licenses)
    elif file_name and file_version:
        add(
            file_name,
            file_version,
            None,
            [("java.source", "filename"), ("heuristic", "filename")],
            licenses,
        )
    elif not poms and not broken_poms:  # a broken pom.properties was reported already
        walk.unknown(inner, "no pom.properties, manifest version or version in the file name")


def _read(
    walk: _Walk,
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    inner: tuple[str, ...],
    cap: int,
    *,
    head_only: bool = False,
) -> bytes | None:
    """Inflate one entry, charging it to the walk's byte budget. None (and an Unknown)
    when the entry is too big or unreadable."""
    where = (*inner, info.filename)
    if not head_only and info.file_size > min(cap, walk.bytes_left):
        if info.file_size > walk.bytes_left:
            walk.unknown(
                where,
                f"{info.file_size} bytes would pass the {walk.limits.file_bytes}-byte budget "
                "for the whole file",
            )
            walk.bytes_left = 0
        else:
            walk.unknown(where, f"{info.file_size} bytes (limit {cap})")
        return None
    try:
        with zf.open(info) as fh:
            # ZipExtFile stops at the declared size (and checks the CRC), so the budget
            # charged above is what gets inflated.
            data = _read_head(fh, min(cap, walk.bytes_left)) if head_only else fh.read()
    except _ZIP_ERRORS as e:
        walk.unknown(where, f"unreadable ({one_line(e)})")
        return None
    walk.bytes_left -= len(data)
    return data


def _read_head(fh: IO[bytes], cap: int) -> bytes:
    # The manifest's main section ends at the first blank line; per-entry sections after
    # it (signature digests) can be huge and are never needed.
    buf = b""
    while len(buf) < cap:
        chunk = fh.read(min(64 * 1024, cap - len(buf)))
        if not chunk:
            break
        buf += chunk
        if b"\n\n" in buf or b"\r\n\r\n" in buf or b"\r\r" in buf:
            break
    return buf


def parse_manifest(text: str) -> tuple[dict[str, str], list[str]]:
    """Main-section attributes of a JAR manifest, keys lower-cased (they are
    case-insensitive), plus one message per malformed line.

    Lines end with CR LF, LF or CR; a line starting with one space continues the
    previous value; the main section ends at the first empty line.
    """
    attrs: dict[str, str] = {}
    problems: list[str] = []
    key: str | None = None
    for no, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if not line:
            break
        if line.startswith(" "):
            if key is None:
                problems.append(f"line {no}: continuation line without a header")
            else:
                attrs[key] += line[1:]
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or " " in name:
            problems.append(f"line {no}: header without 'name: value'")
            key = None
            continue
        key = name.lower()
        attrs[key] = value[1:] if value.startswith(" ") else value
    return {k: v.strip() for k, v in attrs.items()}, problems


def parse_pom_properties(text: str) -> dict[str, str]:
    """A Java .properties file: `key=value`, `key: value` or `key value`; # and !
    comments; backslash line continuations and escapes (\\t, \\n, \\uXXXX, ...)."""
    out: dict[str, str] = {}
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        logical = lines[i].lstrip(" \t\f")
        i += 1
        if not logical or logical[0] in "#!":
            continue
        while _continues(logical) and i < len(lines):
            logical = logical[:-1] + lines[i].lstrip(" \t\f")
            i += 1
        if _continues(logical):
            logical = logical[:-1]
        key, value = _split_property(logical)
        out[_unescape(key)] = _unescape(value)
    return out


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split_property(line: str) -> tuple[str, str]:
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c in "=: \t\f":
            break
        i += 1
    key, rest = line[:i], line[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return key, rest


_PROP_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\" or i + 1 >= len(s):
            out.append(c)
            i += 1
            continue
        nxt = s[i + 1]
        if nxt == "u":
            digits = s[i + 2 : i + 6]
            if len(digits) == 4 and all(d in "0123456789abcdefABCDEF" for d in digits):
                out.append(chr(int(digits, 16)))
                i += 6
                continue
        out.append(_PROP_ESCAPES.get(nxt, nxt))
        i += 2
    return "".join(out)


def bundle_licenses(value: str) -> tuple[str, ...]:
    """Licences named by an OSGi `Bundle-License` header: a comma-separated list of SPDX
    ids or URLs, each optionally followed by `;description=...;link=...`."""
    out: list[str] = []
    for clause in _split_outside_quotes(value, ","):
        name = clause.split(";", 1)[0].strip().strip('"').strip()
        if name and name not in out:
            out.append(name)
    return tuple(out)


def _split_outside_quotes(value: str, sep: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for c in value:
        if c == '"':
            quoted = not quoted
        if c == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def name_version_from_filename(filename: str) -> tuple[str, str | None]:
    """`commons-lang3-3.12.0.jar` -> ("commons-lang3", "3.12.0").

    The version starts at the last "-<digit>...<dot>" (so `log4j-1.2-api-2.19.0.jar`
    is log4j-1.2-api 2.19.0), else at the first "-<digit>"; no such dash, no version.
    """
    stem = _strip_extension(filename)
    starts = [i for i in range(len(stem) - 1) if stem[i] == "-" and stem[i + 1].isdigit()]
    dotted = [i for i in starts if _dotted_number(stem[i + 1 :])]
    if dotted:
        at = dotted[-1]
    elif starts:
        at = starts[0]
    else:
        return stem, None
    if at == 0:
        return stem, None
    return stem[:at], stem[at + 1 :]


def _dotted_number(s: str) -> bool:
    i = 0
    while i < len(s) and s[i].isdigit():
        i += 1
    return i > 0 and s[i : i + 1] == "." and s[i + 1 : i + 2].isdigit()


def _strip_extension(filename: str) -> str:
    lower = filename.lower()
    for ext in ARCHIVE_EXTENSIONS:
        if lower.endswith(ext):
            return filename[: -len(ext)]
    return filename


def central_directory_size(data: bytes) -> int | None:
    """Size of the zip central directory as the end record declares it (ZIP64 aware),
    or None if there is no end record to read (zipfile will say why)."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if at < 0 or at + 22 > len(data):
        return None
    size = int(struct.unpack_from("<I", data, at + 12)[0])
    if size == 0xFFFFFFFF and at >= 20 and data[at - 20 : at - 16] == b"PK\x06\x07":
        rec = int(struct.unpack_from("<Q", data, at - 12)[0])
        if rec + 56 <= len(data) and data[rec : rec + 4] == b"PK\x06\x06":
            size = int(struct.unpack_from("<Q", data, rec + 40)[0])
    return size


def _printable(text: str) -> str:
    # Entry names come from the archive and may hold newlines or control characters;
    # a reason stays one printable line whatever they contain.
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
