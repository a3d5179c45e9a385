"""ruby/gemspec: installed gem specifications (Debian's rubygems-integration and libruby)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.catalog.base import FileEntry, LayerFile
from shoal.catalog.ruby import NotLiteral, RubyCataloger, parse_gemspec, parse_ruby_literal
from shoal.model import PackageType
from tests.unit.catalog.helpers import assert_one_line_reasons

DATA = Path(__file__).parent / "testdata" / "ruby"
RACK = "/usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec"
JSON_GEM = "/usr/lib/x86_64-linux-gnu/rubygems-integration/3.1.0/specifications/json-2.6.3.gemspec"
NET_HTTP = "/usr/lib/ruby/gems/3.1.0/specifications/default/net-http-0.3.0.1.gemspec"
MINITEST = "/usr/lib/ruby/gems/3.1.0/specifications/minitest-5.15.0.gemspec"


def _catalog(tree: str, path: str) -> tuple[str, str, tuple[str, ...], str]:
    data = (DATA / tree / path.lstrip("/")).read_bytes()
    res = RubyCataloger().catalog(LayerFile(path=path, data=data))
    assert res.unknowns == ()
    (pkg,) = res.packages
    assert pkg.type is PackageType.GEM
    assert pkg.locations[0].path == path
    return pkg.name, pkg.version, pkg.licenses, pkg.purl


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        (RACK, True),
        (NET_HTTP, True),
        ("/usr/local/bundle/specifications/rails-7.1.0.gemspec", True),
        ("/usr/local/bundle/gems/rails-7.1.0/rails.gemspec", False),  # source, not installed
        ("/app/myapp.gemspec", False),
        ("/usr/local/bundle/specifications/rails-7.1.0.gemspec.orig", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert RubyCataloger().wants(FileEntry(path=path, size=10, mode=0o644)) is wanted


def test_debian_rubygems_integration_gemspec() -> None:
    assert _catalog("debian", RACK) == ("rack", "2.2.22", ("MIT",), "pkg:gem/rack@2.2.22")


def test_arch_specific_gemspec() -> None:
    assert _catalog("debian", JSON_GEM)[:3] == ("json", "2.6.3", ("Ruby",))


def test_default_gem_with_two_licences() -> None:
    assert _catalog("libruby", NET_HTTP)[:3] == ("net-http", "0.3.0.1", ("Ruby", "BSD-2-Clause"))


def test_bundled_gem() -> None:
    assert _catalog("libruby", MINITEST)[:3] == ("minitest", "5.15.0", ("MIT",))


def test_homepage_is_kept() -> None:
    res = parse_gemspec((DATA / "debian" / RACK.lstrip("/")).read_text(), RACK)
    assert res.packages[0].meta("homepage") == "https://github.com/rack/rack"


@pytest.mark.parametrize(
    ("src", "value"),
    [
        ('"rack".freeze', "rack"),
        (r'"a\"b"', 'a"b'),
        (r"'a\'b'", "a'b"),
        ('Gem::Version.new("1.2.3")', "1.2.3"),
        ('Gem::Version.new("1.2.3".freeze)', "1.2.3"),
        ("%q<MIT>", "MIT"),
        ("%Q{a{b}c}", "a{b}c"),
        ('["MIT".freeze, "Ruby".freeze]', ["MIT", "Ruby"]),
        ("%w[MIT Ruby]", ["MIT", "Ruby"]),
        ("%w(MIT)", ["MIT"]),
        ("[]", []),
        ('"x" if s.respond_to? :name=', "x"),
        ('"x" # a comment', "x"),
    ],
)
def test_ruby_literals(src: str, value: object) -> None:
    assert parse_ruby_literal(src) == value


@pytest.mark.parametrize(
    "src",
    [
        "Foo::VERSION",
        "'it''s'",
        '"a#{b}c"',
        '"unterminated',
        '["a", ["b"]]',
        "%w[a",
        '["a" "b"]',
        "nil",
    ],
)
def test_non_literals_are_refused(src: str) -> None:
    with pytest.raises(NotLiteral):
        parse_ruby_literal(src)


def test_hand_written_gemspec_with_constant_version_is_unknown() -> None:
    text = (
        'Gem::Specification.new do |spec|\n  spec.name = "mygem"\n'
        "  spec.version = MyGem::VERSION\nend\n"
    )
    res = parse_gemspec(text, "/s/mygem.gemspec")
    assert res.packages == ()
    assert res.unknowns[0].reason == "line 3: version is not a literal: 'MyGem::VERSION'"


def test_single_license_field() -> None:
    text = 's.name = "a"\ns.version = "1.0"\ns.license = "Apache-2.0"\n'
    (pkg,) = parse_gemspec(text, "/s").packages
    assert pkg.licenses == ("Apache-2.0",)


def test_comparison_is_not_an_assignment() -> None:
    text = 'if s.name == "b"\ns.name = "a"\ns.version = "1"\nend\n'
    (pkg,) = parse_gemspec(text, "/s").packages
    assert pkg.name == "a"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no 's.name = ...' line"),
        ('s.name = "a"\n', "no 's.version = ...' line for 'a'"),
        ('s.name = "a b"\ns.version = "1"\n', "invalid gem name 'a b'"),
        ('s.name = "a"\ns.version = "1 2"\n', "invalid version '1 2' of 'a'"),
        ('s.name = ["a"]\ns.version = "1"\n', "invalid gem name \"['a']\""),
    ],
)
def test_malformed_gemspec_is_unknown(text: str, reason: str) -> None:
    res = parse_gemspec(text, "/s")
    assert res.packages == ()
    assert res.unknowns[0].reason == reason


def test_deeply_nested_arrays_do_not_recurse() -> None:
    res = parse_gemspec('s.name = "a"\ns.version = "1"\ns.licenses = ' + "[" * 100_000 + "\n", "/s")
    (pkg,) = res.packages
    assert pkg.licenses == ()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_literal_parser(src: str) -> None:
    try:
        value = parse_ruby_literal(src)
    except NotLiteral:
        return
    assert isinstance(value, str | list)


_FIELD = st.sampled_from(["name", "version", "license", "licenses", "homepage"])
_RHS = st.text(alphabet="\"'%wq[](){}<>,. #\\aMIT1.0Gem::Version.new", max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_FIELD, _RHS), max_size=6))
def test_fuzz_gemspec_never_raises(lines: list[tuple[str, str]]) -> None:
    text = "".join(f"  s.{f} = {v}\n" for f, v in lines)
    res = parse_gemspec(text, "/s")
    assert len(res.packages) + len(res.unknowns) == 1
    assert_one_line_reasons(res)
