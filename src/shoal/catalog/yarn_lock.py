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
from urllib.parse import unquote

from shoal.catalog._support import Problems, decode_utf8, yaml_documents
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.model import CatalogResult, Location, Package, PackageType

NAME = "npm/yarn-lock"

_LOCAL_PROTOCOLS = ("workspace:", "link:", "portal:", "file:")
_MAX_UNKNOWNS = 20


class YarnLockCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.endswith("/yarn.lock")

    def catalog(self, f: LayerFile) -> CatalogResult:
        text, problem = decode_utf8(f.data)
        if problem:
            return CatalogResult.failed(f.path, NAME, problem)
        return parse_yarn_lock(text, f.path)


class _Collector:
    """Packages de-duplicated by (name, version), in order of first appearance."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.found: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.problems = Problems(NAME, _MAX_UNKNOWNS)

    def add(self, name: str, version: str, meta: list[tuple[str, str]]) -> None:
        have = self.found.get((name, version))
        if have is None:
            self.found[(name, version)] = meta
        elif ("patched", "true") in meta and ("patched", "true") not in have:
            have.append(("patched", "true"))

    def result(self) -> CatalogResult:
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
            unknowns=self.problems.unknowns(self.path),
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
    docs, problem = yaml_documents(text)
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


__all__ = ["YarnLockCataloger", "parse_yarn_lock"]
