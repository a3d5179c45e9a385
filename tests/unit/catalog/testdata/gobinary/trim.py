"""How the Go binary fixtures here were made (run by hand, never by the tests).

The binaries are real: built with Debian's go1.19.8 (`go build -trimpath`) from a tiny
program using golang.org/x/text v0.7.0 (through a file:// module proxy made from Debian's
golang-golang-x-text-dev, so go.sum holds a real h1 hash) and github.com/google/uuid
replaced by a local directory; plus /usr/bin/shfmt from Debian's shfmt 3.6.0-1+b2.

Trimming keeps the file's size and layout but zeroes every byte the catalogers never read
(code, symbols, most data), so the xz-compressed fixture is a few KiB.

Go stopped writing the pre-1.18 pointer format, so `--pointer` rewrites a real go1.19
binary's build-info header into that format the way go1.17's linker laid it out: flags
without the inline bit, and two pointers to the `runtime.buildVersion` and
`runtime.modinfo` string headers (whose addresses `go tool nm` prints) in .data.

    python trim.py IN OUT.xz [--pointer BUILDVERSION_ADDR MODINFO_ADDR]
    python trim.py IN OUT.xz --raw   # PE / Mach-O: keep headers and the build-info block
"""

from __future__ import annotations

import lzma
import struct
import sys
from pathlib import Path

from shoal.catalog.elf import ElfFile, parse_elf

MAGIC = b"\xff Go buildinf:"


def main() -> None:
    src, dst, *opts = sys.argv[1:]
    data = bytearray(Path(src).read_bytes())
    keep: list[tuple[int, int]] = []
    if opts and opts[0] == "--raw":
        at = data.find(MAGIC)
        keep += [(0, 4096), (at, 512)]
    else:
        elf = parse_elf(bytes(data))
        e = "<" if elf.little_endian else ">"
        ps = elf.ptr_size
        pfmt = e + ("Q" if ps == 8 else "I")
        keep.append((0, 64 + 64 * 16))  # ELF header and program headers
        shoff = struct.unpack_from(pfmt, data, 40 if ps == 8 else 32)[0]
        keep.append((shoff, len(elf.sections) * (64 if ps == 8 else 40)))  # section headers
        for s in elf.sections:
            if s.name in (".shstrtab", ".go.buildinfo"):
                keep.append((s.offset, s.size))
        bi = elf.section(".go.buildinfo")
        assert bi is not None
        if opts and opts[0] == "--pointer":
            vers_addr, mod_addr = int(opts[1], 16), int(opts[2], 16)
            data[bi.offset + 15] = 0 if elf.little_endian else 1  # flags: endianness only
            struct.pack_into(pfmt, data, bi.offset + 16, vers_addr)
            struct.pack_into(pfmt, data, bi.offset + 16 + ps, mod_addr)
            data[bi.offset + 16 + 2 * ps : bi.offset + bi.size] = bytes(bi.size - 16 - 2 * ps)
            for hdr in (vers_addr, mod_addr):
                off = _offset(elf, hdr)
                keep.append((off, 2 * ps))
                ptr, n = struct.unpack_from(pfmt + pfmt[1], data, off)
                keep.append((_offset(elf, ptr), n))
    out = bytearray(len(data))
    for off, n in keep:
        out[off : off + n] = data[off : off + n]
    Path(dst).write_bytes(lzma.compress(bytes(out), preset=9))


def _offset(elf: ElfFile, vaddr: int) -> int:
    for seg in elf.segments:
        if seg.type == 1 and seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
            return int(seg.offset + vaddr - seg.vaddr)
    raise SystemExit(f"{vaddr:#x} not mapped")


if __name__ == "__main__":
    main()
