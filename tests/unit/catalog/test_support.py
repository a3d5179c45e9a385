"""catalog/_support: the pieces several catalogers share."""

from __future__ import annotations

import pytest

from shoal.catalog._support import (
    MAX_YAML_DEPTH,
    LineProblem,
    LineProblems,
    Problems,
    UniquePackages,
    decode_utf8,
    load_json,
    load_toml,
    one_line,
    split_lines,
    yaml_documents,
)
from shoal.model import PackageType


def test_problems_list_the_first_ones_and_count_the_rest() -> None:
    problems = Problems("x/y", 3)
    for i in range(10):
        problems.append(f"p{i}")
    assert len(problems.kept) == 3  # the rest are only counted
    got = problems.unknowns("/f")
    assert [u.reason for u in got] == ["p0", "p1", "p2", "7 more malformed entries"]
    assert {(u.path, u.cataloger) for u in got} == {("/f", "x/y")}


def test_problems_under_the_cap_have_no_summary() -> None:
    problems = Problems("x/y", 3, more="more unreadable records")
    problems.append("a")
    assert [u.reason for u in problems.unknowns("/f")] == ["a"]
    assert Problems("x/y", 3).unknowns("/f") == ()


def test_line_problems_are_ordered_by_line_and_capped() -> None:
    problems = LineProblems("x/y", 2)
    for line in (9, 3, 5, 3):
        problems.append(LineProblem(line, f"at {line}"))
    assert [u.reason for u in problems.unknowns("/f")] == [
        "line 3: at 3",
        "line 3: at 3",
        "2 more problems not listed",
    ]


def test_unique_packages_keep_the_first_of_each_name_and_version() -> None:
    found = UniquePackages("x/y", PackageType.NPM, "/f")
    found.add("a", "1", metadata=[("k", "first")])
    found.add("b", "1", licenses=("MIT",))
    found.add("a", "1", metadata=[("k", "second")])
    assert ("a", "1") in found
    assert ("a", "2") not in found
    a, b = found.packages()
    assert (a.name, a.version, a.metadata) == ("a", "1", (("k", "first"),))
    assert (b.licenses, b.type, b.cataloger) == (("MIT",), PackageType.NPM, "x/y")
    assert a.locations[0].path == "/f"


@pytest.mark.parametrize(
    ("data", "encoding", "problem"),
    [
        (b'{"a": 1}', None, None),
        (b"\xef\xbb\xbf[1]", "utf-8-sig", None),
        (b"{", None, "line 1 column 2: invalid JSON: Expecting property name"),
        (b"\xff\xfe", "utf-8-sig", "invalid JSON: 'utf-8' codec can't decode byte 0xff"),
        (b"[" * 100_000, None, "invalid JSON: maximum recursion depth exceeded"),
        (b"1" * 5000, None, "invalid JSON: Exceeds the limit"),
    ],
)
def test_load_json(data: bytes, encoding: str | None, problem: str | None) -> None:
    doc, got = load_json(data, encoding)
    if problem is None:
        assert got is None
        assert doc is not None
    else:
        assert doc is None
        assert got is not None and got.startswith(problem)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a = 1\n", None),
        ("[a\n", "invalid TOML:"),
        ("a = " + "[" * 50_000, "invalid TOML"),
        ("a = " + "9" * 5000 + "\n", "invalid TOML: Exceeds the limit"),
    ],
)
def test_load_toml(text: str, problem: str | None) -> None:
    doc, got = load_toml(text)
    if problem is None:
        assert (doc, got) == ({"a": 1}, None)
    else:
        assert doc == {}
        assert got is not None and got.startswith(problem)
        assert "\n" not in got


def test_yaml_documents_keep_scalars_as_text_and_bound_nesting() -> None:
    assert yaml_documents("a: 1.10\n---\n- x\n") == ([{"a": "1.10"}, ["x"]], None)
    deep = "[" * (MAX_YAML_DEPTH + 1)
    assert yaml_documents(deep) == (
        [],
        f"invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels",
    )


def test_decode_utf8_drops_a_byte_order_mark_and_names_the_bad_byte() -> None:
    assert decode_utf8(b"\xef\xbb\xbfab") == ("ab", None)
    assert decode_utf8(b"ab\xff") == ("", "not UTF-8 at byte 2")


def test_split_lines_splits_on_newline_only() -> None:
    assert list(split_lines("a\fb\nc\r\n")) == ["a\fb", "c\r", ""]


def test_one_line() -> None:
    assert one_line(ValueError("a\n  b\r\tc")) == "a b c"
    assert one_line(ValueError()) == "ValueError"
    assert len(one_line(ValueError("x" * 500))) == 200
