"""The bounded readers every feed shares."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.feeds.base import (
    FeedError,
    Fields,
    RecordError,
    base_name,
    iter_files,
    load_json,
    load_yaml,
    read_file,
)

TEXT = b"distroversion: v3.19\npackages: []\n"


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [
        ("", lambda b: b),
        (".gz", gzip.compress),
        (".xz", lzma.compress),
        (".bz2", bz2.compress),
        (".zst", zstandard.ZstdCompressor().compress),
    ],
)
def test_read_file_detects_compression_by_magic(
    tmp_path: Path, suffix: str, compress: object
) -> None:
    path = tmp_path / f"main.yaml{suffix}"
    path.write_bytes(compress(TEXT))  # type: ignore[operator]
    assert read_file(path, 1000) == TEXT
    # the suffix does not matter, the magic does
    renamed = tmp_path / "no-suffix"
    path.rename(renamed)
    assert read_file(renamed, 1000) == TEXT


def test_read_file_bounds_decompressed_size(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b" " * 10_000_000))  # ~10 KB on disk
    assert bomb.stat().st_size < 100_000
    with pytest.raises(
        FeedError, match=r"bomb.json.gz \(gzip\): larger than the 1000000-byte limit"
    ):
        read_file(bomb, 1_000_000)


def test_read_file_corrupt_and_missing(tmp_path: Path) -> None:
    bad = tmp_path / "x.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(FeedError, match="cannot read"):
        read_file(bad, 1000)
    with pytest.raises(FeedError, match="cannot read"):
        read_file(tmp_path / "missing", 1000)


def test_yaml_deep_nesting_is_an_error_not_a_crash() -> None:
    # libyaml's own composer would overflow the C stack on this
    deep = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(RecordError, match="nested deeper than 64 levels"):
        load_yaml(deep, "deep.yaml", 1 << 20)


def test_yaml_scalars_stay_text_and_nulls_are_none() -> None:
    doc = load_yaml(b"a: 1.10\nb: [0, {c: null}]\nd:\ne: 'null'\nf: true\n", "x", 1000)
    assert doc == {"a": "1.10", "b": ["0", {"c": None}], "d": None, "e": "null", "f": "true"}
    assert load_yaml(b"", "x", 10) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"a: &x [1]\nb: *x\n", "aliases are not allowed in feed data (line 2)"),
        (b"--- 1\n--- 2\n", "more than one YAML document"),
        (b"? [a]\n: b\n", "mapping key is not a scalar"),
        (b"a: [\n", "invalid YAML at line 2 column 1"),
        (b"\xff\xfe", "not UTF-8"),
        (b"x" * 101, "larger than the 100-byte limit"),
    ],
)
def test_yaml_errors_are_one_line(text: bytes, reason: str) -> None:
    with pytest.raises(RecordError) as e:
        load_yaml(text, "f.yaml", 100)
    assert reason in str(e.value) and "\n" not in str(e.value)


def test_json_errors_name_the_position() -> None:
    with pytest.raises(RecordError, match=r"f.json: invalid JSON at line 2 column 1"):
        load_json(b'{"a":\n', "f.json")
    with pytest.raises(RecordError, match="nested too deeply"):
        load_json(b"[" * 1_000_000 + b"]" * 1_000_000, "f.json")


def test_fields_accessors() -> None:
    f = Fields.of({"s": "x", "l": [1], "d": {}, "n": None, "bad": 3}, "rec")
    assert (f.text("s"), f.text("n"), f.items("l"), f.mapping("d"), f.items("n")) == (
        "x",
        None,
        [1],
        {},
        [],
    )
    with pytest.raises(RecordError, match=r"rec.bad: expected a string, got int"):
        f.text("bad")
    with pytest.raises(RecordError, match="rec: missing 'zz'"):
        f.text("zz", required=True)
    with pytest.raises(RecordError, match=r"rec.l\[0\]: expected a string"):
        f.strings("l")


def test_iter_files_and_base_name(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ("a.json", "b/c.json.zst", "b/d.txt", ".hidden.json"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in iter_files(tmp_path, (".json",))] == ["a.json", "c.json.zst"]
    assert base_name("x/main.yaml.xz") == "main.yaml"
    assert base_name(Path("all.zip")) == "all.zip"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_yaml_bytes(data: bytes) -> None:
    try:
        load_yaml(data, "f.yaml", 1000)
    except RecordError as e:
        assert "\n" not in str(e)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="[]{}:,-? \n&*!|>'\"ab#", max_size=120))
def test_fuzz_yaml_syntax(text: str) -> None:
    try:
        load_yaml(text.encode(), "f.yaml", 1000)
    except RecordError as e:
        assert "\n" not in str(e)
