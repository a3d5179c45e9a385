"""shoal's own JSON SBOM (schema ``https://shoal.dev/schema/sbom/1``), written and read.

The format is the model, one to one, so that an SBOM written here reads back into an
equal `Sbom` (`from_native_json`), e.g. for ``shoal scan --sbom``. The JSON Schema in
``shoal/data/schema/sbom-1.json`` documents every key. The document has no timestamp or
serial number: the same image always gives the same bytes.

Reading checks the document against that schema before building anything, so a
malformed document fails with one line naming the first bad place
(``packages[3].type: 'nuget' is not one of [...]``), never with a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from shoal.config import Limits
from shoal.export.base import (
    SbomFormatError,
    clean_sbom,
    dump_json,
    safe_purl,
    sorted_packages,
    sorted_unknowns,
)
from shoal.export.identity import package_ids

if TYPE_CHECKING:
    import jsonschema

from shoal.model import (
    Distro,
    ImageInfo,
    LayerInfo,
    Location,
    Package,
    PackageType,
    Platform,
    Sbom,
    Unknown,
)

SCHEMA_ID = "https://shoal.dev/schema/sbom/1"
SCHEMA_RESOURCE = "data/schema/sbom-1.json"


class NativeJsonFormatter:
    """shoal's native JSON SBOM."""

    id: ClassVar[str] = "json"
    media_type: ClassVar[str] = "application/vnd.shoal.sbom.v1+json"
    spec_version: ClassVar[str] = "1"

    def write(self, sbom: Sbom, out: BinaryIO) -> None:
        dump_json(to_native(sbom), out, what=self.id)


# --- writing ----------------------------------------------------------------------------


def to_native(sbom: Sbom) -> dict[str, Any]:
    """The SBOM as a JSON-ready dict in the native format."""
    sbom = clean_sbom(sbom)
    packages = sorted_packages(sbom.packages)
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": sbom.tool, "version": sbom.tool_version},
        "image": _image_out(sbom.image),
        "distro": _distro_out(sbom.distro),
        "packages": [
            _package_out(p, pid) for p, pid in zip(packages, package_ids(packages), strict=True)
        ],
        "unknowns": [
            {"path": u.path, "cataloger": u.cataloger, "reason": u.reason, "layer": u.layer}
            for u in sorted_unknowns(sbom.unknowns)
        ],
    }


def _image_out(image: ImageInfo) -> dict[str, Any]:
    p = image.platform
    return {
        "reference": image.reference,
        "manifestDigest": image.manifest_digest,
        "configDigest": image.config_digest,
        "indexDigest": image.index_digest,
        "platform": None
        if p is None
        else {
            "os": p.os,
            "architecture": p.architecture,
            "variant": p.variant,
            "osVersion": p.os_version,
        },
        "created": image.created,
        "tags": list(image.tags),
        "repoDigests": list(image.repo_digests),
        "layers": [
            {
                "digest": layer.digest,
                "diffID": layer.diff_id,
                "mediaType": layer.media_type,
                "size": layer.size,
                "createdBy": layer.created_by,
            }
            for layer in image.layers
        ],
    }


def _distro_out(d: Distro | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "id": d.id,
        "versionID": d.version_id,
        "versionCodename": d.version_codename,
        "name": d.name,
        "prettyName": d.pretty_name,
        "idLike": list(d.id_like),
    }


def _package_out(p: Package, pid: str) -> dict[str, Any]:
    return {
        "id": pid,
        "type": p.type.value,
        "name": p.name,
        "version": p.version,
        "purl": safe_purl(p),
        "cataloger": p.cataloger,
        "namespace": p.namespace,
        "arch": p.arch,
        "sourceName": p.source_name,
        "sourceVersion": p.source_version,
        "licenses": list(p.licenses),
        "locations": [{"path": loc.path, "layer": loc.layer} for loc in p.locations],
        "layer": p.layer,
        "layerCreatedBy": p.layer_created_by,
        "metadata": [{"key": k, "value": v} for k, v in p.metadata],
        "distro": _distro_out(p.distro),
    }


# --- reading ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def native_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the native format."""
    schema: dict[str, Any] = json.loads(files("shoal").joinpath(SCHEMA_RESOURCE).read_text("utf-8"))
    return schema


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    # imported here: jsonschema pulls in format checkers that take seconds to import,
    # and writing an SBOM never needs them
    import jsonschema

    return jsonschema.Draft202012Validator(native_schema())


def from_native_json(
    data: bytes | str | Mapping[str, Any],
    *,
    max_bytes: int | None = None,
    validate: bool = True,
) -> Sbom:
    """Read a native SBOM (raw JSON, or already-parsed JSON) back into an `Sbom`.

    Raises `SbomFormatError` with a one-line reason when the input is not JSON, is larger
    than `max_bytes` (default: the `metadata_bytes` limit), or does not match the schema.
    `validate=False` skips the JSON Schema check (most of the cost) for documents shoal
    wrote itself, such as the SBOMs the service stores: the values are trusted as written,
    but a document of another schema, or one missing a key the reader needs, still raises
    `SbomFormatError`.
    """
    if isinstance(data, bytes | str):
        limit = max_bytes if max_bytes is not None else Limits.model_validate({}).metadata_bytes
        if len(data) > limit:
            raise SbomFormatError(
                f"native SBOM: {len(data)} bytes is over the limit of {limit} (metadata_bytes)"
            )
        try:
            doc = json.loads(data)
        except json.JSONDecodeError as e:
            raise SbomFormatError(
                f"native SBOM: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
            ) from e
        except UnicodeDecodeError as e:
            raise SbomFormatError(f"native SBOM: not UTF-8 at byte {e.start}") from e
        except RecursionError as e:
            raise SbomFormatError("native SBOM: JSON nested too deeply") from e
    else:
        doc = data
    if validate:
        _check(doc)
        return _sbom_in(doc)
    if not isinstance(doc, Mapping) or doc.get("schema") != SCHEMA_ID:
        _check(doc)  # the precise one-line reason
    try:
        return _sbom_in(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SbomFormatError(
            f"native SBOM: does not match the schema ({type(e).__name__}: {str(e)[:120]})"
        ) from e


def _check(doc: Any) -> None:
    if not isinstance(doc, Mapping):
        raise SbomFormatError(f"native SBOM: expected a JSON object, got {type(doc).__name__}")
    schema = doc.get("schema")
    if schema != SCHEMA_ID:
        shown = repr(schema)[:120]
        raise SbomFormatError(f"native SBOM: schema is {shown}, this reader knows {SCHEMA_ID!r}")
    try:
        from jsonschema.exceptions import best_match

        error = best_match(_validator().iter_errors(doc))
    except RecursionError as e:
        raise SbomFormatError("native SBOM: JSON nested too deeply") from e
    if error is not None:
        where = _json_path(error.absolute_path)
        message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
        message = message.replace("\n", " ")
        raise SbomFormatError(f"native SBOM: {where}: {message}")


def _json_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _sbom_in(doc: Mapping[str, Any]) -> Sbom:
    # Only called on schema-valid documents, so every key and type is as documented.
    image = doc["image"]
    plat = image["platform"]
    return Sbom(
        image=ImageInfo(
            reference=image["reference"],
            manifest_digest=image["manifestDigest"],
            config_digest=image["configDigest"],
            index_digest=image["indexDigest"],
            platform=None
            if plat is None
            else Platform(
                os=plat["os"],
                architecture=plat["architecture"],
                variant=plat["variant"],
                os_version=plat["osVersion"],
            ),
            created=image["created"],
            tags=tuple(image["tags"]),
            repo_digests=tuple(image["repoDigests"]),
            layers=tuple(
                LayerInfo(
                    digest=layer["digest"],
                    diff_id=layer["diffID"],
                    media_type=layer["mediaType"],
                    size=int(layer["size"]),  # JSON Schema counts 1.0 as an integer
                    created_by=layer["createdBy"],
                )
                for layer in image["layers"]
            ),
        ),
        distro=_distro_in(doc["distro"]),
        packages=tuple(_package_in(p) for p in doc["packages"]),
        unknowns=tuple(
            Unknown(path=u["path"], cataloger=u["cataloger"], reason=u["reason"], layer=u["layer"])
            for u in doc["unknowns"]
        ),
        tool=doc["tool"]["name"],
        tool_version=doc["tool"]["version"],
    )


def _distro_in(d: Mapping[str, Any] | None) -> Distro | None:
    if d is None:
        return None
    return Distro(
        id=d["id"],
        version_id=d["versionID"],
        version_codename=d["versionCodename"],
        name=d["name"],
        pretty_name=d["prettyName"],
        id_like=tuple(d["idLike"]),
    )


def _package_in(p: Mapping[str, Any]) -> Package:
    return Package(
        name=p["name"],
        version=p["version"],
        type=PackageType(p["type"]),
        cataloger=p["cataloger"],
        locations=tuple(Location(path=loc["path"], layer=loc["layer"]) for loc in p["locations"]),
        licenses=tuple(p["licenses"]),
        arch=p["arch"],
        source_name=p["sourceName"],
        source_version=p["sourceVersion"],
        namespace=p["namespace"],
        metadata=tuple((m["key"], m["value"]) for m in p["metadata"]),
        layer=p["layer"],
        layer_created_by=p["layerCreatedBy"],
        distro=_distro_in(p["distro"]),
    )
