"""rpm header blobs: a real one stored by rpm 4.18, and hand-built malformed ones."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.rpmdb.errors import HeaderError
from shoal.catalog.rpmdb.header import MAX_DATA, MAX_TAGS, Header, Tag, Type, parse_header

HELLO = Path(__file__).parent / "testdata" / "rpm" / "headers" / "hello.hdr"


def build(entries: list[tuple[int, int, int, int]], store: bytes) -> bytes:
    index = b"".join(struct.pack(">iIiI", *e) for e in entries)
    return struct.pack(">II", len(entries), len(store)) + index + store


def read_everything(h: Header) -> None:
    """Touch every tag with every accessor: only HeaderError may come out."""
    for tag in h.tags:
        for access in (h.strings, h.integers, h.binary):
            with contextlib.suppress(HeaderError):
                access(tag)
        with contextlib.suppress(HeaderError):
            h.strings(tag, lenient=True)


# --- the real header ----------------------------------------------------------------------


def test_real_header_fields() -> None:
    h = parse_header(HELLO.read_bytes())
    assert h.string(Tag.NAME) == "hello"
    assert h.string(Tag.VERSION) == "2.12"
    assert h.string(Tag.RELEASE) == "1.fc40"
    assert h.integer(Tag.EPOCH) is None
    assert h.string(Tag.ARCH) == "x86_64"
    assert h.string(Tag.LICENSE) == "GPL-3.0-or-later"
    assert h.string(Tag.VENDOR) == "Fedora Project"
    assert h.string(Tag.SOURCERPM) == "hello-2.12-1.fc40.src.rpm"
    assert h.integer(Tag.SIZE) == 14
    assert h.integer(Tag.PAYLOADDIGESTALGO) == 8
    md5 = h.binary(Tag.SIGMD5)
    assert md5 is not None and len(md5) == 16
    sha256 = h.string(Tag.SHA256HEADER)
    assert sha256 is not None and len(sha256) == 64
    assert h.string(Tag.MODULARITYLABEL) is None
    # the region tag is structure, not data
    assert Tag.HEADERIMMUTABLE not in h
    read_everything(h)


def test_real_header_i18n_summary_and_string_arrays() -> None:
    h = parse_header(HELLO.read_bytes())
    assert h.string(1004) == "Prints a familiar, friendly greeting"  # SUMMARY, I18NSTRING
    assert h.strings(1117) == ("README",)  # BASENAMES, STRING_ARRAY
    assert h.strings(1118) == ("/usr/share/doc/hello/",)  # DIRNAMES


def test_type_mismatch_is_header_error() -> None:
    h = parse_header(HELLO.read_bytes())
    with pytest.raises(HeaderError, match=r"tag 1000 \(NAME\): expected an integer"):
        h.integer(Tag.NAME)
    with pytest.raises(HeaderError, match="expected a string, found type INT32"):
        h.string(Tag.SIZE)
    with pytest.raises(HeaderError, match="expected binary data"):
        h.binary(Tag.NAME)


# --- hand-built headers --------------------------------------------------------------------


def test_later_dribble_entry_replaces_region_entry() -> None:
    store = b"old\0new\0"
    h = parse_header(build([(1000, 6, 0, 1), (1000, 6, 4, 1)], store))
    assert h.string(Tag.NAME) == "new"


def test_region_with_valid_trailer() -> None:
    trailer = struct.pack(">iIiI", 63, 7, -32, 16)  # region of 2 entries
    store = b"hello\0" + b"\0\0" + trailer
    h = parse_header(build([(63, 7, 8, 16), (1000, 6, 0, 1)], store))
    assert h.string(Tag.NAME) == "hello"
    assert h.tags == frozenset({1000})


def test_immutable_region_accepts_legacy_image_trailer() -> None:
    trailer = struct.pack(">iIiI", 61, 7, -32, 16)
    h = parse_header(build([(63, 7, 8, 16), (1000, 6, 0, 1)], b"hello\0\0\0" + trailer))
    assert h.string(Tag.NAME) == "hello"


def test_integer_types() -> None:
    store = struct.pack(">HHIQ", 7, 9, 0xDEADBEEF, 1 << 40) + b"\x05"
    h = parse_header(
        build([(1, 3, 0, 2), (2, 4, 4, 1), (3, 5, 8, 1), (4, 2, 16, 1), (5, 1, 16, 1)], store)
    )
    assert h.integers(1) == (7, 9)
    assert h.integer(2) == 0xDEADBEEF
    assert h.integer(3) == 1 << 40
    assert h.integer(4) == 5
    assert h.integer(5) == 5


def test_null_entries_are_ignored() -> None:
    h = parse_header(build([(1000, 6, 0, 1), (1001, 0, 0, 0)], b"x\0"))
    assert 1001 not in h


def test_lenient_strings_keep_non_utf8_text() -> None:
    h = parse_header(build([(1011, 6, 0, 1)], "Müller".encode("latin-1") + b"\0"))
    with pytest.raises(HeaderError, match=r"tag 1011 \(VENDOR\): not UTF-8 at data offset 0"):
        h.string(Tag.VENDOR)
    assert h.string(Tag.VENDOR, lenient=True) == "M\ufffdller"


def test_unterminated_string_is_error_on_access() -> None:
    h = parse_header(build([(1000, 6, 0, 1)], b"hello"))
    with pytest.raises(HeaderError, match="not NUL-terminated"):
        h.string(Tag.NAME)


def test_string_array_running_off_the_store() -> None:
    h = parse_header(build([(1117, 8, 0, 3)], b"a\0b\0c"))
    with pytest.raises(HeaderError, match="data offset 4 is not NUL-terminated"):
        h.strings(1117)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "shorter than its 8-byte preamble"),
        (b"\0\0\0\x01\0\0", "shorter than its 8-byte preamble"),
        (struct.pack(">II", 0, 0), "index count 0 outside"),
        (struct.pack(">II", MAX_TAGS + 1, 0), f"index count {MAX_TAGS + 1} outside"),
        (struct.pack(">II", 1, MAX_DATA + 1), "exceeds"),
        (build([(1000, 6, 0, 1)], b"x\0") + b"extra", "does not match 8 \\+ 16 \\* 1 entries"),
        (build([(1000, 6, 0, 1)], b"x\0")[:-1], "does not match"),
        (build([(1000, 10, 0, 1)], b"x\0"), r"entry 0 \(tag 1000 \(NAME\)\): unknown data type 10"),
        (build([(1000, 6, 3, 1)], b"x\0"), "data offset 3 outside the 2-byte data store"),
        (build([(1000, 6, -1, 1)], b"x\0"), "data offset -1 outside"),
        (build([(1009, 4, 2, 1)], b"\0" * 8), "offset 2 not aligned to 4 bytes"),
        (build([(1009, 4, 4, 2)], b"\0" * 8), "2 x 4 bytes at data offset 4 overrun"),
        (build([(1009, 5, 0, 0x20000000)], b"\0" * 8), "overrun"),
        (build([(1000, 6, 0, 2)], b"a\0b\0"), "STRING with count 2"),
        (build([(1117, 8, 0, 5)], b"a\0b\0"), "5 strings cannot fit"),
        (build([(1000, 6, 0, 0)], b"a\0"), "count 0 is not positive"),
        (build([(261, 7, 0, 17)], b"\0" * 16), "17 x 1 bytes"),
    ],
)
def test_malformed_headers(blob: bytes, message: str) -> None:
    with pytest.raises(HeaderError, match=message):
        parse_header(blob)


@pytest.mark.parametrize(
    ("entries", "store", "message"),
    [
        ([(63, 6, 0, 1), (1000, 6, 0, 1)], b"x\0", "expected 16 bytes of BIN"),
        ([(63, 7, 0, 15), (1000, 6, 0, 1)], b"\0" * 16, "expected 16 bytes of BIN"),
        ([(63, 7, 4, 16), (1000, 6, 0, 1)], b"\0" * 16, "trailer offset 4 outside"),
        (
            [(63, 7, 0, 16), (1000, 6, 0, 1)],
            struct.pack(">iIiI", 1000, 7, -32, 16),
            "trailer has tag 1000",
        ),
        (
            [(63, 7, 0, 16), (1000, 6, 0, 1)],
            struct.pack(">iIiI", 63, 7, 32, 16),
            "invalid region of offset 32",
        ),
        (
            [(63, 7, 0, 16), (1000, 6, 0, 1)],
            struct.pack(">iIiI", 63, 7, -48, 16),  # region of 3 entries in a header of 2
            "invalid region of offset -48",
        ),
        (
            [(63, 7, 0, 16), (1000, 6, 0, 1)],
            struct.pack(">iIiI", 63, 7, -20, 16),
            "invalid region of offset -20",
        ),
        (
            [(63, 7, 0, 16), (1000, 6, 0, 1)],
            struct.pack(">iIiI", 63, 6, -32, 16),
            "invalid region",
        ),
    ],
)
def test_malformed_regions(
    entries: list[tuple[int, int, int, int]], store: bytes, message: str
) -> None:
    with pytest.raises(HeaderError, match=message):
        parse_header(build(entries, store))


def test_error_messages_are_one_line() -> None:
    with pytest.raises(HeaderError) as info:
        parse_header(build([(1000, 6, 9, 1)], b"x\0"))
    assert "\n" not in str(info.value)


# --- fuzzing -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_arbitrary_blobs(blob: bytes) -> None:
    try:
        h = parse_header(blob)
    except HeaderError:
        return
    read_everything(h)


_entries = st.lists(
    st.tuples(
        st.sampled_from([61, 62, 63, 261, 1000, 1001, 1002, 1003, 1009, 1117, 5093]),
        st.integers(0, 11),
        st.integers(-64, 80),
        st.integers(0, 40),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=500, deadline=None)
@given(entries=_entries, store=st.binary(max_size=72))
def test_fuzz_structured_headers(entries: list[tuple[int, int, int, int]], store: bytes) -> None:
    try:
        h = parse_header(build(entries, store))
    except HeaderError as err:
        assert "\n" not in str(err)
        return
    read_everything(h)


@settings(max_examples=300, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), min_size=1))
def test_fuzz_mutated_real_header(edits: list[tuple[int, int]]) -> None:
    buf = bytearray(HELLO.read_bytes())
    for pos, value in edits:
        buf[pos % len(buf)] = value
    try:
        h = parse_header(bytes(buf))
    except HeaderError:
        return
    read_everything(h)


def test_type_enum_matches_rpm() -> None:
    assert [t.value for t in Type] == list(range(10))


def test_first_value_accessors_read_only_the_first() -> None:
    """`string`/`integer` never walk a whole hostile array; `strings` still checks it all."""
    store = struct.pack(">I", 7) + b"\0" * 64 + b"first\0" + b"x" * 10  # last unterminated
    h = parse_header(build([(1003, 4, 0, 17), (1117, 8, 68, 5)], store))
    assert h.string(1117) == "first"
    assert h.integer(Tag.EPOCH) == 7
    assert h.integers(Tag.EPOCH) == (7,) + (0,) * 16
    with pytest.raises(HeaderError, match="not NUL-terminated"):
        h.strings(1117)
