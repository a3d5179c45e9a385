"""The formatter extension point, and what every formatter shares.

A formatter turns one `Sbom` into one document. It is pure apart from the clock and the
UUID source, both injectable: two runs over the same `Sbom` differ only in serial
number/namespace and timestamp. Packages are written in a stable order (type, name,
version, purl, then the remaining fields), so the order the engine found them in never
shows in the output.

Strings come from inside images and may hold anything Python can hold, including lone
surrogates from undecodable bytes, which no UTF-8 document can carry. `clean_sbom`
replaces those with U+FFFD once, up front, so every formatter (and the purls they
derive) sees text that encodes.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import Any, BinaryIO, ClassVar, Protocol, TypeVar

from shoal.errors import ExportError
from shoal.model import Package, Sbom, Unknown


class SbomFormatError(ExportError):
    """A document given to a reader (`from_native_json`) is not a valid SBOM."""


class Formatter(Protocol):
    """Writes an `Sbom` as one document format.

    `id` is the stable name users select it by (``cyclonedx-json``); `media_type` is what
    an HTTP API serves it as; `spec_version` the version of the format's specification.
    """

    id: ClassVar[str]
    media_type: ClassVar[str]
    spec_version: ClassVar[str]

    def write(self, sbom: Sbom, out: BinaryIO) -> None: ...


Clock = Callable[[], datetime]
UuidFactory = Callable[[], uuid.UUID]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_seconds(ts: datetime) -> str:
    """``2026-01-02T03:04:05Z``: SPDX insists on exactly this shape, and it suits all."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def dump_json(doc: Any, out: BinaryIO, *, what: str) -> None:
    """Write `doc` as indented UTF-8 JSON with a final newline.

    Output failures (a closed pipe, a full disk) are infrastructure failures and raise
    `ExportError` naming the format.
    """
    data = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    try:
        out.write(data)
    except (OSError, ValueError) as e:  # ValueError: write to a closed file
        raise ExportError(f"writing {what} SBOM: {e}") from e


# --- text hygiene ---------------------------------------------------------------------

_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(s: str) -> str:
    """`s` with lone surrogates replaced by U+FFFD; everything else is kept (JSON escapes
    control characters itself)."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", s)
    return s


_T = TypeVar("_T")


def _clean(value: _T) -> _T:
    if isinstance(value, Enum):  # PackageType is a str subclass: leave it alone
        return value
    if isinstance(value, str):
        return clean_text(value)  # type: ignore[return-value]
    if isinstance(value, tuple):
        items = tuple(_clean(v) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = _clean(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def clean_sbom(sbom: Sbom) -> Sbom:
    """`sbom` with every string made encodable; the same object when nothing needed it."""
    return _clean(sbom)


# --- ordering ---------------------------------------------------------------------------


def safe_purl(pkg: Package) -> str | None:
    """The package's purl, or None when the purl library refuses its fields (an empty
    name, say): one odd package must not stop the whole SBOM from being written."""
    try:
        return pkg.purl
    except (ValueError, TypeError, KeyError):
        return None


def _sort_key(pkg: Package) -> tuple[Any, ...]:
    # Every field takes part, so packages that tie on the leading fields still land in
    # one order whatever order the engine produced them in.
    return (
        pkg.type.value,
        pkg.name,
        pkg.version,
        safe_purl(pkg) or "",
        pkg.namespace or "",
        pkg.arch or "",
        pkg.cataloger,
        tuple((loc.path, loc.layer or "") for loc in pkg.locations),
        pkg.licenses,
        pkg.source_name or "",
        pkg.source_version or "",
        pkg.metadata,
        pkg.layer or "",
        pkg.layer_created_by or "",
    )


def sorted_packages(packages: Iterable[Package]) -> list[Package]:
    """Packages in output order: type, name, version, purl, then every other field."""
    return sorted(packages, key=_sort_key)


def sorted_unknowns(unknowns: Iterable[Unknown]) -> list[Unknown]:
    """Unknowns in output order: path, cataloger, reason, layer."""
    return sorted(unknowns, key=lambda u: (u.path, u.cataloger, u.reason, u.layer or ""))
