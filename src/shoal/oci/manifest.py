"""Parse OCI image indexes/manifests, Docker manifest lists/schema 2 manifests and image configs.

Pure functions: bytes in, frozen `shoal.oci.types` values out. Everything the registry or a file
on disk hands us is untrusted, so documents are size- and depth-bounded before `json.loads`,
every digest and size is validated, and anything that is not a container image (Helm charts,
signatures, SBOM artifacts, Docker schema 1) is refused with a one-line `UnsupportedManifest`
that names the document (`where`) and what is wrong with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from shoal.config import Limits
from shoal.errors import LimitExceeded, UnsupportedManifest
from shoal.model import Platform
from shoal.model.digest import InvalidDigest, parse_digest
from shoal.oci.types import (
    DOCKER_CONFIG,
    DOCKER_LAYER_FOREIGN,
    DOCKER_LAYER_GZIP,
    DOCKER_SCHEMA1,
    DOCKER_SCHEMA1_SIGNED,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ND,
    OCI_LAYER_ND_GZIP,
    OCI_LAYER_ND_ZSTD,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
)

# Not (yet) in shoal.oci.types: the uncompressed and zstd Docker layer types that
# containers/image and containerd write (skopeo uses the first for `docker-archive:` layers).
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"

LAYER_TYPES = frozenset(
    {
        OCI_LAYER,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        OCI_LAYER_ND,
        OCI_LAYER_ND_GZIP,
        OCI_LAYER_ND_ZSTD,
        DOCKER_LAYER,
        DOCKER_LAYER_GZIP,
        DOCKER_LAYER_ZSTD,
        DOCKER_LAYER_FOREIGN,
    }
)
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})

# Registries answer with these when they do not know better; they say nothing about the shape.
_GENERIC_TYPES = frozenset({"", "application/json", "application/octet-stream", "text/plain"})
# Real documents nest at most ~6 deep (index -> manifests -> descriptor -> annotations);
# configs a little deeper (config.Healthcheck.Test). 64 leaves ample room and still stops a
# hostile `[[[[...` long before the JSON decoder's recursion does.
MAX_DEPTH = 64
_TOKEN_RE = re.compile(rb'"(?:[^"\\]|\\.)*"|[^"]+|"', re.DOTALL)
_MAX_TEXT = 80
# model_validate rather than Limits(): mypy without the pydantic plugin sees no defaults.
DEFAULT_MAX_BYTES = Limits.model_validate({}).manifest_bytes


def parse_manifest(
    data: bytes,
    digest: str,
    media_type: str | None,
    *,
    where: str,
    max_bytes: int | None = None,
) -> Index | Manifest:
    """Parse an image index/manifest list or an image manifest.

    `digest` is the content digest the caller resolved or verified; `media_type` is the
    Content-Type the registry sent (None or a generic type when unknown). The document's own
    `mediaType` wins, then a specific Content-Type, then the shape (OCI allows an absent
    `mediaType`). Raises `UnsupportedManifest` (one line, starting with `where`) for schema 1,
    artifacts and malformed documents, and `LimitExceeded` when `data` exceeds `max_bytes`
    (default `Limits().manifest_bytes`).
    """
    _check_digest(digest, where, "manifest digest")
    doc = _load_object(data, where, max_bytes)
    header = _strip_params(media_type)
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        _fail(where, f"'mediaType' must be a string, got {_kind(declared)}")
    schema = doc.get("schemaVersion")
    if isinstance(schema, bool):
        _fail(where, f"unsupported schemaVersion {schema!r}: expected 2")
    if schema == 1 or header in SCHEMA1_TYPES or declared in SCHEMA1_TYPES:
        _fail(
            where,
            "Docker schema 1 manifests are unsupported; re-push the image with a current client",
        )
    if schema != 2:
        _fail(where, f"unsupported schemaVersion {_short(schema)}: expected 2")

    kind = _media_type(doc, declared, header, where)
    if kind in INDEX_TYPES:
        if "layers" in doc or "config" in doc:
            # CVE-2021-41190: a document that is both an index and a manifest is ambiguous.
            _fail(where, f"{kind} must not contain 'config' or 'layers'")
        return Index(digest=digest, media_type=kind, manifests=_index_entries(doc, where))
    if "manifests" in doc:
        _fail(where, f"{kind} must not contain 'manifests'")
    return _manifest(doc, data, digest, kind, where)


def parse_config(
    data: bytes, digest: str, *, where: str, max_bytes: int | None = None
) -> ImageConfig:
    """Parse an OCI/Docker image config: platform, `rootfs.diff_ids`, history and `created`.

    Raises `UnsupportedManifest` for malformed configs and `LimitExceeded` past `max_bytes`.
    """
    _check_digest(digest, where, "config digest")
    doc = _load_object(data, where, max_bytes)
    platform = _config_platform(doc, where)

    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict):
        _fail(where, f"'rootfs' must be an object, got {_kind(rootfs)}")
    if rootfs.get("type") != "layers":
        _fail(where, f"unsupported rootfs.type {_short(rootfs.get('type'))}: expected 'layers'")
    raw_ids = rootfs.get("diff_ids")
    if raw_ids is None:  # absent, or null as Go writes an empty image-spec slice
        raw_ids = []
    if not isinstance(raw_ids, list):
        _fail(where, f"'rootfs.diff_ids' must be an array, got {_kind(raw_ids)}")
    diff_ids = tuple(
        _digest_field(d, where, f"rootfs.diff_ids[{i}]") for i, d in enumerate(raw_ids)
    )

    raw_history = doc.get("history", [])
    if raw_history is None:  # Go's encoding/json writes null for a nil slice
        raw_history = []
    if not isinstance(raw_history, list):
        _fail(where, f"'history' must be an array, got {_kind(raw_history)}")
    history = tuple(_history_entry(h, where, i) for i, h in enumerate(raw_history))

    created = doc.get("created")
    if created is not None and not isinstance(created, str):
        _fail(where, f"'created' must be a string, got {_kind(created)}")
    return ImageConfig(
        digest=digest,
        platform=platform,
        diff_ids=diff_ids,
        history=history,
        created=created or None,
        raw=data,
    )


def parse_descriptor(obj: object, where: str, field: str) -> Descriptor:
    """One content descriptor (`mediaType`, `digest`, `size`, optional `platform`,
    `annotations`, `urls`); `field` names it in errors (``manifests[2]``)."""
    if not isinstance(obj, dict):
        _fail(where, f"{field} must be an object, got {_kind(obj)}")
    media = obj.get("mediaType")
    if not isinstance(media, str) or not media:
        _fail(where, f"{field}.mediaType must be a non-empty string, got {_kind(media)}")
    digest = _digest_field(obj.get("digest"), where, f"{field}.digest")
    size = obj.get("size")
    if isinstance(size, bool) or not isinstance(size, int):
        _fail(where, f"{field}.size must be an integer, got {_kind(size)}")
    if size < 0:
        _fail(where, f"{field}.size must not be negative, got {size}")
    platform = None
    if obj.get("platform") is not None:
        platform = _descriptor_platform(obj["platform"], where, f"{field}.platform")
    annotations = _annotations(obj.get("annotations"), where, f"{field}.annotations")
    urls = obj.get("urls")
    if urls is None:
        urls = []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        _fail(where, f"{field}.urls must be an array of strings")
    return Descriptor(
        media_type=media,
        digest=digest,
        size=size,
        platform=platform,
        annotations=annotations,
        urls=tuple(urls),
    )


def load_json_object(data: bytes, where: str, max_bytes: int | None = None) -> dict[str, Any]:
    """Decode a bounded, depth-checked JSON object (also used for `index.json` and
    `manifest.json` on disk). Raises `UnsupportedManifest`/`LimitExceeded`."""
    return _load_object(data, where, max_bytes)


def load_json(data: bytes, where: str, max_bytes: int | None = None) -> object:
    """Like `load_json_object` but any JSON value (Docker's `manifest.json` is an array)."""
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if len(data) > limit:
        raise LimitExceeded(
            f"{where}: {len(data)} bytes exceeds the limit of {limit} bytes",
            limit="limits.manifest_bytes",
        )
    depth = _nesting_depth(data)
    if depth > MAX_DEPTH:
        _fail(where, f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        text = data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except UnicodeDecodeError as e:
        _fail(where, f"not UTF-8 at byte {e.start}")
    except _DuplicateKey as e:
        _fail(where, f"duplicate JSON key {_short(e.key)}")
    except (json.JSONDecodeError, ValueError, RecursionError) as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        pos = f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        _fail(where, f"malformed JSON{pos}: {msg}")


# -- internals -------------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Go decoders keep the last duplicate, Python the last too, other tools the first: a
    # document with duplicate keys can mean different things to different readers.
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"non-standard constant {name}")


def _nesting_depth(data: bytes) -> int:
    """Deepest `[`/`{` nesting outside string literals: one left-to-right pass, no recursion.

    Stops at the first unterminated string (the JSON is invalid; `json.loads` reports where),
    which also keeps the scan linear on inputs like ``"\\"\\"\\"...``.
    """
    depth = deepest = 0
    for m in _TOKEN_RE.finditer(data):
        token = m.group()
        if token[0] == 0x22:  # a string literal, or a lone quote that opens no valid one
            if len(token) == 1:
                break
            continue
        for c in token.translate(None, delete=_NON_BRACKETS):
            if c in (0x5B, 0x7B):  # [ {
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if deepest > MAX_DEPTH:
                        return deepest
            else:
                depth -= 1
    return deepest


_NON_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _load_object(data: bytes, where: str, max_bytes: int | None) -> dict[str, Any]:
    doc = load_json(data, where, max_bytes)
    if not isinstance(doc, dict):
        _fail(where, f"expected a JSON object, got {_kind(doc)}")
    return doc


def _media_type(doc: Mapping[str, Any], declared: str | None, header: str, where: str) -> str:
    if declared:
        if declared not in INDEX_TYPES and declared not in MANIFEST_TYPES:
            _fail(where, f"unsupported media type {_short(declared)}: not a container image")
        if header not in _GENERIC_TYPES and header != declared:
            _fail(where, f"Content-Type {_short(header)} disagrees with mediaType {declared!r}")
        return declared
    if header not in _GENERIC_TYPES:
        if header not in INDEX_TYPES and header not in MANIFEST_TYPES:
            _fail(where, f"unsupported media type {_short(header)}: not a container image")
        return header
    has_index = "manifests" in doc
    has_manifest = "config" in doc or "layers" in doc
    if has_index and has_manifest:
        _fail(where, "document has both 'manifests' and 'config'/'layers'; refusing to guess")
    if has_index:
        return OCI_INDEX
    if "config" in doc and "layers" in doc:
        return OCI_MANIFEST
    _fail(where, "no mediaType and neither 'manifests' nor 'config'+'layers': not an image")


def _index_entries(doc: Mapping[str, Any], where: str) -> tuple[Descriptor, ...]:
    entries = doc.get("manifests")
    if not isinstance(entries, list):
        _fail(where, f"'manifests' must be an array, got {_kind(entries)}")
    return tuple(parse_descriptor(m, where, f"manifests[{i}]") for i, m in enumerate(entries))


def _manifest(doc: Mapping[str, Any], data: bytes, digest: str, kind: str, where: str) -> Manifest:
    artifact = doc.get("artifactType")
    if artifact is not None:
        _fail(where, f"artifact {_short(artifact)} is not a container image")
    if "config" not in doc:
        _fail(where, "manifest has no 'config'")
    config = parse_descriptor(doc["config"], where, "config")
    if config.media_type not in CONFIG_TYPES:
        # Helm charts, cosign/notation signatures, SBOM and WASM artifacts all look like this.
        _fail(where, f"config media type {config.media_type!r} is not a container image config")
    layers_raw = doc.get("layers")
    if not isinstance(layers_raw, list):
        _fail(where, f"'layers' must be an array, got {_kind(layers_raw)}")
    layers = tuple(parse_descriptor(x, where, f"layers[{i}]") for i, x in enumerate(layers_raw))
    for i, layer in enumerate(layers):
        if layer.media_type not in LAYER_TYPES:
            _fail(where, f"layers[{i}] has unsupported media type {layer.media_type!r}")
    return Manifest(digest=digest, media_type=kind, config=config, layers=layers, raw=data)


def _descriptor_platform(obj: object, where: str, field: str) -> Platform:
    if not isinstance(obj, dict):
        _fail(where, f"{field} must be an object, got {_kind(obj)}")
    os_ = obj.get("os")
    arch = obj.get("architecture")
    if not isinstance(os_, str) or not isinstance(arch, str):
        _fail(where, f"{field} needs string 'os' and 'architecture'")
    variant = _optional_str(obj, "variant", where, field)
    os_version = _optional_str(obj, "os.version", where, field)
    return Platform(os=os_, architecture=arch, variant=variant, os_version=os_version)


def _config_platform(doc: Mapping[str, Any], where: str) -> Platform | None:
    os_ = doc.get("os")
    arch = doc.get("architecture")
    if os_ is None and arch is None:
        return None
    if not isinstance(os_, str) or not isinstance(arch, str) or not os_ or not arch:
        _fail(where, "config needs non-empty string 'os' and 'architecture'")
    variant = _optional_str(doc, "variant", where, "config")
    os_version = _optional_str(doc, "os.version", where, "config")
    return Platform(os=os_, architecture=arch, variant=variant, os_version=os_version)


def _history_entry(obj: object, where: str, i: int) -> dict[str, Any]:
    if not isinstance(obj, dict):
        _fail(where, f"history[{i}] must be an object, got {_kind(obj)}")
    for key in ("created", "created_by", "author", "comment"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            _fail(where, f"history[{i}].{key} must be a string, got {_kind(obj[key])}")
    empty = obj.get("empty_layer")
    if empty is not None and not isinstance(empty, bool):
        _fail(where, f"history[{i}].empty_layer must be a boolean, got {_kind(empty)}")
    return dict(obj)


def _annotations(obj: object, where: str, field: str) -> tuple[tuple[str, str], ...]:
    if obj is None:
        return ()
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        _fail(where, f"{field} must map strings to strings")
    return tuple(sorted(obj.items()))


def _optional_str(obj: Mapping[str, Any], key: str, where: str, field: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        _fail(where, f"{field}.{key} must be a string, got {_kind(value)}")
    return value


def _digest_field(value: object, where: str, field: str) -> str:
    if not isinstance(value, str):
        _fail(where, f"{field} must be a digest string, got {_kind(value)}")
    _check_digest(value, where, field)
    return value


def _check_digest(value: str, where: str, field: str) -> None:
    try:
        parse_digest(value)
    except InvalidDigest as e:
        raise UnsupportedManifest(f"{where}: {field}: {e}") from None


def _strip_params(media_type: str | None) -> str:
    return (media_type or "").split(";", 1)[0].strip().lower()


def _kind(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}
    if isinstance(value, dict):
        return "object"
    return names.get(type(value), type(value).__name__)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _fail(where: str, message: str) -> NoReturn:
    raise UnsupportedManifest(f"{where}: {message}")
