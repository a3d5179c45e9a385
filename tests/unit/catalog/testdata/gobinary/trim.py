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
`runtime.modinfo` string headers (whose addresses `go tool nm` prints) in the data
segment; the string headers and the strings they point to are kept.

    python trim.py IN OUT.xz [--pointer BUILDVERSION_ADDR MODINFO_ADDR]

(The Windows pointer fixture was built with `-ldflags=-w`: symbols for `go tool nm`, but
no DWARF sections with long COFF names.)
"""

from __future__ import annotations

import lzma
import struct
import sys
from pathlib import Path

from shoal.catalog.elf import Executable, parse_executable

MAGIC = b"\xff Go buildinf:"


def main() -> None:
    src, dst, *opts = sys.argv[1:]
    data = bytearray(Path(src).read_bytes())
    exe = parse_executable(bytes(data))
    assert exe is not None
    e = "<" if exe.little_endian else ">"
    ps = exe.ptr_size
    pfmt = e + ("Q" if ps == 8 else "I")
    keep: list[tuple[int, int]] = []
    if exe.format == "elf":
        keep.append((0, 64 + 64 * 16))  # ELF header and program headers
        shoff = struct.unpack_from(pfmt, data, 40 if ps == 8 else 32)[0]
        keep.append((shoff, len(exe.sections) * (64 if ps == 8 else 40)))  # section headers
        keep += [(s.offset, s.size) for s in exe.sections if s.name == ".shstrtab"]
    else:
        keep.append((0, 4096))  # PE headers and section table; Mach-O load commands
    at = next(i for i in _hits(data) if i % 16 == 0)
    end = _inline_end(data, at)
    keep.append((at, end - at))
    if opts and opts[0] == "--pointer":
        vers_addr, mod_addr = int(opts[1], 16), int(opts[2], 16)
        data[at + 15] = 0 if exe.little_endian else 1  # flags: byte order only
        struct.pack_into(pfmt, data, at + 16, vers_addr)
        struct.pack_into(pfmt, data, at + 16 + ps, mod_addr)
        data[at + 16 + 2 * ps : end] = bytes(end - at - 16 - 2 * ps)
        for hdr in (vers_addr, mod_addr):
            off = _offset(exe, hdr)
            keep.append((off, 2 * ps))
            ptr, n = struct.unpack_from(pfmt + pfmt[1], data, off)
            keep.append((_offset(exe, ptr), n))
    out = bytearray(len(data))
    for off, n in keep:
        out[off : off + n] = data[off : off + n]
    if exe.format == "pe":  # symbols were zeroed: say there are none, as `-ldflags=-s` does
        pe = struct.unpack_from("<I", out, 0x3C)[0]
        struct.pack_into("<II", out, pe + 12, 0, 0)
    Path(dst).write_bytes(lzma.compress(bytes(out), preset=9))


def _hits(data: bytearray) -> list[int]:
    out, at = [], data.find(MAGIC)
    while at >= 0:
        out.append(at)
        at = data.find(MAGIC, at + 1)
    return out


def _inline_end(data: bytearray, at: int) -> int:
    pos = at + 32
    for _ in range(2):  # version, then module text: uvarint length + bytes
        n = shift = 0
        while True:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        pos += n
    return pos


def _offset(exe: Executable, vaddr: int) -> int:
    for seg in exe.segments:
        if seg.type == 1 and seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
            return int(seg.offset + vaddr - seg.vaddr)
    raise SystemExit(f"{vaddr:#x} not mapped")


if __name__ == "__main__":
    main()
