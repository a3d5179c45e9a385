"""What several catalogers share: bounded problem lists and bounded document loading.

* `UniquePackages`: the packages of one file, one per name and version.
* `Problems` and `LineProblems`: the problems met in one file, which become `Unknown`s; past
  a cap they are only counted and summarised in one line, so a hostile file with a problem
  in every entry costs no more memory, and no longer a result, than a clean one.
* `load_json`, `load_toml` and `yaml_documents`: a document, or one line saying why it
  cannot be read; never an exception, whatever the nesting or the size of a number.
* `decode_utf8` and `split_lines`: text from bytes, and its lines, for large files.
* `ZIP_CORRUPT` and `ZIP_UNSUPPORTED`: what `zipfile` raises on archives it cannot read.

Catalogers import this module and `base`; it imports none of them.
"""

from __future__ import annotations

import json
import tomllib
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from shoal.model import Location, Package, PackageType, Unknown

# libyaml's parser when PyYAML has it. Documents are built from its events, whose scalars
# are the raw text: `version: 1.10` stays "1.10", never the float 1.1.
_YAML_LOADER: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
MAX_YAML_DEPTH = 64
_NO_KEY = object()  # marks a mapping waiting for its next key

# What `zipfile` raises on a corrupt or truncated archive. ValueError: it seeks to a negative
# offset when a header field is corrupt.
ZIP_CORRUPT: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
)
# ... and on a well-formed one it cannot read: compression methods Python lacks (deflate64,
# ...) and encrypted entries.
ZIP_UNSUPPORTED: tuple[type[Exception], ...] = (NotImplementedError, RuntimeError)


def one_line(e: BaseException) -> str:
    """An exception's message on one line, at most 200 characters (its type if empty)."""
    return " ".join(str(e).split())[:200] or type(e).__name__


# ---- packages ------------------------------------------------------------------------------


class UniquePackages:
    """The packages found in one file, in order of first appearance and one per (name,
    version): a later entry with the same name and version is dropped, not merged."""

    __slots__ = ("cataloger", "found", "path", "type")

    def __init__(self, cataloger: str, type: PackageType, path: str) -> None:
        self.cataloger = cataloger
        self.type = type
        self.path = path
        self.found: dict[tuple[str, str], Package] = {}

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self.found

    def add(
        self,
        name: str,
        version: str,
        *,
        metadata: Iterable[tuple[str, str]] = (),
        licenses: tuple[str, ...] = (),
    ) -> None:
        if (name, version) in self.found:
            return
        self.found[(name, version)] = Package(
            name=name,
            version=version,
            type=self.type,
            cataloger=self.cataloger,
            locations=(Location(path=self.path),),
            licenses=licenses,
            metadata=tuple(metadata),
        )

    def packages(self) -> tuple[Package, ...]:
        return tuple(self.found.values())


# ---- problems ------------------------------------------------------------------------------


class Problems:
    """Problems met in one file, in the order met. The first `cap` are listed; the rest
    are only counted, and summarised as one more line: `"<count> <more>"`."""

    __slots__ = ("cap", "cataloger", "kept", "more", "total")

    def __init__(self, cataloger: str, cap: int, more: str = "more malformed entries") -> None:
        self.cataloger = cataloger
        self.cap = cap
        self.more = more
        self.kept: list[str] = []
        self.total = 0

    def append(self, reason: str) -> None:
        self.total += 1
        if len(self.kept) < self.cap:
            self.kept.append(reason)

    def unknowns(self, path: str) -> tuple[Unknown, ...]:
        return _unknowns(path, self.cataloger, self.kept, self.total - len(self.kept), self.more)


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int
    reason: str


class LineProblems:
    """Problems met in one text file, each naming its line, listed in line order: the
    first `cap` by line, then `"<count> more problems not listed"`."""

    __slots__ = ("cap", "cataloger", "kept", "total")

    def __init__(self, cataloger: str, cap: int) -> None:
        self.cataloger = cataloger
        self.cap = cap
        self.kept: list[LineProblem] = []
        self.total = 0

    def append(self, problem: LineProblem) -> None:
        self.total += 1
        # slack over the cap: a block's own problems are reported after its lines' problems
        if len(self.kept) < 2 * self.cap:
            self.kept.append(problem)

    def unknowns(self, path: str) -> tuple[Unknown, ...]:
        ordered = sorted(self.kept, key=lambda p: p.line)[: self.cap]  # stable sort
        reasons = [f"line {p.line}: {p.reason}" for p in ordered]
        return _unknowns(
            path, self.cataloger, reasons, self.total - len(ordered), "more problems not listed"
        )


def _unknowns(
    path: str, cataloger: str, reasons: list[str], extra: int, more: str
) -> tuple[Unknown, ...]:
    out = [Unknown(path=path, cataloger=cataloger, reason=r) for r in reasons]
    if extra:
        out.append(Unknown(path=path, cataloger=cataloger, reason=f"{extra} {more}"))
    return tuple(out)


# ---- text ----------------------------------------------------------------------------------


def decode_utf8(data: bytes) -> tuple[str, str | None]:
    """`data` as UTF-8 text, a leading byte-order mark dropped, or ("", why not)."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        return "", f"not UTF-8 at byte {e.start}"


def split_lines(text: str) -> Iterator[str]:
    """The lines of `text`, split on "\\n" only and one at a time (a package database may be
    hundreds of MiB; `str.splitlines` would also split on form feeds and the like)."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


# ---- documents -----------------------------------------------------------------------------


def load_json(data: bytes | str, encoding: str | None = None) -> tuple[Any, str | None]:
    """`data` parsed as JSON, or (None, why not).

    Bytes are decoded as `json.loads` does (UTF-8, -16 or -32, by their first bytes) unless
    `encoding` names the one codec to use. A syntax error is reported with its position;
    bad text, nesting past the interpreter's recursion limit and integers past Python's
    digit limit as `invalid JSON: <message>`.
    """
    try:
        if encoding is not None and isinstance(data, bytes):
            data = data.decode(encoding)
        return json.loads(data), None
    except json.JSONDecodeError as e:
        return None, f"line {e.lineno} column {e.colno}: invalid JSON: {e.msg}"
    except (ValueError, RecursionError) as e:  # bad text, nesting too deep, huge numbers
        return None, f"invalid JSON: {one_line(e)}"


def load_toml(text: str) -> tuple[dict[str, Any], str | None]:
    """`text` parsed as TOML, or ({}, why not): `invalid TOML: <message>`."""
    try:
        return tomllib.loads(text), None
    except ValueError as e:  # TOMLDecodeError, and integers past Python's digit limit
        return {}, f"invalid TOML: {one_line(e)}"
    except RecursionError:
        return {}, "invalid TOML: nested too deeply"


def yaml_documents(data: str | bytes) -> tuple[list[Any], str | None]:
    """Every YAML document in `data`, with all scalars as strings, or why it cannot be read.

    The documents are built from libyaml's event stream rather than by `yaml.load`: the
    Python constructor is several times slower on large lockfiles, and libyaml's own
    composer recurses in C, so a deeply nested document would crash the process. Here
    nesting is bounded (`MAX_YAML_DEPTH`) as the events arrive, and the work stops at the
    first excess.
    """
    docs: list[Any] = []
    stack: list[Any] = []  # open collections, innermost last
    keys: list[Any] = []  # per open mapping: its pending key, or _NO_KEY
    anchors: dict[str, Any] = {}

    def add(value: Any) -> str | None:
        if not stack:
            docs.append(value)
            return None
        top = stack[-1]
        if isinstance(top, list):
            top.append(value)
        elif keys[-1] is _NO_KEY:
            if isinstance(value, dict | list):
                return "invalid YAML: a collection used as a mapping key"
            keys[-1] = value
        else:
            top[keys[-1]] = value  # a repeated key overrides, as in PyYAML
            keys[-1] = _NO_KEY
        return None

    try:
        for event in yaml.parse(data, Loader=_YAML_LOADER):
            problem: str | None = None
            if isinstance(event, yaml.ScalarEvent):
                problem = add(event.value)
                if event.anchor:
                    anchors[event.anchor] = event.value
            elif isinstance(event, yaml.CollectionStartEvent):
                if len(stack) >= MAX_YAML_DEPTH:
                    return [], f"invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels"
                node: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
                problem = add(node)
                if event.anchor:
                    anchors[event.anchor] = node
                stack.append(node)
                keys.append(_NO_KEY)
            elif isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
                keys.pop()
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    return [], f"invalid YAML: undefined alias {str(event.anchor)[:40]!r}"
                # shared, not copied: an alias bomb costs nothing
                problem = add(anchors[event.anchor])
            if problem:
                return [], problem
    except yaml.YAMLError as e:
        if "maximum nesting depth" in str(e):  # PyYAML >= 6.0.3 refuses deep flow nesting
            return [], f"invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels"  # itself
        return [], f"invalid YAML: {one_line(e)}"
    return docs, None
