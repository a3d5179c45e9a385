"""SBOM output formats: CycloneDX 1.6 JSON, SPDX 2.3 JSON and shoal's native JSON.

Formatters are listed explicitly in `ALL` (nothing registers itself on import) and
chosen by id with `get_formatter`.
"""

from __future__ import annotations

from shoal.errors import ExportError
from shoal.export.base import Formatter, SbomFormatError
from shoal.export.cyclonedx import CycloneDxJsonFormatter
from shoal.export.json import NativeJsonFormatter, from_native_json, to_native
from shoal.export.spdx import SpdxJsonFormatter

ALL: tuple[type[Formatter], ...] = (
    CycloneDxJsonFormatter,
    SpdxJsonFormatter,
    NativeJsonFormatter,
)


def get_formatter(id: str) -> Formatter:
    """A new formatter for `id` (``cyclonedx-json``, ``spdx-json``, ``json``).

    Raises `ExportError` naming the known ids when `id` is not one of them.
    """
    for cls in ALL:
        if cls.id == id:
            return cls()
    known = ", ".join(cls.id for cls in ALL)
    raise ExportError(f"unknown SBOM format {id!r}: expected one of {known}")


__all__ = [
    "ALL",
    "CycloneDxJsonFormatter",
    "Formatter",
    "NativeJsonFormatter",
    "SbomFormatError",
    "SpdxJsonFormatter",
    "from_native_json",
    "get_formatter",
    "to_native",
]
