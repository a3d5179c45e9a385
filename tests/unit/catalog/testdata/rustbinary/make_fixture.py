"""How hello-auditable.xz was made (run by hand from the repo root, never by the tests).

Debian has no cargo-auditable and the machine cannot reach crates.io, so the binary is a
real Rust executable (`rustc -O -C strip=symbols hello.rs`, rustc 1.95.0, x86_64) given
the section cargo-auditable would have added: `.dep-v0` holding zlib-compressed
`dep-v0.json`, a format-1 dependency tree of a serde_json program (proc-macro crates and
their dependencies marked `"kind":"build"`, as format 1 does), added with

    objcopy --add-section .dep-v0=dep-v0.z hello hello-auditable

`hello-auditable.exe.xz` is the same section added to a real PE file (Debian's go1.19.8
building a hello-world for GOOS=windows, `-ldflags="-s -w"`; rustc here has no Windows
target), placed after the last section:

    objcopy --add-section .dep-v0=dep-v0.z \\
        --set-section-flags .dep-v0=contents,alloc,load,readonly,data \\
        --change-section-vma .dep-v0=0x610000 hello.exe hello-auditable.exe

Then every byte the cataloger never reads (code, data) is zeroed so the xz file is small.

    python tests/unit/catalog/testdata/rustbinary/make_fixture.py IN OUT.xz
"""

from __future__ import annotations

import lzma
import sys
from pathlib import Path

from shoal.catalog.elf import parse_executable


def main() -> None:
    src, dst = sys.argv[1:]
    data = Path(src).read_bytes()
    exe = parse_executable(data)
    assert exe is not None
    if exe.format == "elf":
        shoff = int.from_bytes(data[40:48], "little")
        keep = [(0, 64 + 56 * len(exe.segments)), (shoff, 64 * len(exe.sections))]
    else:
        keep = [(0, 4096)]  # PE headers and section table
    keep += [(s.offset, s.size) for s in exe.sections if s.name in (".shstrtab", ".dep-v0")]
    out = bytearray(len(data))
    for off, n in keep:
        out[off : off + n] = data[off : off + n]
    Path(dst).write_bytes(lzma.compress(bytes(out), preset=9))


if __name__ == "__main__":
    main()
