"""rpm header blobs as the package database stores them.

A stored header has no lead magic (that is only in .rpm files)::

    il  uint32 BE      number of index entries
    dl  uint32 BE      size of the data store
    il x {tag, type, offset, count}  (4 x int32 BE each)
    dl bytes of data store

The first entry is usually a region tag (HEADERIMMUTABLE) whose data is a trailer entry
giving, as a negative offset, how many entries the signed region covers; entries after the
region ("dribbles", added at install time) replace region entries with the same tag, as
rpm's headerImport does. Every offset and count is checked against the data store before
anything is read, so a hostile blob gives a `HeaderError`, never an IndexError or a read
outside the blob.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from shoal.catalog.rpmdb.errors import HeaderError

# rpm's own bounds (lib/header_internal.h: HEADER_TAGS_MAX, HEADER_DATA_MAX).
MAX_TAGS = 0xFFFF
MAX_DATA = 0x0FFFFFFF

_ENTRY = struct.Struct(">iIiI")  # tag, type, offset (signed: region trailers), count
_REGION_TAGS = frozenset({61, 62, 63})  # HEADERIMAGE, HEADERSIGNATURES, HEADERIMMUTABLE


class Tag(IntEnum):
    """The header tags shoal reads (values from rpm's rpmtag.h)."""

    HEADERIMAGE = 61
    HEADERSIGNATURES = 62
    HEADERIMMUTABLE = 63
    SIGMD5 = 261
    SHA1HEADER = 269
    SHA256HEADER = 273
    NAME = 1000
    VERSION = 1001
    RELEASE = 1002
    EPOCH = 1003
    SIZE = 1009
    VENDOR = 1011
    LICENSE = 1014
    ARCH = 1022
    SOURCERPM = 1044
    LONGSIZE = 5009
    PAYLOADDIGEST = 5092
    PAYLOADDIGESTALGO = 5093
    MODULARITYLABEL = 5096


class Type(IntEnum):
    NULL = 0
    CHAR = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    STRING = 6
    BIN = 7
    STRING_ARRAY = 8
    I18NSTRING = 9


_INT_FORMAT = {Type.CHAR: "B", Type.INT8: "B", Type.INT16: "H", Type.INT32: "I", Type.INT64: "Q"}
_FIXED_SIZE = {
    Type.NULL: 0,
    Type.CHAR: 1,
    Type.INT8: 1,
    Type.INT16: 2,
    Type.INT32: 4,
    Type.INT64: 8,
}
_STRING_TYPES = (Type.STRING, Type.STRING_ARRAY, Type.I18NSTRING)
_TYPES = {t.value: t for t in Type}  # a dict lookup: Type(n) is slow across 100k entries


@dataclass(frozen=True, slots=True)
class _Entry:
    tag: int
    type: Type
    offset: int
    count: int


def _tag_name(tag: int) -> str:
    try:
        return f"tag {tag} ({Tag(tag).name})"
    except ValueError:
        return f"tag {tag}"


class Header:
    """A validated header: typed accessors that return None for absent tags and raise
    `HeaderError` for a tag whose data is malformed or of an unexpected type."""

    __slots__ = ("_entries", "_store")

    def __init__(self, entries: dict[int, _Entry], store: bytes) -> None:
        self._entries = entries
        self._store = store

    def __contains__(self, tag: int) -> bool:
        return tag in self._entries

    @property
    def tags(self) -> frozenset[int]:
        return frozenset(self._entries)

    def strings(self, tag: int, *, lenient: bool = False) -> tuple[str, ...] | None:
        """All strings of a STRING, STRING_ARRAY or I18NSTRING tag.

        Identity fields must be UTF-8 (rpm restricts them to ASCII); with `lenient`, free
        text written by old tools in another encoding keeps its readable parts instead.
        """
        return self._strings(tag, lenient, limit=None)

    def string(self, tag: int, *, lenient: bool = False) -> str | None:
        """The string of a STRING tag, or the first (untranslated) one of an array."""
        # only the first is decoded: a hostile count cannot make this cost more than one
        values = self._strings(tag, lenient, limit=1)
        return values[0] if values else None

    def _strings(self, tag: int, lenient: bool, limit: int | None) -> tuple[str, ...] | None:
        e = self._entries.get(tag)
        if e is None:
            return None
        if e.type not in _STRING_TYPES:
            raise HeaderError(f"{_tag_name(tag)}: expected a string, found type {e.type.name}")
        out: list[str] = []
        pos = e.offset
        for _ in range(e.count if limit is None else min(limit, e.count)):
            end = self._store.find(b"\0", pos)
            if end < 0:
                raise HeaderError(
                    f"{_tag_name(tag)}: string at data offset {pos} is not NUL-terminated"
                )
            raw = self._store[pos:end]
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError as err:
                if not lenient:
                    raise HeaderError(f"{_tag_name(tag)}: not UTF-8 at data offset {pos}") from err
                out.append(raw.decode("utf-8", errors="replace"))
            pos = end + 1
        return tuple(out)

    def integers(self, tag: int) -> tuple[int, ...] | None:
        """All values of a CHAR or INT8/16/32/64 tag, unsigned, as rpm reads them."""
        return self._integers(tag, limit=None)

    def integer(self, tag: int) -> int | None:
        """The first value of an integer tag."""
        values = self._integers(tag, limit=1)
        return values[0] if values else None

    def _integers(self, tag: int, limit: int | None) -> tuple[int, ...] | None:
        e = self._entries.get(tag)
        if e is None:
            return None
        fmt = _INT_FORMAT.get(e.type)
        if fmt is None:
            raise HeaderError(f"{_tag_name(tag)}: expected an integer, found type {e.type.name}")
        count = e.count if limit is None else min(limit, e.count)
        return struct.unpack_from(f">{count}{fmt}", self._store, e.offset)

    def binary(self, tag: int) -> bytes | None:
        e = self._entries.get(tag)
        if e is None:
            return None
        if e.type is not Type.BIN:
            raise HeaderError(f"{_tag_name(tag)}: expected binary data, found type {e.type.name}")
        return self._store[e.offset : e.offset + e.count]


def parse_header(blob: bytes) -> Header:
    """Validate the index of a stored header blob; raises `HeaderError` if malformed."""
    if len(blob) < 8:
        raise HeaderError(f"header of {len(blob)} bytes is shorter than its 8-byte preamble")
    il, dl = struct.unpack_from(">II", blob)
    if il < 1 or il > MAX_TAGS:
        raise HeaderError(f"header index count {il} outside 1..{MAX_TAGS}")
    if dl > MAX_DATA:
        raise HeaderError(f"header data size {dl} exceeds {MAX_DATA}")
    want = 8 + 16 * il + dl
    if len(blob) != want:
        raise HeaderError(
            f"header size {len(blob)} does not match 8 + 16 * {il} entries + {dl} data = {want}"
        )
    store = blob[8 + 16 * il :]
    entries: dict[int, _Entry] = {}
    for i, (tag, typ, offset, count) in enumerate(_ENTRY.iter_unpack(blob[8 : 8 + 16 * il])):
        t = _TYPES.get(typ)
        if t is None:
            problem: str | None = f"unknown data type {typ}"
        elif i == 0 and tag in _REGION_TAGS:
            _check_region(tag, t, offset, count, il=il, store=store)
            continue
        else:
            problem = _entry_problem(t, offset, count, len(store))
        if problem or t is None:
            raise HeaderError(f"header index entry {i} ({_tag_name(tag)}): {problem}")
        if t is not Type.NULL and tag not in _REGION_TAGS:
            entries[tag] = _Entry(tag, t, offset, count)  # later (dribble) entries win
    return Header(entries, store)


def _entry_problem(t: Type, offset: int, count: int, dl: int) -> str | None:
    """What is wrong with an index entry's place in the data store, if anything."""
    if offset < 0 or offset > dl:
        return f"data offset {offset} outside the {dl}-byte data store"
    if count < 1 and t is not Type.NULL:
        return f"count {count} is not positive"
    if t in _STRING_TYPES:
        if t is Type.STRING and count != 1:
            return f"STRING with count {count}"
        # each string takes at least its NUL; the exact ends are checked when read
        if count > dl - offset:
            return f"{count} strings cannot fit at data offset {offset}"
        return None
    size = 1 if t is Type.BIN else _FIXED_SIZE[t]
    if size > 1 and offset % size:
        return f"data offset {offset} not aligned to {size} bytes"
    if count * size > dl - offset:
        return f"{count} x {size} bytes at data offset {offset} overrun the {dl}-byte store"
    return None


def _check_region(tag: int, t: Type, offset: int, count: int, *, il: int, store: bytes) -> None:
    where = f"region {_tag_name(tag)}"
    if t is not Type.BIN or count != 16:
        raise HeaderError(f"{where}: expected 16 bytes of BIN, found {count} x {t.name}")
    if offset < 0 or offset + 16 > len(store):
        raise HeaderError(f"{where}: trailer offset {offset} outside the {len(store)}-byte store")
    rtag, rtype, roffset, _ = _ENTRY.unpack_from(store, offset)
    # rpm accepts an old HEADERIMAGE trailer inside a HEADERIMMUTABLE region
    if rtag != tag and not (tag == Tag.HEADERIMMUTABLE and rtag == Tag.HEADERIMAGE):
        raise HeaderError(f"{where}: trailer has tag {rtag}")
    ril = -roffset // 16 if roffset < 0 else 0
    if rtype != Type.BIN or roffset >= 0 or roffset % 16 or not 1 <= ril <= il:
        raise HeaderError(f"{where}: trailer claims an invalid region of offset {roffset}")
