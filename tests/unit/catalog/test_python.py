"""python/installed: dist-info, egg-info (dir and file) and zipped eggs."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.python import PythonCataloger, parse_egg, parse_python_metadata
from shoal.model import PackageType
from tests.unit.catalog.helpers import assert_one_line_reasons

DATA = Path(__file__).parent / "testdata" / "python"
SITE = "/usr/local/lib/python3.11/site-packages"


def _catalog(rel: str, image_path: str) -> tuple[list[tuple[str, str, tuple[str, ...]]], list[str]]:
    res = PythonCataloger().catalog(LayerFile(path=image_path, data=(DATA / rel).read_bytes()))
    return (
        [(p.name, p.version, p.licenses) for p in res.packages],
        [u.reason for u in res.unknowns],
    )


@pytest.mark.parametrize(
    "path",
    [
        f"{SITE}/urllib3-1.26.4.dist-info/METADATA",
        "/usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO",
        "/usr/lib/python3/dist-packages/PyYAML-5.3.1-py3.11.egg-info",
        f"{SITE}/PyYAML-5.3.1-py3.11-linux-x86_64.egg",
        f"{SITE}/PyYAML-5.3.1-py3.11-linux-x86_64.egg/EGG-INFO/PKG-INFO",
    ],
)
def test_wants_metadata_files(path: str) -> None:
    assert PythonCataloger().wants(FileEntry(path=path, size=100, mode=0o644))


@pytest.mark.parametrize(
    "path",
    [
        f"{SITE}/urllib3-1.26.4.dist-info/RECORD",
        f"{SITE}/urllib3/METADATA",
        "/src/PyYAML-5.3.1/PKG-INFO",  # an unpacked sdist, not an installation
        f"{SITE}/urllib3-1.26.4.dist-info/METADATA.bak",
    ],
)
def test_wants_rejects_other_files(path: str) -> None:
    assert not PythonCataloger().wants(FileEntry(path=path, size=100, mode=0o644))


def test_dist_info_with_license_field() -> None:
    pkgs, unknowns = _catalog(
        "site-packages/urllib3-1.26.4.dist-info/METADATA",
        f"{SITE}/urllib3-1.26.4.dist-info/METADATA",
    )
    assert pkgs == [("urllib3", "1.26.4", ("MIT",))]
    assert unknowns == []


def test_name_kept_as_written_and_purl_normalised() -> None:
    path = f"{SITE}/Django-3.2.dist-info/METADATA"
    data = (DATA / "site-packages/Django-3.2.dist-info/METADATA").read_bytes()
    res = PythonCataloger().catalog(LayerFile(path=path, data=data))
    (pkg,) = res.packages
    assert pkg.name == "Django"
    assert pkg.type is PackageType.PYTHON
    assert pkg.purl == "pkg:pypi/django@3.2"
    assert pkg.licenses == ("BSD-3-Clause",)
    assert pkg.locations[0].path == path
    assert pkg.meta("kind") == "dist-info"
    assert pkg.meta("metadata-version") == "2.1"


def test_license_expression_wins_over_classifiers() -> None:
    pkgs, _ = _catalog(
        "site-packages/attrs-23.2.0.dist-info/METADATA", f"{SITE}/attrs-23.2.0.dist-info/METADATA"
    )
    assert pkgs == [("attrs", "23.2.0", ("MIT",))]


def test_classifiers_used_when_no_license_field() -> None:
    pkgs, _ = _catalog(
        "site-packages/packaging-24.2.dist-info/METADATA",
        f"{SITE}/packaging-24.2.dist-info/METADATA",
    )
    assert pkgs == [("packaging", "24.2", ("Apache Software License", "BSD License"))]


def test_egg_info_directory_form() -> None:
    pkgs, _ = _catalog(
        "site-packages/PyJWT-2.6.0.egg-info/PKG-INFO",
        "/usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO",
    )
    assert pkgs == [("PyJWT", "2.6.0", ("MIT",))]


def test_egg_info_file_form_with_metadata_1_1_description() -> None:
    pkgs, unknowns = _catalog(
        "site-packages/PyYAML-5.3.1-py3.11.egg-info",
        "/usr/lib/python3/dist-packages/PyYAML-5.3.1-py3.11.egg-info",
    )
    assert pkgs == [("PyYAML", "5.3.1", ("MIT",))]
    assert unknowns == []


def test_zipped_egg() -> None:
    path = f"{SITE}/PyYAML-5.3.1-py3.11-linux-x86_64.egg"
    res = PythonCataloger().catalog(
        LayerFile(path=path, data=(DATA / "eggs/PyYAML-5.3.1-py3.11-linux-x86_64.egg").read_bytes())
    )
    (pkg,) = res.packages
    assert (pkg.name, pkg.version, pkg.purl) == ("PyYAML", "5.3.1", "pkg:pypi/pyyaml@5.3.1")
    assert pkg.meta("kind") == "egg"
    assert pkg.locations[0].path == path


def test_unzipped_egg_directory() -> None:
    path = f"{SITE}/PyYAML-5.3.1-py3.11-linux-x86_64.egg/EGG-INFO/PKG-INFO"
    data = (DATA / "site-packages/PyYAML-5.3.1-py3.11.egg-info").read_bytes()
    (pkg,) = PythonCataloger().catalog(LayerFile(path=path, data=data)).packages
    assert (pkg.name, pkg.version, pkg.meta("kind")) == ("PyYAML", "5.3.1", "egg")


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_egg_without_pkg_info_is_unknown() -> None:
    res = parse_egg(_zip({"yaml/__init__.py": b""}), "/x.egg")
    assert res.packages == ()
    assert res.unknowns[0].reason == "egg has no EGG-INFO/PKG-INFO member"


def test_egg_that_is_not_a_zip_is_unknown() -> None:
    res = parse_egg(b"PK\x03\x04 truncated", "/x.egg")
    assert res.packages == ()
    assert res.unknowns[0].reason.startswith("unreadable egg zip:")


def test_egg_with_a_corrupt_local_header_offset_is_unknown() -> None:
    data = bytearray(_zip({"EGG-INFO/PKG-INFO": b"Name: x\nVersion: 1\n"}))
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 42 : cd + 46] = (2**31).to_bytes(4, "little")  # local header offset
    res = parse_egg(bytes(data), "/x.egg")
    assert res.packages == ()
    assert res.unknowns[0].reason.startswith("unreadable egg zip:")


def test_egg_pkg_info_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import shoal.catalog.python as mod

    monkeypatch.setattr(mod, "_MAX_PKG_INFO", 1000)
    bomb = _zip({"EGG-INFO/PKG-INFO": b"Name: x\nVersion: 1\n" + b"A" * 10_000})
    res = parse_egg(bomb, "/x.egg")
    assert res.packages == ()
    assert "over the limit" in res.unknowns[0].reason


def test_egg_with_a_huge_zip_directory_is_refused_before_reading_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shoal.catalog.python as mod

    monkeypatch.setattr(mod, "_MAX_CENTRAL_DIRECTORY", 2000)
    members = {f"yaml/m{i}.py": b"" for i in range(100)}
    members["EGG-INFO/PKG-INFO"] = b"Name: x\nVersion: 1\n"
    res = parse_egg(_zip(members), "/x.egg")
    assert res.packages == ()
    assert res.unknowns[0].reason.startswith("egg zip directory of ")
    assert res.unknowns[0].reason.endswith(" bytes is over the limit")


def test_missing_version_is_unknown() -> None:
    res = parse_python_metadata("Metadata-Version: 2.1\nName: foo\n", "/m")
    assert res.packages == ()
    assert res.unknowns[0].reason == "missing 'Version' header for 'foo'"
    assert res.unknowns[0].cataloger == "python/installed"


def test_invalid_name_is_unknown() -> None:
    res = parse_python_metadata("Name: foo bar\nVersion: 1.0\n", "/m")
    assert res.unknowns[0].reason == "invalid project name 'foo bar'"


def test_garbage_header_is_unknown_with_line_number() -> None:
    res = parse_python_metadata("Metadata-Version: 2.1\nthis is not a header\n", "/m")
    assert res.unknowns[0].reason.startswith("line 2: not a 'Key: value' header")


def test_body_is_not_read_as_headers() -> None:
    text = "Name: foo\nVersion: 1.0\n\nName: bar\nVersion: 9\n"
    res = parse_python_metadata(text, "/m")
    assert [(p.name, p.version) for p in res.packages] == [("foo", "1.0")]


def test_license_text_in_license_field_falls_back_to_classifiers() -> None:
    text = (
        "Name: foo\nVersion: 1.0\nLicense: Copyright (c) 2020 Someone\n"
        "        Permission is hereby granted, free of charge\n"
        "Classifier: License :: OSI Approved :: MIT License\n"
    )
    (pkg,) = parse_python_metadata(text, "/m").packages
    assert pkg.licenses == ("MIT",)


def test_latin1_metadata_still_parses() -> None:
    data = "Name: foo\nVersion: 1.0\nAuthor: Jos\xe9\n".encode("latin-1")
    res = PythonCataloger().catalog(LayerFile(path="/x/foo-1.0.egg-info", data=data))
    assert [(p.name, p.version) for p in res.packages] == [("foo", "1.0")]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_metadata_never_raises(text: str) -> None:
    res = parse_python_metadata(text, "/m")
    assert len(res.packages) + len(res.unknowns) == 1
    assert_one_line_reasons(res)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_egg_never_raises(data: bytes) -> None:
    res = parse_egg(data, "/x.egg")
    assert len(res.packages) + len(res.unknowns) == 1


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_egg_with_random_pkg_info(data: bytes) -> None:
    res = parse_egg(_zip({"EGG-INFO/PKG-INFO": data}), "/x.egg")
    assert len(res.packages) + len(res.unknowns) == 1
