"""A small, bounded reader of executables: ELF, plus the PE and Mach-O basics.

Catalogers of compiled binaries (Go build info, cargo-auditable) need only a few things
from an executable: where a named section is, its bytes, and the bytes behind a virtual
address. This module reads exactly that from an in-memory image, and nothing else (no
symbols, relocations or dynamic linking):

* ELF: 32- and 64-bit, either byte order (the containers' format).
* PE (Windows containers): PE32 and PE32+, sections mapped at ImageBase + RVA.
* Mach-O (thin, 32- and 64-bit): sections and segments from the load commands.

All three come back as the same `Executable` (sections plus loadable segments). Every
offset and size read from the file is checked against the file before it is used, so
truncated or hostile input raises `ExecutableError` with a one-line message, never
`IndexError` or `struct.error`, and never allocates more than the input already holds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from shoal.catalog.base import FileEntry
from shoal.errors import CatalogError

ELF_MAGIC = b"\x7fELF"
PE_MAGIC = b"MZ"
MACHO_MAGICS = {  # first 4 bytes -> (bits, little endian)
    b"\xfe\xed\xfa\xce": (32, False),
    b"\xce\xfa\xed\xfe": (32, True),
    b"\xfe\xed\xfa\xcf": (64, False),
    b"\xcf\xfa\xed\xfe": (64, True),
}

_CLASS_32 = 1
_CLASS_64 = 2
_DATA_LSB = 1
_DATA_MSB = 2

_BIN_DIRS = ("/bin/", "/sbin/", "/libexec/")

SHT_NOBITS = 8
PT_LOAD = 1
PF_X = 1
PF_W = 2

# Extended section numbering (ELF gABI): values too large for the 16-bit header fields
# live in section 0 instead.
_SHN_UNDEF = 0
_SHN_XINDEX = 0xFFFF
_PN_XNUM = 0xFFFF

# Real binaries have tens of sections and a handful of segments. The caps only stop a
# forged count from making us build millions of records out of a small file.
MAX_SECTIONS = 4096
MAX_SEGMENTS = 1024
MAX_NAME = 256

# Machine numbers -> GOARCH-style names (what Syft and the Go toolchain call them).
_ELF_MACHINES = {
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


class ExecutableError(CatalogError):
    """The bytes are not a well-formed executable (the message says what and where)."""


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
class Executable:
    """A parsed executable. `data` is the whole file; nothing is copied until asked for.

    `segments` are what the loader maps (ELF PT_LOAD, PE sections, Mach-O segments), all
    with type PT_LOAD and PF_W/PF_X flags, so address reads work the same for every format.
    """

    format: str  # "elf", "pe" or "macho"
    bits: int  # 32 or 64
    little_endian: bool
    arch: str | None  # GOARCH-style: "amd64", "arm64", "ppc64le", ... (None if unknown)
    sections: tuple[Section, ...]
    segments: tuple[Segment, ...]
    data: bytes = field(repr=False)

    @property
    def ptr_size(self) -> int:
        return self.bits // 8

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
            raise ExecutableError(f"negative read of {size} bytes at {vaddr:#x}")
        for seg in self.segments:
            if seg.type != PT_LOAD or not seg.vaddr <= vaddr < seg.vaddr + seg.memsz:
                continue
            rel = vaddr - seg.vaddr
            if rel + size > seg.memsz:
                raise ExecutableError(f"read of {size} bytes at {vaddr:#x} runs past its segment")
            in_file = max(0, min(size, seg.filesz - rel))
            chunk = _slice(self.data, seg.offset + rel, in_file, f"address {vaddr:#x}")
            return chunk + bytes(size - in_file)
        raise ExecutableError(f"address {vaddr:#x} is not in any loadable segment")


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def is_executable(head: bytes) -> bool:
    """ELF, PE (an MZ stub) or thin Mach-O, by the first four bytes."""
    return head[:4] == ELF_MAGIC or head[:2] == PE_MAGIC or head[:4] in MACHO_MAGICS


def may_be_program(entry: FileEntry) -> bool:
    """The cheap `wants` test of catalogers of compiled programs: more than 1 KiB, and
    executable, named `.exe` or in a bin directory (images built with `COPY --chmod=644`,
    or unpacked without modes, still keep their programs there)."""
    if entry.size <= 1024:
        return False
    p = entry.path
    return entry.executable or p.endswith(".exe") or any(d in p for d in _BIN_DIRS)


def parse_executable(data: bytes) -> Executable | None:
    """Parse `data` as whichever format its magic says; None if it is none of them."""
    if is_elf(data):
        return parse_elf(data)
    if data[:2] == PE_MAGIC:
        return parse_pe(data)
    if data[:4] in MACHO_MAGICS:
        return parse_macho(data)
    return None


def parse_elf(data: bytes) -> Executable:
    """Parse the ELF header, program headers and section headers of `data`.

    Raises `ExecutableError` for anything malformed: a bad magic, an unknown class or byte
    order, header tables outside the file, forged counts, bad section-name offsets.
    """
    if len(data) < 16 or not is_elf(data):
        raise ExecutableError("not an ELF file: bad magic")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (_CLASS_32, _CLASS_64):
        raise ExecutableError(f"ELF header: unknown class {ei_class}")
    if ei_data not in (_DATA_LSB, _DATA_MSB):
        raise ExecutableError(f"ELF header: unknown byte order {ei_data}")
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
            raise ExecutableError(f"ELF header: section header size {shentsize} < {want}")
        first = struct.unpack(sec_fmt, _slice(data, shoff, want, "section header 0"))
        if shnum == 0:
            shnum = first[5]  # extended numbering: the real count is sh_size of section 0
        if shstrndx == _SHN_XINDEX:
            shstrndx = first[6]  # ... and the real string-table index is its sh_link
        if shnum > MAX_SECTIONS:
            raise ExecutableError(f"ELF header: {shnum} sections (limit {MAX_SECTIONS})")
        for i in range(shnum):
            r = struct.unpack(sec_fmt, _slice(data, shoff + i * shentsize, want, f"section {i}"))
            # (name, type, flags, addr, offset, size, link, info)
            sections_raw.append((r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]))

    segments: list[Segment] = []
    if phoff:
        seg_fmt = e + ("IIQQQQQQ" if bits == 64 else "IIIIIIII")
        want = struct.calcsize(seg_fmt)
        if phentsize < want:
            raise ExecutableError(f"ELF header: program header size {phentsize} < {want}")
        if phnum == _PN_XNUM and sections_raw:
            phnum = sections_raw[0][7]  # extended numbering: the real count is sh_info of section 0
        if phnum > MAX_SEGMENTS:
            raise ExecutableError(f"ELF header: {phnum} program headers (limit {MAX_SEGMENTS})")
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

    arch = _ELF_MACHINES.get(machine)
    if arch == "mips" and bits == 64:
        arch = "mips64"
    if arch in ("ppc64", "mips", "mips64") and e == "<":
        arch += "le"
    return Executable(
        format="elf",
        bits=bits,
        little_endian=e == "<",
        arch=arch,
        sections=tuple(sections),
        segments=tuple(segments),
        data=data,
    )


_PE_MACHINES = {0x14C: "386", 0x8664: "amd64", 0x1C0: "arm", 0x1C4: "arm", 0xAA64: "arm64"}
_PE32, _PE32_PLUS = 0x10B, 0x20B
_SCN_MEM_EXECUTE = 0x20000000
_SCN_MEM_WRITE = 0x80000000
_SCN_CNT_UNINITIALIZED = 0x80


def parse_pe(data: bytes) -> Executable:
    """Parse the COFF header, optional-header magic and image base, and section table."""
    if data[:2] != PE_MAGIC or len(data) < 64:
        raise ExecutableError("not a PE file: bad MZ header")
    (pe_off,) = struct.unpack_from("<I", data, 0x3C)
    if _slice(data, pe_off, 4, "PE signature") != b"PE\0\0":
        raise ExecutableError(f"PE signature missing at offset {pe_off}")
    machine, nsect, symtab, nsyms, opt_size = struct.unpack(
        "<HHxxxxIIH", _slice(data, pe_off + 4, 18, "COFF header")
    )
    opt = pe_off + 24
    (magic,) = struct.unpack("<H", _slice(data, opt, 2, "optional header"))
    if magic == _PE32:
        bits, (image_base,) = 32, struct.unpack("<I", _slice(data, opt + 28, 4, "image base"))
    elif magic == _PE32_PLUS:
        bits, (image_base,) = 64, struct.unpack("<Q", _slice(data, opt + 24, 8, "image base"))
    else:
        raise ExecutableError(f"PE optional header: unknown magic {magic:#x}")
    if nsect > MAX_SECTIONS:
        raise ExecutableError(f"COFF header: {nsect} sections (limit {MAX_SECTIONS})")
    # Names longer than 8 bytes are "/<offset>" into the COFF string table after the
    # symbols; only debug sections use them, so an unreadable one keeps its raw form.
    strtab = symtab + nsyms * 18 if symtab else 0
    sections: list[Section] = []
    segments: list[Segment] = []
    table = opt + opt_size
    for i in range(nsect):
        raw = _slice(data, table + i * 40, 40, f"section header {i}")
        vsize, rva, raw_size, raw_off = struct.unpack_from("<IIII", raw, 8)
        (chars,) = struct.unpack_from("<I", raw, 36)
        name = _pe_name(data, raw[:8], strtab)
        addr = image_base + rva
        in_file = 0 if chars & _SCN_CNT_UNINITIALIZED else raw_size
        # VirtualSize is the real length; the raw size is padded to the file alignment.
        size = min(vsize, in_file) if vsize else in_file
        sections.append(Section(name, SHT_NOBITS if not in_file else 1, chars, addr, raw_off, size))
        flags = (PF_W if chars & _SCN_MEM_WRITE else 0) | (PF_X if chars & _SCN_MEM_EXECUTE else 0)
        segments.append(Segment(PT_LOAD, flags, raw_off, addr, in_file, max(vsize, in_file)))
    return Executable(
        format="pe",
        bits=bits,
        little_endian=True,
        arch=_PE_MACHINES.get(machine),
        sections=tuple(sections),
        segments=tuple(segments),
        data=data,
    )


def _pe_name(data: bytes, raw: bytes, strtab: int) -> str:
    name = raw.split(b"\0", 1)[0].decode("latin-1")
    if name.startswith("/") and name[1:].isdigit() and strtab:
        at = strtab + int(name[1:])
        end = data.find(b"\0", at, at + MAX_NAME)
        if 0 <= at < len(data) and end > at:
            return data[at:end].decode("latin-1")
    return name


_MACHO_CPUS = {
    7: "386",
    0x01000007: "amd64",
    12: "arm",
    0x0100000C: "arm64",
    18: "ppc",
    0x01000012: "ppc64",
}
_LC_SEGMENT = 0x1
_LC_SEGMENT_64 = 0x19
_VM_PROT_WRITE = 0x2
_VM_PROT_EXECUTE = 0x4
_S_ZEROFILL = 0x1
MAX_LOAD_COMMANDS = 4096


def parse_macho(data: bytes) -> Executable:
    """Parse a thin Mach-O file's header and its LC_SEGMENT(_64) load commands."""
    if data[:4] not in MACHO_MAGICS:
        raise ExecutableError("not a Mach-O file: bad magic")
    bits, little = MACHO_MAGICS[data[:4]]
    e = "<" if little else ">"
    hdr_len = 32 if bits == 64 else 28
    cpu, _, _, ncmds, _, _ = struct.unpack(e + "iiIIII", _slice(data, 4, 24, "Mach-O header"))
    if ncmds > MAX_LOAD_COMMANDS:
        raise ExecutableError(f"Mach-O header: {ncmds} load commands (limit {MAX_LOAD_COMMANDS})")
    if bits == 64:
        seg_fmt, sec_fmt = e + "16sQQQQiiII", e + "16s16sQQIIIIIIII"
    else:
        seg_fmt, sec_fmt = e + "16sIIIIiiII", e + "16s16sIIIIIIIII"
    seg_len, sec_len = struct.calcsize(seg_fmt), struct.calcsize(sec_fmt)
    sections: list[Section] = []
    segments: list[Segment] = []
    at = hdr_len
    for i in range(ncmds):
        cmd, size = struct.unpack(e + "II", _slice(data, at, 8, f"load command {i}"))
        if size < 8:
            raise ExecutableError(f"load command {i}: size {size} < 8")
        if cmd in (_LC_SEGMENT, _LC_SEGMENT_64) and (cmd == _LC_SEGMENT_64) == (bits == 64):
            raw = _slice(data, at + 8, seg_len, f"load command {i}")
            _, vmaddr, vmsize, fileoff, filesize, _, initprot, nsects, _ = struct.unpack(
                seg_fmt, raw
            )
            flags = (PF_W if initprot & _VM_PROT_WRITE else 0) | (
                PF_X if initprot & _VM_PROT_EXECUTE else 0
            )
            segments.append(Segment(PT_LOAD, flags, fileoff, vmaddr, filesize, vmsize))
            if len(sections) + nsects > MAX_SECTIONS:
                raise ExecutableError(f"load command {i}: too many sections (limit {MAX_SECTIONS})")
            for j in range(nsects):
                where = at + 8 + seg_len + j * sec_len
                r = struct.unpack(
                    sec_fmt, _slice(data, where, sec_len, f"section {j} of command {i}")
                )
                name = r[0].split(b"\0", 1)[0].decode("latin-1")
                typ = SHT_NOBITS if r[8] & 0xFF == _S_ZEROFILL else 1
                sections.append(Section(name, typ, r[8], r[2], r[4], r[3]))
        at += size
    return Executable(
        format="macho",
        bits=bits,
        little_endian=little,
        arch=_MACHO_CPUS.get(cpu),
        sections=tuple(sections),
        segments=tuple(segments),
        data=data,
    )


def _name(table: bytes, off: int, index: int) -> str:
    if not table:
        return ""
    if off >= len(table):
        raise ExecutableError(f"section {index}: name offset {off} outside the name table")
    end = table.find(b"\0", off, off + MAX_NAME)
    if end < 0:
        end = min(len(table), off + MAX_NAME)
    return table[off:end].decode("latin-1")


def _slice(data: bytes, off: int, size: int, what: str) -> bytes:
    if off < 0 or size < 0 or off + size > len(data):
        raise ExecutableError(
            f"{what}: {size} bytes at offset {off} lie outside the {len(data)}-byte file"
        )
    return data[off : off + size]
