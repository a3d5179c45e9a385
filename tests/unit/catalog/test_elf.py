"""The bounded executable reader, on trimmed real Go binaries: ELF of five architectures,
PE and Mach-O."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.elf import (
    ExecutableError,
    is_elf,
    is_executable,
    parse_elf,
    parse_executable,
    parse_macho,
    parse_pe,
)
from tests.unit.catalog.helpers import xz_fixture


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
    elf = parse_elf(xz_fixture("gobinary", fixture))
    assert (elf.bits, elf.little_endian, elf.arch) == (bits, little, arch)
    assert elf.ptr_size == bits // 8
    sec = elf.section(".go.buildinfo")
    assert sec is not None
    assert elf.section_data(sec).startswith(b"\xff Go buildinf:")
    assert elf.section(".no-such-section") is None


def test_read_at_maps_virtual_addresses_through_load_segments() -> None:
    elf = parse_elf(xz_fixture("gobinary", "hello-amd64.xz"))
    sec = elf.section(".go.buildinfo")
    assert sec is not None
    assert elf.read_at(sec.addr, 14) == b"\xff Go buildinf:"


def test_read_at_follows_a_big_endian_string_header() -> None:
    # runtime.buildVersion of the ppc64 fixture (address from `go tool nm`)
    elf = parse_elf(xz_fixture("gobinary", "hello-ppc64-pointer.xz"))
    ptr, n = struct.unpack(">QQ", elf.read_at(0x1A9340, 16))
    assert elf.read_at(ptr, n) == b"go1.19.8"


def test_read_at_rejects_unmapped_addresses() -> None:
    elf = parse_elf(xz_fixture("gobinary", "hello-amd64.xz"))
    with pytest.raises(ExecutableError, match="not in any loadable segment"):
        elf.read_at(0x10, 4)


def test_bss_bytes_read_as_zeros() -> None:
    elf = parse_elf(xz_fixture("gobinary", "hello-amd64.xz"))
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
    with pytest.raises(ExecutableError, match=message):
        parse_elf(data)


def test_truncated_file_names_the_table_that_is_cut() -> None:
    data = xz_fixture("gobinary", "hello-amd64.xz")
    with pytest.raises(ExecutableError, match=r"lie outside the \d+-byte file"):
        parse_elf(data[: len(data) // 2])


def test_forged_section_count_is_refused() -> None:
    data = bytearray(xz_fixture("gobinary", "hello-amd64.xz"))
    struct.pack_into("<H", data, 60, 0)  # e_shnum = 0: count moves to section 0's sh_size
    shoff = struct.unpack_from("<Q", data, 40)[0]
    struct.pack_into("<Q", data, shoff + 32, 10_000_000)
    with pytest.raises(ExecutableError, match="10000000 sections"):
        parse_elf(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_random_bytes_never_crash(data: bytes) -> None:
    try:
        parse_elf(b"\x7fELF" + data)
    except ExecutableError as e:
        assert str(e).isprintable()


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=63), st.binary(min_size=1, max_size=8))
def test_fuzz_corrupted_real_header_never_crashes(at: int, patch: bytes) -> None:
    data = bytearray(xz_fixture("gobinary", "hello-arm.xz"))
    data[at : at + len(patch)] = patch
    try:
        elf = parse_elf(bytes(data))
        for s in elf.sections:
            with contextlib.suppress(ExecutableError):
                elf.section_data(s)
    except ExecutableError as e:
        assert str(e).isprintable()


@pytest.mark.parametrize(
    ("fixture", "fmt", "bits", "arch", "section"),
    [
        ("hello-windows.exe.xz", "pe", 64, "amd64", ".data"),
        ("hello-darwin-arm64.xz", "macho", 64, "arm64", "__go_buildinfo"),
        ("hello-darwin-amd64-pointer.xz", "macho", 64, "amd64", "__go_buildinfo"),
    ],
)
def test_pe_and_macho_sections(fixture: str, fmt: str, bits: int, arch: str, section: str) -> None:
    data = xz_fixture("gobinary", fixture)
    assert is_executable(data[:4])
    exe = parse_executable(data)
    assert exe is not None
    assert (exe.format, exe.bits, exe.little_endian, exe.arch) == (fmt, bits, True, arch)
    sec = exe.section(section)
    assert sec is not None
    assert exe.section_data(sec).startswith(b"\xff Go buildinf:")
    assert exe.read_at(sec.addr, 14) == b"\xff Go buildinf:"


def test_pe_sections_sit_at_image_base_plus_rva() -> None:
    exe = parse_pe(xz_fixture("gobinary", "hello-windows-pointer.exe.xz"))
    assert [s.name for s in exe.sections][:3] == [".text", ".rdata", ".data"]
    text = exe.sections[0]
    assert text.addr == 0x401000  # Go's image base 0x400000 + RVA 0x1000
    # runtime.buildVersion (address from `go tool nm`) -> its string in .rdata
    ptr, n = struct.unpack("<QQ", exe.read_at(0x5A6360, 16))
    assert exe.read_at(ptr, n) == b"go1.19.8"


def test_macho_segments_carry_protection_flags() -> None:
    exe = parse_macho(xz_fixture("gobinary", "hello-darwin-amd64-pointer.xz"))
    bss = exe.section("__bss")
    assert bss is not None and exe.section_data(bss) == b""
    writable = [s for s in exe.segments if s.flags & 2]
    assert len(writable) == 1  # __DATA
    assert writable[0].vaddr <= bss.addr < writable[0].vaddr + writable[0].memsz


def test_not_an_executable() -> None:
    assert parse_executable(b"PK\x03\x04 a zip") is None
    assert not is_executable(b"#!/b")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"MZ" + bytes(10), "bad MZ header"),
        (b"MZ" + bytes(58) + (200).to_bytes(4, "little"), "PE signature: 4 bytes at offset 200"),
        (
            b"MZ" + bytes(58) + (64).to_bytes(4, "little") + b"PE\0\0" + bytes(30),
            "unknown magic 0x0",
        ),
        (b"\xcf\xfa\xed\xfe" + bytes(4), "Mach-O header"),
        (
            b"\xcf\xfa\xed\xfe" + bytes(12) + (10**6).to_bytes(4, "little") + bytes(12),
            "1000000 load commands",
        ),
        (b"\xcf\xfa\xed\xfe" + bytes(12) + (1).to_bytes(4, "little") + bytes(12), "load command 0"),
    ],
)
def test_malformed_pe_and_macho(data: bytes, message: str) -> None:
    with pytest.raises(ExecutableError, match=message):
        parse_executable(data)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["hello-windows.exe.xz", "hello-darwin-arm64.xz"]),
    st.integers(0, 1023),
    st.binary(min_size=1, max_size=8),
)
def test_fuzz_corrupted_pe_and_macho_headers(fixture: str, at: int, patch: bytes) -> None:
    data = bytearray(xz_fixture("gobinary", fixture))
    data[at : at + len(patch)] = patch
    try:
        exe = parse_executable(bytes(data))
        for s in exe.sections if exe else ():
            with contextlib.suppress(ExecutableError):
                exe.section_data(s)
    except ExecutableError as e:
        assert str(e).isprintable()
