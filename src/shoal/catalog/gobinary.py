"""Go modules compiled into executables, from the build info the Go linker embeds.

Every Go binary built in module mode carries a 32-byte header starting with
``\\xff Go buildinf:`` (16-byte aligned, in the ``.go.buildinfo`` section on ELF), followed
by the toolchain version and the module list (`runtime/debug.BuildInfo` as text). Two
layouts exist:

* Go >= 1.18 ("inline", flag bit 2): both strings follow the header, each prefixed by its
  length as an unsigned varint.
* Go < 1.18 ("pointer"): byte 14 is the pointer size, flag bit 1 the byte order, and two
  pointers follow the magic, each to a Go string header ``(data pointer, length)`` that we
  resolve through the ELF program headers.

The module text has one record per line: ``path``, ``mod`` (main module), ``dep``, ``=>``
(replacement of the module on the line above) and ``build`` settings. Output follows
Syft: the main module (version ``(devel)`` kept), each dependency (a replacement's
path and version win), and a ``stdlib`` package carrying the toolchain version.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.catalog.elf import (
    PF_W,
    PF_X,
    PT_LOAD,
    Executable,
    ExecutableError,
    is_executable,
    may_be_program,
    parse_executable,
)
from shoal.errors import CatalogError
from shoal.model import CatalogResult, Location, Package, PackageType, Unknown

NAME = "go/binary"
MAGIC = b"\xff Go buildinf:"
_HEADER = 32
_ALIGN = 16
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2
# The module text of a large program is tens of KiB; anything past this is forged.
MAX_STRING = 4 * 1024 * 1024
# How many misaligned magic hits to skip before giving up on a file (a Go tool that
# embeds the magic as data, such as `go` itself, has a few).
_MAX_HITS = 64

_FAT_MACHO = b"\xca\xfe\xba\xbe"
# Where the linker puts the header: its own section on ELF and Mach-O; on PE, the start
# of .data (found by the scan below).
_SECTIONS = (".go.buildinfo", "__go_buildinfo")


class GoBuildInfoError(CatalogError):
    """Build info is present but malformed (the message says what and where)."""


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    version: str
    sum: str | None = None
    replace: Module | None = None


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """`runtime/debug.BuildInfo`, as parsed from the embedded text."""

    go_version: str
    path: str | None
    main: Module | None
    deps: tuple[Module, ...]
    settings: tuple[tuple[str, str], ...]

    def setting(self, key: str) -> str | None:
        for k, v in self.settings:
            if k == key:
                return v
        return None


class GoBinaryCataloger(Cataloger):
    name = NAME
    version = 1
    head_size = 4

    def wants(self, entry: FileEntry) -> bool:
        return may_be_program(entry)

    def accepts(self, head: bytes) -> bool:
        # Fat (universal) Mach-O too: it is not parsed, but the magic scan finds inline
        # build info in its first slice.
        return is_executable(head) or head[:4] == _FAT_MACHO

    def catalog(self, f: LayerFile) -> CatalogResult:
        return parse_go_binary(f.data, f.path)


def parse_go_binary(data: bytes, path: str) -> CatalogResult:
    """Packages from the build info in the executable `data` found at `path`.

    Not a Go binary (no build-info magic): empty result. Malformed build info: an
    `Unknown` plus whatever could still be read.
    """
    try:
        raw = read_build_info(data)
        if raw is None:
            return CatalogResult()
        go_version, modinfo = raw
        info, problems = parse_modinfo(go_version, modinfo)
    except GoBuildInfoError as e:
        return CatalogResult.failed(path, NAME, f"Go build info: {e}")
    arch = info.setting("GOARCH") or _exe_arch(data)
    unknowns = tuple(Unknown(path, NAME, f"Go build info: {p}") for p in problems)
    return CatalogResult(packages=packages_from(info, path, arch), unknowns=unknowns)


def read_build_info(data: bytes) -> tuple[str, str] | None:
    """(Go version, module text) from an executable, or None if it has no build info.

    Raises `GoBuildInfoError` when the header is there but broken.
    """
    exe: Executable | None = None
    exe_problem = "not an ELF, PE or Mach-O file"
    block = b""
    try:
        exe = parse_executable(data)
    except ExecutableError as e:
        # Broken headers need not hide inline build info: fall through to the scan.
        exe_problem = str(e)
    if exe is not None:
        sec = next((s for s in map(exe.section, _SECTIONS) if s is not None), None)
        if sec is not None:
            try:
                block = exe.section_data(sec)
            except ExecutableError as e:
                raise GoBuildInfoError(str(e)) from e
            if not block.startswith(MAGIC):
                raise GoBuildInfoError(f"{sec.name} section does not start with the magic")
    if not block:
        # No section (stripped ELF headers; PE, where it opens .data): scan for the
        # magic, 16-byte aligned in the file as in memory (segments are mapped at
        # aligned offsets). Only in writable data segments, as Go's debug/buildinfo
        # does: that is where the linker puts it, and big C binaries are not rescanned.
        # Unparseable headers: the whole file.
        ranges = _data_segments(exe) if exe is not None else [(0, len(data))]
        at = next((a for a in (_find_aligned(data, lo, hi) for lo, hi in ranges) if a >= 0), -1)
        if at < 0:
            return None
        block = data[at:]
    if len(block) < _HEADER:
        raise GoBuildInfoError(f"header truncated at {len(block)} bytes")
    ptr_size, flags = block[14], block[15]
    if flags & _FLAG_INLINE:
        version, rest = _varint_string(block, _HEADER, "toolchain version")
        modinfo, _ = _varint_string(block, rest, "module info")
    else:
        if exe is None:
            raise GoBuildInfoError(
                f"pre-Go-1.18 pointer layout needs executable headers ({exe_problem})"
            )
        if ptr_size not in (4, 8):
            raise GoBuildInfoError(f"pointer size {ptr_size} is neither 4 nor 8")
        order = ">" if flags & _FLAG_BIG_ENDIAN else "<"
        fmt = order + ("I" if ptr_size == 4 else "Q")
        vers_ptr, mod_ptr = struct.unpack_from(order + fmt[1] * 2, block, 16)
        version = _pointer_string(exe, vers_ptr, fmt, "toolchain version")
        modinfo = _pointer_string(exe, mod_ptr, fmt, "module info")
    go_version = version.decode("utf-8", "replace")
    # "go1.22.1", "devel go1.23-1a2b3c Tue ...", "go1.21.0 X:boringcrypto": short, printable
    if not go_version or len(go_version) > 200 or not go_version.isprintable():
        raise GoBuildInfoError(f"implausible toolchain version {go_version[:40]!r}")
    return go_version, _strip_sentinels(modinfo)


def parse_modinfo(go_version: str, text: str) -> tuple[BuildInfo, list[str]]:
    """Parse the module text. Returns the build info and one message per bad line
    (bad lines are skipped, so one broken `dep` does not hide the others)."""
    path: str | None = None
    main: Module | None = None
    deps: list[Module] = []
    settings: list[tuple[str, str]] = []
    problems: list[str] = []
    last: str | None = None  # "main" or "dep": what a following "=>" line replaces
    for no, line in enumerate(text.split("\n"), start=1):
        kind, sep, rest = line.partition("\t")
        if not line or not sep:
            # Go 1.19 writes an empty line after a directory replacement; Go's own
            # parser ignores lines it does not know, and so do we.
            continue
        try:
            if kind == "path":
                path = rest
            elif kind == "mod":
                main, last = _module(rest, no), "main"
            elif kind == "dep":
                deps.append(_module(rest, no))
                last = "dep"
            elif kind == "=>":
                repl = _module(rest, no, replacement=True)
                if last == "main" and main is not None:
                    main = Module(main.path, main.version, main.sum, repl)
                elif last == "dep":
                    d = deps[-1]
                    deps[-1] = Module(d.path, d.version, d.sum, repl)
                else:
                    raise GoBuildInfoError(f"line {no}: replacement without a module before it")
                last = None
            elif kind == "build":
                settings.append(_setting(rest, no))
        except GoBuildInfoError as e:
            problems.append(str(e))
    info = BuildInfo(go_version, path, main, tuple(deps), tuple(settings))
    return info, problems


def packages_from(info: BuildInfo, path: str, arch: str | None) -> tuple[Package, ...]:
    loc = (Location(path=path),)
    common: list[tuple[str, str]] = [("go.toolchain", info.go_version)]
    if info.main is not None:
        common.append(("go.main_module", info.main.path))
    if arch:
        common.append(("go.arch", arch))

    def pkg(name: str, version: str, extra: list[tuple[str, str]]) -> Package:
        return Package(
            name=name,
            version=version,
            type=PackageType.GO,
            cataloger=NAME,
            locations=loc,
            arch=arch,
            metadata=tuple(common + extra),
        )

    out: list[Package] = []
    if info.main is not None:
        extra = [(f"go.build.{k}", v) for k, v in info.settings]
        name, version, meta = _identity(info.main)
        out.append(pkg(name, version, meta + extra))
    for dep in info.deps:
        name, version, meta = _identity(dep)
        out.append(pkg(name, version, meta))
    # Syft's name and version for the toolchain ("go1.22.1"); the purl drops the "go".
    out.append(pkg("stdlib", info.go_version, []))
    return tuple(out)


def _identity(m: Module) -> tuple[str, str, list[tuple[str, str]]]:
    meta: list[tuple[str, str]] = []
    r = m.replace
    if r is None:
        if m.sum:
            meta.append(("go.h1", m.sum))
        return m.path, m.version, meta
    if r.path.startswith((".", "/")):
        # Replaced by a directory: there is no module to name, and its version is always
        # "(devel)". Keep the module it stands in for, so the code is still matched
        # against that module's advisories, and say where it really came from.
        meta.append(("go.replace_dir", r.path))
        if m.sum:
            meta.append(("go.h1", m.sum))
        return m.path, m.version, meta
    meta.append(("go.replaces", f"{m.path}@{m.version}"))
    if r.sum:
        meta.append(("go.h1", r.sum))
    return r.path, r.version, meta


def _module(rest: str, no: int, *, replacement: bool = False) -> Module:
    cols = rest.split("\t")
    if len(cols) not in (2, 3):
        raise GoBuildInfoError(f"line {no}: expected 2 or 3 tab-separated columns")
    mpath, version = cols[0], cols[1]
    if not mpath:
        raise GoBuildInfoError(f"line {no}: module without a path")
    if not version and not replacement:
        raise GoBuildInfoError(f"line {no}: module {mpath[:200]!r} without a version")
    summ = cols[2] if len(cols) == 3 and cols[2] else None
    return Module(mpath, version or "(devel)", summ)


def _setting(rest: str, no: int) -> tuple[str, str]:
    # Keys and values containing separators are written with strconv.Quote.
    if rest.startswith('"'):
        key, end = _go_unquote(rest, no)
        if rest[end : end + 1] != "=":
            raise GoBuildInfoError(f"line {no}: quoted build key not followed by '='")
        value = rest[end + 1 :]
    else:
        key, eq, value = rest.partition("=")
        if not eq:
            raise GoBuildInfoError(f"line {no}: build setting without '='")
    if not key:
        raise GoBuildInfoError(f"line {no}: build setting with an empty key")
    if value.startswith('"'):
        quoted = value
        value, end = _go_unquote(quoted, no)
        if end != len(quoted):
            raise GoBuildInfoError(f"line {no}: text after a quoted build value")
    return key, value


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPES.update({"\\": "\\", '"': '"', "'": "'"})
_HEX_LEN = {"x": 2, "u": 4, "U": 8}


def _go_unquote(s: str, no: int) -> tuple[str, int]:
    """Decode the Go double-quoted literal at the start of `s`; returns (text, end)."""
    out: list[str] = []
    i = 1
    while i < len(s):
        c = s[i]
        if c == '"':
            return "".join(out), i + 1
        if c != "\\":
            out.append(c)
            i += 1
            continue
        esc = s[i + 1 : i + 2]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        elif esc in _HEX_LEN:
            n = _HEX_LEN[esc]
            digits = s[i + 2 : i + 2 + n]
            if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise GoBuildInfoError(f"line {no}: bad \\{esc} escape in quoted string")
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise GoBuildInfoError(f"line {no}: escape beyond Unicode in quoted string")
            out.append(chr(code))
            i += 2 + n
        elif esc and esc in "01234567":
            digits = s[i + 1 : i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits):
                raise GoBuildInfoError(f"line {no}: bad octal escape in quoted string")
            out.append(chr(int(digits, 8) & 0xFF))
            i += 4
        else:
            raise GoBuildInfoError(f"line {no}: bad escape in quoted string")
    raise GoBuildInfoError(f"line {no}: unterminated quoted string")


def _find_aligned(data: bytes, start: int, end: int) -> int:
    at = data.find(MAGIC, start, end)
    hits = 0
    while at >= 0:
        if at % _ALIGN == 0:
            return at
        hits += 1
        if hits >= _MAX_HITS:
            return -1
        at = data.find(MAGIC, at + 1, end)
    return -1


def _data_segments(exe: Executable) -> list[tuple[int, int]]:
    """File ranges of the loadable, writable, non-executable segments."""
    out = []
    for seg in exe.segments:
        if seg.type == PT_LOAD and seg.flags & PF_W and not seg.flags & PF_X:
            lo = min(seg.offset, len(exe.data))
            out.append((lo, min(len(exe.data), lo + seg.filesz)))
    return out


def _varint_string(block: bytes, at: int, what: str) -> tuple[bytes, int]:
    n = shift = 0
    while True:
        if at >= len(block):
            raise GoBuildInfoError(f"{what}: length runs past the end of the data")
        b = block[at]
        at += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise GoBuildInfoError(f"{what}: length varint is too long")
    if n > MAX_STRING:
        raise GoBuildInfoError(f"{what}: length {n} exceeds {MAX_STRING}")
    if at + n > len(block):
        raise GoBuildInfoError(f"{what}: {n} bytes run past the end of the data")
    return block[at : at + n], at + n


def _pointer_string(exe: Executable, addr: int, fmt: str, what: str) -> bytes:
    size = struct.calcsize(fmt)
    try:
        header = exe.read_at(addr, 2 * size)
        ptr, n = struct.unpack(fmt + fmt[1], header)
        if n > MAX_STRING:
            raise GoBuildInfoError(f"{what}: length {n} exceeds {MAX_STRING}")
        return exe.read_at(ptr, n)
    except ExecutableError as e:
        raise GoBuildInfoError(f"{what}: {e}") from e


def _strip_sentinels(mod: bytes) -> str:
    # The linker wraps the text in two 16-byte random markers (so `go version -m` can
    # find it in memory dumps); text too short to hold them is treated as absent, as
    # Go's debug/buildinfo does.
    if len(mod) >= 33 and mod[-17] == ord("\n"):
        return mod[16:-16].decode("utf-8", "replace")
    return ""


def _exe_arch(data: bytes) -> str | None:
    try:
        exe = parse_executable(data)
    except ExecutableError:
        return None
    return exe.arch if exe is not None else None
