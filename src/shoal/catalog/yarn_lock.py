"""npm/yarn-lock: `yarn.lock` from yarn classic (v1) and yarn berry (v2+).

Yarn classic writes its own indented text format::

    "js-tokens@^3.0.0 || ^4.0.0", js-tokens@^4.0.0:
      version "4.0.0"
      resolved "https://registry.yarnpkg.com/js-tokens/-/js-tokens-4.0.0.tgz#..."

Yarn berry writes YAML with a `__metadata` entry; each entry has a `resolution`
(`name@protocol:reference`) that names the package actually installed, so aliases and
patches resolve to the real package. Entries under the `workspace:`, `link:`, `portal:` and
`file:` protocols are the project's own code and are skipped. A package that several
ranges resolve to is reported once; a patched package (`patch:` protocol, e.g. berry's
built-in compat patches) is reported as the package it patches, marked `patched=true`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import yaml

from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, Location, Package, PackageType, Unknown

NAME = "npm/yarn-lock"

_LOCAL_PROTOCOLS = ("workspace:", "link:", "portal:", "file:")
_MAX_UNKNOWNS = 20
# libyaml's parser when PyYAML has it. Documents are built from its events, whose scalars
# are the raw text: `version: 1.10` stays "1.10", never the float 1.1.
_YAML_LOADER: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_MAX_YAML_DEPTH = 64
_NO_KEY = object()  # marks a mapping waiting for its next key


class YarnLockCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.endswith("/yarn.lock")

    def catalog(self, f: LayerFile) -> CatalogResult:
        try:
            text = f.data.decode("utf-8-sig")  # tolerate a byte-order mark
        except UnicodeDecodeError as e:
            return CatalogResult.failed(f.path, NAME, f"not UTF-8 at byte {e.start}")
        return parse_yarn_lock(text, f.path)


class _Collector:
    """Packages de-duplicated by (name, version), in order of first appearance."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.found: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.problems: list[str] = []

    def add(self, name: str, version: str, meta: list[tuple[str, str]]) -> None:
        have = self.found.get((name, version))
        if have is None:
            self.found[(name, version)] = meta
        elif ("patched", "true") in meta and ("patched", "true") not in have:
            have.append(("patched", "true"))

    def result(self) -> CatalogResult:
        reasons = self.problems[:_MAX_UNKNOWNS]
        if len(self.problems) > _MAX_UNKNOWNS:
            reasons.append(f"{len(self.problems) - _MAX_UNKNOWNS} more malformed entries")
        pkgs = tuple(
            Package(
                name=name,
                version=version,
                type=PackageType.NPM,
                cataloger=NAME,
                locations=(Location(path=self.path),),
                metadata=tuple(meta),
            )
            for (name, version), meta in self.found.items()
        )
        return CatalogResult(
            packages=pkgs,
            unknowns=tuple(Unknown(path=self.path, cataloger=NAME, reason=r) for r in reasons),
        )


def parse_yarn_lock(text: str, path: str) -> CatalogResult:
    """Packages in a yarn.lock of either format (berry is recognised by `__metadata`)."""
    if _is_berry(text):
        return _parse_berry(text, path)
    return _parse_classic(text, path)


def _is_berry(text: str) -> bool:
    for line in text.splitlines():
        if line.startswith("__metadata:"):
            return True
        if line and not line.startswith("#") and not line[0].isspace():
            # classic entries come first in a classic file; berry puts __metadata first
            return line.startswith('"__metadata"')
    return False


# ---- yarn classic ---------------------------------------------------------------------


def _parse_classic(text: str, path: str) -> CatalogResult:
    out = _Collector(path)
    key: str | None = None
    key_line = 0
    fields: dict[str, str] = {}

    def finish() -> None:
        if key is not None:
            _classic_entry(key, key_line, fields, out)

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            finish()
            if not line.endswith(":"):
                out.problems.append(f"line {lineno}: expected an entry header ending in ':'")
                key = None
                continue
            key, key_line, fields = line[:-1], lineno, {}
        elif key is None:
            out.problems.append(f"line {lineno}: indented line outside an entry")
        elif indent == 2 and not line.endswith(":"):
            name, _, value = line.strip().partition(" ")
            fields[_unquote(name)] = _unquote(value.strip())
        # deeper lines (dependencies maps) are not needed
    finish()
    return out.result()


def _classic_entry(key: str, line: int, fields: dict[str, str], out: _Collector) -> None:
    patterns = [_unquote(p.strip()) for p in key.split(",") if p.strip()]
    if not patterns:
        out.problems.append(f"line {line}: entry with an empty header")
        return
    name, spec = _split_descriptor(patterns[0])
    if not _valid_name(name):
        out.problems.append(f"line {line}: cannot read a package name in {patterns[0][:100]!r}")
        return
    if spec.startswith(_LOCAL_PROTOCOLS):
        return
    if spec.startswith("npm:"):  # an alias: `my-ms@npm:ms@2.1.3` installs ms
        real, _ = _split_descriptor(spec[4:])
        name = real or name
    version = fields.get("version")
    if not version:
        out.problems.append(f"line {line}: entry {patterns[0][:100]!r} has no version")
        return
    meta = [(k, fields[k]) for k in ("resolved", "integrity") if fields.get(k)]
    out.add(name, version, meta)


def _unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        try:
            value = json.loads(s)  # yarn writes quoted strings with JSON escapes
        except ValueError:
            return s[1:-1]
        return value if isinstance(value, str) else s[1:-1]
    return s


# ---- yarn berry -----------------------------------------------------------------------


def _parse_berry(text: str, path: str) -> CatalogResult:
    docs, problem = _yaml_documents(text)
    if problem:
        return CatalogResult.failed(path, NAME, problem)
    if len(docs) != 1:
        return CatalogResult.failed(path, NAME, f"expected one YAML document, found {len(docs)}")
    doc = docs[0]
    if not isinstance(doc, dict):
        return CatalogResult.failed(path, NAME, "top level is not a mapping")
    out = _Collector(path)
    for key, entry in doc.items():
        if key == "__metadata":
            continue
        label = str(key)[:100]
        if not isinstance(entry, dict):
            out.problems.append(f"entry {label!r} is not a mapping")
            continue
        resolution = entry.get("resolution")
        version = entry.get("version")
        if not isinstance(resolution, str) or not resolution:
            out.problems.append(f"entry {label!r} has no resolution")
            continue
        if not isinstance(version, str) or not version:
            out.problems.append(f"entry {label!r} has no version")
            continue
        name, spec = _split_descriptor(resolution)
        meta = [("resolution", resolution)]
        if spec.startswith("patch:"):
            # patch:<name>@<url-encoded original>#<patch file>[::params]
            inner = unquote(spec[len("patch:") :].split("#", 1)[0])
            name, spec = _split_descriptor(inner)
            meta.append(("patched", "true"))
        if not _valid_name(name):
            out.problems.append(f"entry {label!r}: cannot read a package name in the resolution")
            continue
        if spec.startswith(_LOCAL_PROTOCOLS):
            continue
        checksum = entry.get("checksum")
        if isinstance(checksum, str) and checksum:
            meta.append(("checksum", checksum))
        out.add(name, version, meta)
    return out.result()


def _split_descriptor(descriptor: str) -> tuple[str, str]:
    """`@scope/name@range` -> (`@scope/name`, `range`); the first `@` of a scope is part
    of the name."""
    at = descriptor.find("@", 1)
    if at < 0:
        return descriptor, ""
    return descriptor[:at], descriptor[at + 1 :]


def _valid_name(name: str) -> bool:
    return bool(name) and name != "@" and not any(c.isspace() for c in name)


def _yaml_documents(data: str | bytes) -> tuple[list[Any], str | None]:
    """Every YAML document in `data`, with all scalars as strings, or why it cannot be read.

    The documents are built from libyaml's event stream rather than by `yaml.load`: the
    Python constructor is several times slower on large lockfiles, and libyaml's own
    composer recurses in C, so a deeply nested document would crash the process. Here
    nesting is bounded as the events arrive, and the work stops at the first excess.
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
                if len(stack) >= _MAX_YAML_DEPTH:
                    return [], f"invalid YAML: nested deeper than {_MAX_YAML_DEPTH} levels"
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
        return [], f"invalid YAML: {_one_line(e)}"
    return docs, None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


__all__ = ["YarnLockCataloger", "parse_yarn_lock"]
