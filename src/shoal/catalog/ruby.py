"""ruby/gemspec: installed gems, from `specifications/*.gemspec`.

RubyGems writes an installed gem's specification as Ruby source
(`Gem::Specification#to_ruby`) under `<gem home>/specifications/`; Debian keeps the same
files under `/usr/share/rubygems-integration/`. The generated file assigns literals::

    s.name = "rack".freeze
    s.version = "2.2.22"
    s.licenses = ["MIT".freeze]

Nothing is executed: the assignments of `name`, `version`, `license(s)` and `homepage` are
read with a small parser for the literal forms Ruby offers (double- and single-quoted
strings, `%q`/`%Q` strings, `%w`/`%W` word arrays, array literals, `.freeze`,
`Gem::Version.new(...)`). A value that is not a literal (a constant such as `Foo::VERSION`
in a hand-written gemspec) cannot be known without running Ruby and gives an Unknown.
"""

from __future__ import annotations

import re

from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, Location, Package, PackageType

NAME = "ruby/gemspec"

_ASSIGN = re.compile(r"^\s*[a-z_]\w*\.(name|version|licenses?|homepage)\s*=(?![=~])\s*(.*?)\s*$")
_GEM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}
_ESCAPES = {"n": "\n", "t": "\t", "s": " ", "0": "\0", "e": "\x1b", "r": "\r"}
_MAX_LICENSES = 64


class NotLiteral(ValueError):
    """The right-hand side is not a literal this parser understands."""


class RubyCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        p = entry.path
        return p.endswith(".gemspec") and "/specifications/" in p

    def catalog(self, f: LayerFile) -> CatalogResult:
        try:
            text = f.data.decode("utf-8-sig")  # tolerate a byte-order mark
        except UnicodeDecodeError:
            text = f.data.decode("latin-1")  # names and versions are ASCII either way
        return parse_gemspec(text, f.path)


def parse_gemspec(text: str, path: str) -> CatalogResult:
    """The gem an installed gemspec describes."""
    values: dict[str, str | list[str]] = {}
    problems: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _ASSIGN.match(line)
        if not m:
            continue
        field = "licenses" if m.group(1) == "license" else m.group(1)
        if field in values:
            continue
        try:
            values[field] = parse_ruby_literal(m.group(2))
        except NotLiteral as e:
            problems.setdefault(field, f"line {lineno}: {field} is {e}")

    name = values.get("name")
    version = values.get("version")
    if name is None:
        return CatalogResult.failed(path, NAME, problems.get("name", "no 's.name = ...' line"))
    if not isinstance(name, str) or not _GEM_NAME.fullmatch(name):
        return CatalogResult.failed(path, NAME, f"invalid gem name {str(name)[:100]!r}")
    if version is None:
        return CatalogResult.failed(
            path, NAME, problems.get("version", f"no 's.version = ...' line for {name!r}")
        )
    if not isinstance(version, str) or not version or any(c.isspace() for c in version):
        return CatalogResult.failed(
            path, NAME, f"invalid version {str(version)[:100]!r} of {name!r}"
        )

    lic = values.get("licenses", [])
    licenses = [lic] if isinstance(lic, str) else lic
    meta: list[tuple[str, str]] = []
    homepage = values.get("homepage")
    if isinstance(homepage, str) and homepage:
        meta.append(("homepage", homepage))
    pkg = Package(
        name=name,
        version=version,
        type=PackageType.GEM,
        cataloger=NAME,
        locations=(Location(path=path),),
        licenses=tuple(dict.fromkeys(x for x in licenses[:_MAX_LICENSES] if x)),
        metadata=tuple(meta),
    )
    return CatalogResult(packages=(pkg,))


def parse_ruby_literal(src: str) -> str | list[str]:
    """A Ruby string or array-of-strings literal, as RubyGems writes them; raises
    NotLiteral for anything else."""
    value, pos = _value(src, 0)
    rest = src[pos:].strip()
    # `... if s.respond_to? :x=` guards and trailing comments do not change the value
    if rest and not rest.startswith("#") and not rest.startswith("if "):
        raise NotLiteral(f"followed by {rest[:40]!r}")
    return value


def _value(src: str, pos: int, nested: bool = False) -> tuple[str | list[str], int]:
    # `nested`: inside an array or Gem::Version.new(); only plain strings may follow, which
    # also keeps the recursion one level deep whatever the input
    pos = _skip_ws(src, pos)
    if nested and src.startswith(("[", "Gem::Version.new(", "%w", "%W", "%i", "%I"), pos):
        raise NotLiteral(f"not a string: {src[pos : pos + 40]!r}")
    if src.startswith("Gem::Version.new(", pos):
        inner, pos = _value(src, pos + len("Gem::Version.new("), nested=True)
        pos = _skip_ws(src, pos)
        if not src.startswith(")", pos) or not isinstance(inner, str):
            raise NotLiteral("an unreadable Gem::Version.new(...)")
        return inner, _freeze(src, pos + 1)
    if src.startswith("[", pos):
        return _array(src, pos + 1)
    if src.startswith(("%w", "%W", "%i", "%I"), pos):
        body, pos = _delimited(src, pos + 2)
        return body.split(), _freeze(src, pos)
    if src.startswith(("%q", "%Q"), pos):
        body, pos = _delimited(src, pos + 2)
        return body, _freeze(src, pos)
    if src.startswith('"', pos) or src.startswith("'", pos):
        s, pos = _quoted(src, pos)
        return s, _freeze(src, pos)
    raise NotLiteral(f"not a literal: {src[pos : pos + 40]!r}")


def _array(src: str, pos: int) -> tuple[list[str], int]:
    items: list[str] = []
    while True:
        pos = _skip_ws(src, pos)
        if src.startswith("]", pos):
            return items, _freeze(src, pos + 1)
        item, pos = _value(src, pos, nested=True)
        if not isinstance(item, str):
            raise NotLiteral("a nested array")
        items.append(item)
        pos = _skip_ws(src, pos)
        if src.startswith(",", pos):
            pos += 1
        elif not src.startswith("]", pos):
            raise NotLiteral("an unterminated array")


def _quoted(src: str, pos: int) -> tuple[str, int]:
    quote = src[pos]
    out: list[str] = []
    i = pos + 1
    while i < len(src):
        c = src[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\" and i + 1 < len(src):
            nxt = src[i + 1]
            if quote == '"':
                out.append(_ESCAPES.get(nxt, nxt))
            else:  # single quotes only escape the quote and the backslash
                out.append(nxt if nxt in "'\\" else "\\" + nxt)
            i += 2
            continue
        if c == "#" and quote == '"' and src.startswith("#{", i):
            raise NotLiteral("an interpolated string")
        out.append(c)
        i += 1
    raise NotLiteral("an unterminated string")


def _delimited(src: str, pos: int) -> tuple[str, int]:
    if pos >= len(src):
        raise NotLiteral("an unterminated %-literal")
    opener = src[pos]
    closer = _PAIRS.get(opener, opener)
    depth = 1
    i = pos + 1
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == closer:
            depth -= 1
            if depth == 0:
                return src[pos + 1 : i], i + 1
        elif c == opener and closer != opener:
            depth += 1
        i += 1
    raise NotLiteral("an unterminated %-literal")


def _freeze(src: str, pos: int) -> int:
    return pos + len(".freeze") if src.startswith(".freeze", pos) else pos


def _skip_ws(src: str, pos: int) -> int:
    while pos < len(src) and src[pos] in " \t":
        pos += 1
    return pos


__all__ = ["NotLiteral", "RubyCataloger", "parse_gemspec", "parse_ruby_literal"]
