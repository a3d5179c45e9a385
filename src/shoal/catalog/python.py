"""python/installed: installed Python distributions.

Reads the core metadata (https://packaging.python.org/specifications/core-metadata/) that
installers leave behind: `<name>.dist-info/METADATA` (wheels, pip), `<name>.egg-info/PKG-INFO`
and the single-file `<name>.egg-info` form (setuptools, distro packages), and eggs: unzipped
(`<name>.egg/EGG-INFO/PKG-INFO`) or zipped `.egg` files, whose `EGG-INFO/PKG-INFO` member is
read with a bound on its decompressed size.

The metadata is an RFC 822-style header block: `Key: value` lines, continuation lines that
start with white space, and a body (the long description) after the first empty line.
"""

from __future__ import annotations

import io
import struct
import zipfile

from shoal.catalog._support import ZIP_CORRUPT, ZIP_UNSUPPORTED, one_line
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.config import Limits
from shoal.model import CatalogResult, Location, Package, PackageType

NAME = "python/installed"

# A PKG-INFO is a few KiB; the configured per-record bound keeps a hostile egg (a zip bomb
# posing as PKG-INFO) from being inflated into memory.
# A real egg's zip directory is a few KiB to a few MiB; 0xFFFFFFFF (zip64) is over too.
_MAX_CENTRAL_DIRECTORY = 16 * 1024 * 1024
_MAX_PKG_INFO = int(Limits.model_fields["metadata_bytes"].default)

# Trove classifiers that name exactly one SPDX licence. Others ("BSD License", "Apache
# Software License") do not say which version or variant, so their text is kept as written.
_CLASSIFIER_SPDX = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "Zope Public License": "ZPL-2.1",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
}

# A `License:` value this long, or spread over several lines, is the licence text pasted
# into the field rather than a name; the classifiers then say more.
_MAX_LICENSE_NAME = 200

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class PythonCataloger(Cataloger):
    name = NAME
    version = 1

    def wants(self, entry: FileEntry) -> bool:
        p = entry.path
        return (
            p.endswith(".dist-info/METADATA")
            or p.endswith(".egg-info/PKG-INFO")
            or p.endswith(".egg/EGG-INFO/PKG-INFO")  # an egg unzipped into a directory
            or p.endswith(".egg-info")
            or p.endswith(".egg")
        )

    def catalog(self, f: LayerFile) -> CatalogResult:
        if f.path.endswith(".egg"):
            return parse_egg(f.data, f.path)
        if f.path.endswith("/METADATA"):
            kind = "dist-info"
        elif f.path.endswith("/EGG-INFO/PKG-INFO"):
            kind = "egg"
        else:
            kind = "egg-info"
        return parse_python_metadata(_decode(f.data), f.path, kind=kind)


def parse_egg(data: bytes, path: str) -> CatalogResult:
    """The package described by a zipped egg's `EGG-INFO/PKG-INFO`."""
    cd_size = _central_directory_size(data)
    if cd_size is not None and cd_size > _MAX_CENTRAL_DIRECTORY:
        # zipfile would build an object per entry first: refuse before it does
        return CatalogResult.failed(
            path, NAME, f"egg zip directory of {cd_size} bytes is over the limit"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            try:
                info = zf.getinfo("EGG-INFO/PKG-INFO")
            except KeyError:
                return CatalogResult.failed(path, NAME, "egg has no EGG-INFO/PKG-INFO member")
            if info.file_size > _MAX_PKG_INFO:
                return CatalogResult.failed(
                    path, NAME, f"EGG-INFO/PKG-INFO declares {info.file_size} bytes, over the limit"
                )
            with zf.open(info) as member:
                # read one byte past the bound: the header's size may lie
                raw = member.read(_MAX_PKG_INFO + 1)
    except ZIP_CORRUPT as e:
        return CatalogResult.failed(path, NAME, f"unreadable egg zip: {one_line(e)}")
    except ZIP_UNSUPPORTED as e:  # unsupported compression, encryption
        return CatalogResult.failed(path, NAME, f"unsupported egg zip: {one_line(e)}")
    if len(raw) > _MAX_PKG_INFO:
        return CatalogResult.failed(path, NAME, "EGG-INFO/PKG-INFO inflates past the size limit")
    return parse_python_metadata(_decode(raw), path, kind="egg")


def _central_directory_size(data: bytes) -> int | None:
    """Size of the zip's central directory from its end record; None if there is no end
    record (zipfile then reports the archive as unreadable)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    (size,) = struct.unpack_from("<I", data, end + 12)
    return int(size)


def parse_python_metadata(text: str, path: str, kind: str = "dist-info") -> CatalogResult:
    """One package from a core-metadata header block (METADATA / PKG-INFO)."""
    headers, problem = _parse_headers(text)
    if problem:
        return CatalogResult.failed(path, NAME, problem)

    name = _first(headers, "name")
    version = _first(headers, "version")
    if not name:
        return CatalogResult.failed(path, NAME, "missing 'Name' header")
    if not version:
        return CatalogResult.failed(path, NAME, f"missing 'Version' header for {name[:100]!r}")
    if not _valid_name(name):
        return CatalogResult.failed(path, NAME, f"invalid project name {name[:100]!r}")
    if any(c.isspace() for c in version):
        return CatalogResult.failed(path, NAME, f"invalid version {version[:100]!r} of {name!r}")

    meta: list[tuple[str, str]] = [("kind", kind)]
    mv = _first(headers, "metadata-version")
    if mv:
        meta.append(("metadata-version", mv))
    pkg = Package(
        name=name,
        version=version,
        type=PackageType.PYTHON,
        cataloger=NAME,
        locations=(Location(path=path),),
        licenses=_licenses(headers),
        metadata=tuple(meta),
    )
    return CatalogResult(packages=(pkg,))


def _parse_headers(text: str) -> tuple[dict[str, list[str]], str | None]:
    """Header fields (lower-cased keys, values in order) up to the first empty line."""
    headers: dict[str, list[str]] = {}
    last: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            break  # the body (long description) starts here
        if line[0] in " \t":
            if last is None:
                return {}, f"line {lineno}: continuation line before any header"
            values = headers[last]
            values[-1] = values[-1] + "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or key != key.strip() or " " in key:
            # email parsers end the header block at such a line; say so if nothing useful
            # was read before it rather than report an empty package
            if "name" not in headers or "version" not in headers:
                return {}, f"line {lineno}: not a 'Key: value' header: {line[:60]!r}"
            break
        last = key.lower()
        headers.setdefault(last, []).append(value.strip())
    return headers, None


def _licenses(headers: dict[str, list[str]]) -> tuple[str, ...]:
    # PEP 639: License-Expression is an SPDX expression and supersedes everything else.
    expr = _first(headers, "license-expression")
    if expr:
        return (expr,)
    lic = _first(headers, "license")
    if lic and "\n" not in lic and len(lic) <= _MAX_LICENSE_NAME and lic.upper() != "UNKNOWN":
        return (lic,)
    found: list[str] = []
    for c in headers.get("classifier", []):
        parts = [p.strip() for p in c.split("::")]
        if len(parts) < 2 or parts[0] != "License":
            continue
        last = parts[-1]
        if last == "OSI Approved":  # the category itself names no licence
            continue
        value = _CLASSIFIER_SPDX.get(last, last)
        if value not in found:
            found.append(value)
    return tuple(found)


def _first(headers: dict[str, list[str]], key: str) -> str | None:
    values = headers.get(key)
    return values[0] if values else None


def _valid_name(name: str) -> bool:
    # PEP 508: letters, digits, '.', '_', '-', starting and ending with a letter or digit
    return all(c in _NAME_CHARS for c in name) and name[0].isalnum() and name[-1].isalnum()


def _decode(data: bytes) -> str:
    # Core metadata is UTF-8; metadata written by old setuptools may be Latin-1, which
    # decodes any byte string and keeps the ASCII Name/Version intact.
    try:
        return data.decode("utf-8-sig")  # tolerate a byte-order mark
    except UnicodeDecodeError:
        return data.decode("latin-1")


__all__ = ["PythonCataloger", "parse_egg", "parse_python_metadata"]
