"""The bounded ELF reader, on trimmed real Go binaries of four architectures."""

from __future__ import annotations

import contextlib
import functools
import lzma
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.elf import ElfError, is_elf, parse_elf

GODATA = Path(__file__).parent / "testdata" / "gobinary"


@functools.cache
def _load(name: str) -> bytes:
    return lzma.decompress((GODATA / name).read_bytes())


@pytest.mark.parametrize(
    ("fixture", "bits", "little", "arch"),
    [
        ("hello-amd64.xz", 64, True, "amd64"),
        ("hello-386-pointer.xz", 32, True, "386"),
        ("hello-arm.xz", 32, True, "arm"),
        ("hello-ppc64-pointer.xz", 64, False, "ppc64"),
        ("hello-s390x.xz", 64, False, "s390x"),
    ],
)
def test_parse_elf_reads_class_byte_order_and_machine(
    fixture: str, bits: int, little: bool, arch: str
) -> None:
    elf = parse_elf(_load(fixture))
    assert (elf.bits, elf.little_endian, elf.arch) == (bits, little, arch)
    assert elf.ptr_size == bits // 8
    sec = elf.section(".go.buildinfo")
    assert sec is not None
    assert elf.section_data(sec).startswith(b"\xff Go buildinf:")
    assert elf.section(".no-such-section") is None


def test_read_at_maps_virtual_addresses_through_load_segments() -> None:
    elf = parse_elf(_load("hello-amd64.xz"))
    sec = elf.section(".go.buildinfo")
    assert sec is not None
    assert elf.read_at(sec.addr, 14) == b"\xff Go buildinf:"


def test_read_at_follows_a_big_endian_string_header() -> None:
    # runtime.buildVersion of the ppc64 fixture (address from `go tool nm`)
    elf = parse_elf(_load("hello-ppc64-pointer.xz"))
    ptr, n = struct.unpack(">QQ", elf.read_at(0x1A9340, 16))
    assert elf.read_at(ptr, n) == b"go1.19.8"


def test_read_at_rejects_unmapped_addresses() -> None:
    elf = parse_elf(_load("hello-amd64.xz"))
    with pytest.raises(ElfError, match="not in any loadable segment"):
        elf.read_at(0x10, 4)


def test_bss_bytes_read_as_zeros() -> None:
    elf = parse_elf(_load("hello-amd64.xz"))
    bss = elf.section(".bss")
    assert bss is not None
    assert elf.section_data(bss) == b""
    assert elf.read_at(bss.addr, 8) == bytes(8)


def test_is_elf_checks_the_magic() -> None:
    assert is_elf(b"\x7fELF\x02")
    assert not is_elf(b"MZ\x90\x00")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"MZ" + bytes(100), "bad magic"),
        (b"\x7fELF\x03\x01" + bytes(100), "unknown class 3"),
        (b"\x7fELF\x02\x07" + bytes(100), "unknown byte order 7"),
        (b"\x7fELF\x02\x01" + bytes(20), "ELF header"),
    ],
)
def test_parse_elf_rejects_malformed_headers(data: bytes, message: str) -> None:
    with pytest.raises(ElfError, match=message):
        parse_elf(data)


def test_truncated_file_names_the_table_that_is_cut() -> None:
    data = _load("hello-amd64.xz")
    with pytest.raises(ElfError, match=r"lie outside the \d+-byte file"):
        parse_elf(data[: len(data) // 2])


def test_forged_section_count_is_refused() -> None:
    data = bytearray(_load("hello-amd64.xz"))
    struct.pack_into("<H", data, 60, 0)  # e_shnum = 0: count moves to section 0's sh_size
    shoff = struct.unpack_from("<Q", data, 40)[0]
    struct.pack_into("<Q", data, shoff + 32, 10_000_000)
    with pytest.raises(ElfError, match="10000000 sections"):
        parse_elf(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_random_bytes_never_crash(data: bytes) -> None:
    try:
        parse_elf(b"\x7fELF" + data)
    except ElfError as e:
        assert "\n" not in str(e)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=63), st.binary(min_size=1, max_size=8))
def test_fuzz_corrupted_real_header_never_crashes(at: int, patch: bytes) -> None:
    data = bytearray(_load("hello-arm.xz"))
    data[at : at + len(patch)] = patch
    try:
        elf = parse_elf(bytes(data))
        for s in elf.sections:
            with contextlib.suppress(ElfError):
                elf.section_data(s)
    except ElfError as e:
        assert "\n" not in str(e)
