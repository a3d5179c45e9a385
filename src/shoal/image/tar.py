"""A streaming tar reader made for layer scanning.

`tarfile` in stream mode copies its whole read-ahead buffer on every 512-byte header
read, which made header parsing the slowest part of a scan; it also reads a pax header
of any claimed size into memory. This reader parses ustar, pax (`x`, `g`) and GNU
(`L`, `K`) headers straight from a buffered stream, skips file data without keeping
it, and bounds every header it has to hold in memory.

Entry types: regular files (`0`, NUL, `7`), hard links, symlinks, directories and
special files; GNU sparse files (`S`) are reported as `sparse` so the caller can skip
them (container layers do not use them).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shoal.errors import LayerError, LimitExceeded

BLOCK = 512
MAX_EXT_HEADER = 1 << 20  # pax / GNU long-name data held in memory
_SKIP_CHUNK = 1 << 20

REGULAR = "file"
HARDLINK = "hardlink"
SYMLINK = "symlink"
DIRECTORY = "dir"
SPARSE = "sparse"
OTHER = "other"

_TYPES = {
    b"0": REGULAR,
    b"\0": REGULAR,
    b"7": REGULAR,
    b"1": HARDLINK,
    b"2": SYMLINK,
    b"5": DIRECTORY,
    b"3": OTHER,
    b"4": OTHER,
    b"6": OTHER,
    b"S": SPARSE,
}


@dataclass(slots=True)
class TarEntry:
    name: str
    type: str
    size: int
    mode: int
    linkname: str


def _cstr(b: bytes) -> bytes:
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


class TarReader:
    """Iterate entries; between iterations call `read_data()` at most once to get the
    current entry's content (otherwise it is skipped)."""

    def __init__(self, stream: io.BufferedReader[Any], *, what: str) -> None:
        # the caller owns (and closes) the stream; it must be buffered, since headers are
        # read 512 bytes at a time
        self._r = stream
        self._what = what
        self._remaining = 0  # data bytes of the current entry not yet consumed
        self._padding = 0
        self._skipbuf = bytearray(_SKIP_CHUNK)
        self._n = 0

    # -- low level -------------------------------------------------------------------------
    def _read_exact(self, n: int, context: str) -> bytes:
        data = self._r.read(n)
        if len(data) != n:
            raise LayerError(f"{self._what}: tar stream ends inside {context}")
        return data

    def _skip(self, n: int, context: str) -> None:
        view = memoryview(self._skipbuf)
        while n > 0:
            got = self._r.readinto(view[: min(n, _SKIP_CHUNK)])
            if not got:
                raise LayerError(f"{self._what}: tar stream ends inside {context}")
            n -= got

    def _finish_entry(self) -> None:
        if self._remaining or self._padding:
            self._skip(self._remaining + self._padding, f"entry {self._n}")
        self._remaining = self._padding = 0

    def read_data(self, limit: int | None = None) -> bytes:
        """The current entry's content (all of it, or its first `limit` bytes)."""
        n = self._remaining if limit is None else min(limit, self._remaining)
        data = self._read_exact(n, f"the data of entry {self._n}")
        self._remaining -= n
        return data

    # -- headers ---------------------------------------------------------------------------
    def _number(self, field: bytes, name: str) -> int:
        if field and field[0] & 0x80:  # GNU base-256
            value = int.from_bytes(field[1:], "big")
            if field[0] & 0x40:
                raise LayerError(f"{self._what}: negative {name} in tar header {self._n}")
            return value
        text = _cstr(field).strip(b" \0")
        if not text:
            return 0
        try:
            return int(text, 8)
        except ValueError:
            raise LayerError(
                f"{self._what}: invalid {name} {text[:20]!r} in tar header {self._n}"
            ) from None

    def _checksum_ok(self, block: bytes) -> bool:
        try:
            stored = self._number(block[148:156], "checksum")
        except LayerError:
            return False
        unsigned = sum(block[:148]) + 256 + sum(block[156:])
        if stored == unsigned:
            return True
        signed = sum((b - 256 if b > 127 else b) for b in block[:148] + block[156:]) + 256
        return stored == signed

    def _ext_data(self, size: int, kind: str) -> bytes:
        if size > MAX_EXT_HEADER:
            raise LimitExceeded(
                f"{self._what}: {kind} header of {size} bytes in tar entry {self._n} is over "
                f"{MAX_EXT_HEADER}",
                limit="tar_header",
            )
        data = self._read_exact(size, f"a {kind} header")
        pad = -size % BLOCK
        if pad:
            self._skip(pad, f"a {kind} header")
        return data

    def _pax(self, data: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        pos = 0
        while pos < len(data):
            sp = data.find(b" ", pos)
            if sp < 0:
                break
            try:
                length = int(data[pos:sp])
            except ValueError:
                raise LayerError(f"{self._what}: malformed pax header in entry {self._n}") from None
            if length <= 0 or pos + length > len(data):
                raise LayerError(f"{self._what}: malformed pax record in entry {self._n}")
            record = data[sp + 1 : pos + length - 1]  # without the trailing newline
            key, eq, value = record.partition(b"=")
            if not eq:
                raise LayerError(f"{self._what}: malformed pax record in entry {self._n}")
            out[key.decode("utf-8", "replace")] = _decode(value)
            pos += length
        return out

    def __iter__(self) -> Iterator[TarEntry]:
        pax: dict[str, str] = {}
        global_pax: dict[str, str] = {}
        long_name: str | None = None
        long_link: str | None = None
        while True:
            self._finish_entry()
            block = self._r.read(BLOCK)
            if not block:
                return  # a missing end-of-archive marker is common and harmless
            if len(block) < BLOCK:
                raise LayerError(f"{self._what}: tar stream ends inside a header")
            if block == bytes(BLOCK):
                return  # end of archive; the caller drains the rest
            self._n += 1
            if not self._checksum_ok(block):
                raise LayerError(
                    f"{self._what}: bad checksum in tar header {self._n}: not a valid tar stream"
                )
            typeflag = block[156:157]
            size = self._number(block[124:136], "size")
            if typeflag in (b"x", b"X"):
                pax.update(self._pax(self._ext_data(size, "pax")))
                continue
            if typeflag == b"g":
                global_pax.update(self._pax(self._ext_data(size, "pax global")))
                continue
            if typeflag == b"L":
                long_name = _decode(_cstr(self._ext_data(size, "GNU long name")))
                continue
            if typeflag == b"K":
                long_link = _decode(_cstr(self._ext_data(size, "GNU long link")))
                continue

            name_b = _cstr(block[0:100])
            if block[257:263] == b"ustar\0":  # POSIX: a prefix field extends the name
                prefix = _cstr(block[345:500])
                if prefix:
                    name_b = prefix + b"/" + name_b
            merged = {**global_pax, **pax}
            name = merged.get("path") or long_name or _decode(name_b)
            linkname = merged.get("linkpath") or long_link or _decode(_cstr(block[157:257]))
            if "size" in merged:
                try:
                    size = int(merged["size"])
                except ValueError:
                    raise LayerError(
                        f"{self._what}: invalid pax size in tar entry {self._n}"
                    ) from None
            pax, long_name, long_link = {}, None, None
            kind = _TYPES.get(typeflag, OTHER)
            # only regular files (and unknown types, per POSIX) carry data
            has_data = kind in (REGULAR, SPARSE, OTHER) and typeflag not in (b"3", b"4", b"6")
            self._remaining = size if has_data else 0
            self._padding = -self._remaining % BLOCK
            mode = self._number(block[100:108], "mode") & 0o7777
            yield TarEntry(name=name, type=kind, size=size, mode=mode, linkname=linkname)
