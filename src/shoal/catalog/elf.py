"""A small, bounded ELF reader: headers, named sections and virtual-address reads.

Catalogers of compiled binaries (Go build info, cargo-auditable) need only a few things
from an executable: where a named section is, its bytes, and the bytes behind a virtual
address. This module reads exactly that from an in-memory image, for 32- and 64-bit files
of either byte order, and nothing else (no symbols, no relocations, no dynamic section).

Every offset and size read from the file is checked against the file before it is used,
so truncated or hostile input raises `ElfError` with a one-line message, never
`IndexError` or `struct.error`, and never allocates more than the input already holds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from shoal.errors import CatalogError

ELF_MAGIC = b"\x7fELF"

_CLASS_32 = 1
_CLASS_64 = 2
_DATA_LSB = 1
_DATA_MSB = 2

SHT_NOBITS = 8
PT_LOAD = 1
PF_X = 1
PF_W = 2

# Extended section numbering (ELF gABI): values too large for the 16-bit header fields
# live in section 0 instead.
_SHN_UNDEF = 0
_SHN_LORESERVE = 0xFF00
_SHN_XINDEX = 0xFFFF
_PN_XNUM = 0xFFFF

# Real binaries have tens of sections and a handful of segments. The caps only stop a
# forged count from making us build millions of records out of a small file.
MAX_SECTIONS = 4096
MAX_SEGMENTS = 1024
MAX_NAME = 256

# e_machine -> GOARCH-style name (what Syft and the Go toolchain call the architecture).
_MACHINES = {
    3: "386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "amd64",
    183: "arm64",
    243: "riscv64",
    258: "loong64",
}


class ElfError(CatalogError):
    """The bytes are not a well-formed ELF file (the message says what and where)."""


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Segment:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True, slots=True)
class ElfFile:
    """A parsed ELF image. `data` is the whole file; nothing is copied until asked for."""

    bits: int  # 32 or 64
    little_endian: bool
    machine: int
    sections: tuple[Section, ...]
    segments: tuple[Segment, ...]
    data: bytes = field(repr=False)

    @property
    def ptr_size(self) -> int:
        return self.bits // 8

    @property
    def arch(self) -> str | None:
        """GOARCH-style name of `machine` ("amd64", "arm64", "ppc64le", ...), if known."""
        name = _MACHINES.get(self.machine)
        if name == "mips" and self.bits == 64:
            name = "mips64"
        if name in ("ppc64", "mips", "mips64") and self.little_endian:
            name += "le"
        return name

    def section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def section_data(self, sec: Section) -> bytes:
        """The section's bytes from the file (empty for SHT_NOBITS such as .bss)."""
        if sec.type == SHT_NOBITS:
            return b""
        return _slice(self.data, sec.offset, sec.size, f"section {sec.name!r}")

    def read_at(self, vaddr: int, size: int) -> bytes:
        """`size` bytes at virtual address `vaddr`, through the PT_LOAD segments.

        Bytes past a segment's file size but inside its memory size are zero-filled at
        run time; they are returned as zeros here too.
        """
        if size < 0:
            raise ElfError(f"negative read of {size} bytes at {vaddr:#x}")
        for seg in self.segments:
            if seg.type != PT_LOAD or not seg.vaddr <= vaddr < seg.vaddr + seg.memsz:
                continue
            rel = vaddr - seg.vaddr
            if rel + size > seg.memsz:
                raise ElfError(f"read of {size} bytes at {vaddr:#x} runs past its segment")
            in_file = max(0, min(size, seg.filesz - rel))
            chunk = _slice(self.data, seg.offset + rel, in_file, f"address {vaddr:#x}")
            return chunk + bytes(size - in_file)
        raise ElfError(f"address {vaddr:#x} is not in any loadable segment")

    def unpack_ptr(self, raw: bytes) -> int:
        fmt = ("<" if self.little_endian else ">") + ("I" if self.bits == 32 else "Q")
        return int(struct.unpack_from(fmt, raw)[0])


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def parse_elf(data: bytes) -> ElfFile:
    """Parse the ELF header, program headers and section headers of `data`.

    Raises `ElfError` for anything malformed: a bad magic, an unknown class or byte
    order, header tables outside the file, forged counts, bad section-name offsets.
    """
    if len(data) < 16 or not is_elf(data):
        raise ElfError("not an ELF file: bad magic")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (_CLASS_32, _CLASS_64):
        raise ElfError(f"ELF header: unknown class {ei_class}")
    if ei_data not in (_DATA_LSB, _DATA_MSB):
        raise ElfError(f"ELF header: unknown byte order {ei_data}")
    bits = 32 if ei_class == _CLASS_32 else 64
    e = "<" if ei_data == _DATA_LSB else ">"
    if bits == 64:
        hdr_fmt, hdr_len = e + "HHIQQQIHHHHHH", 64
    else:
        hdr_fmt, hdr_len = e + "HHIIIIIHHHHHH", 52
    raw = _slice(data, 16, hdr_len - 16, "ELF header")
    (_, machine, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx) = (
        struct.unpack(hdr_fmt, raw)
    )

    sections_raw: list[tuple[int, int, int, int, int, int, int, int]] = []
    if shoff:
        sec_fmt = e + ("IIQQQQIIQQ" if bits == 64 else "IIIIIIIIII")
        want = struct.calcsize(sec_fmt)
        if shentsize < want:
            raise ElfError(f"ELF header: section header size {shentsize} < {want}")
        first = struct.unpack(sec_fmt, _slice(data, shoff, want, "section header 0"))
        if shnum == 0:
            shnum = first[5]  # extended numbering: the real count is sh_size of section 0
        if shstrndx == _SHN_XINDEX:
            shstrndx = first[6]  # ... and the real string-table index is its sh_link
        if shnum > MAX_SECTIONS:
            raise ElfError(f"ELF header: {shnum} sections (limit {MAX_SECTIONS})")
        for i in range(shnum):
            r = struct.unpack(sec_fmt, _slice(data, shoff + i * shentsize, want, f"section {i}"))
            # (name, type, flags, addr, offset, size, link, info)
            sections_raw.append((r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]))

    segments: list[Segment] = []
    if phoff:
        seg_fmt = e + ("IIQQQQQQ" if bits == 64 else "IIIIIIII")
        want = struct.calcsize(seg_fmt)
        if phentsize < want:
            raise ElfError(f"ELF header: program header size {phentsize} < {want}")
        if phnum == _PN_XNUM and sections_raw:
            phnum = sections_raw[0][7]  # extended numbering: the real count is sh_info of section 0
        if phnum > MAX_SEGMENTS:
            raise ElfError(f"ELF header: {phnum} program headers (limit {MAX_SEGMENTS})")
        for i in range(phnum):
            r = struct.unpack(
                seg_fmt, _slice(data, phoff + i * phentsize, want, f"program header {i}")
            )
            if bits == 64:  # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz
                segments.append(Segment(r[0], r[1], r[2], r[3], r[5], r[6]))
            else:  # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags
                segments.append(Segment(r[0], r[6], r[1], r[2], r[4], r[5]))

    sections: list[Section] = []
    if sections_raw:
        if shstrndx == _SHN_UNDEF or shstrndx >= len(sections_raw):
            names = b""
        else:
            st = sections_raw[shstrndx]
            names = b"" if st[1] == SHT_NOBITS else _slice(data, st[4], st[5], "section names")
        for i, (name_off, typ, flags, addr, off, size, _, _) in enumerate(sections_raw):
            sections.append(Section(_name(names, name_off, i), typ, flags, addr, off, size))

    return ElfFile(
        bits=bits,
        little_endian=e == "<",
        machine=machine,
        sections=tuple(sections),
        segments=tuple(segments),
        data=data,
    )


def _name(table: bytes, off: int, index: int) -> str:
    if not table:
        return ""
    if off >= len(table):
        raise ElfError(f"section {index}: name offset {off} outside the name table")
    end = table.find(b"\0", off, off + MAX_NAME)
    if end < 0:
        end = min(len(table), off + MAX_NAME)
    return table[off:end].decode("latin-1")


def _slice(data: bytes, off: int, size: int, what: str) -> bytes:
    if off < 0 or size < 0 or off + size > len(data):
        raise ElfError(
            f"{what}: {size} bytes at offset {off} lie outside the {len(data)}-byte file"
        )
    return data[off : off + size]
