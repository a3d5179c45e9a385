"""An `ImageSource` over a `docker save` archive (or the same files extracted to a directory).

`manifest.json` lists the images: `Config` (the image config file), `RepoTags` and `Layers`
(one file per layer, in order). Three layouts are seen in the wild and all are handled the
same way, through the names `manifest.json` gives:
- Docker before 25: `<v1-id>/layer.tar` and `<config-hex>.json`;
- skopeo/containers-image: `<diff-id-hex>.tar`, with `<v1-id>/layer.tar` symlinks to it;
- Docker 25+: an OCI layout, `blobs/sha256/<hex>` (compressed when the containerd image
  store wrote it).

A Docker 25+ archive is also an OCI layout holding the image's real manifest, which is used
when it matches the config and its layers are all there. Otherwise there is no manifest, so
one is built, a Docker schema 2 manifest whose layers are the archive's files, so the engine
sees the same shape as for a registry image.
An uncompressed layer's digest is its diff_id (checked when it is fetched); a compressed
layer (found by its magic bytes, not its name) gets the digest its name states or, failing
that, the one its content hashes to. A built manifest's digest is therefore shoal's own,
not the registry's.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoal.config import Limits, Settings
from shoal.errors import DigestMismatch, ShoalError, SourceError, UnsupportedManifest
from shoal.image.source import ResolvedImage
from shoal.image.sources.files import (
    GZIP_MAGIC,
    ZSTD_MAGIC,
    DirTree,
    FileTree,
    clean_name,
    copy_verified,
    hash_stream,
    open_tar,
)
from shoal.image.sources.layout import OciLayoutSource
from shoal.model.digest import sha256_digest
from shoal.oci.manifest import (
    DOCKER_LAYER,
    DOCKER_LAYER_ZSTD,
    load_json,
    parse_config,
    parse_descriptor,
    parse_manifest,
)
from shoal.oci.platform import check_single_platform
from shoal.oci.types import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    Descriptor,
    ImageConfig,
    Manifest,
)

log = logging.getLogger(__name__)

# A file named after its own content: "blobs/sha256/<hex>", "<hex>.json", "<hex>.tar".
_CONTENT_NAME = re.compile(r"^(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json|\.tar)?$")


@dataclass(frozen=True, slots=True)
class ArchiveImage:
    """One entry of `manifest.json`."""

    config: str
    repo_tags: tuple[str, ...]
    layers: tuple[str, ...]
    layer_sources: dict[str, Any]


class DockerArchiveSource:
    """Images from a `docker save` archive (a tar, or a directory it was extracted to).
    `tag` is a RepoTag (``app:1``, ``docker.io/library/app:1``) or ``@N``, the N-th image."""

    kind = "docker-archive"

    def __init__(
        self, path: Path, tag: str | None, settings: Settings, *, tree: FileTree | None = None
    ) -> None:
        self._settings = settings
        self._limits: Limits = settings.limits
        if tree is None:
            tree = DirTree(path) if path.is_dir() else open_tar(path, settings)
        self._tree = tree
        self.tag = tag
        where = path.absolute()
        self.reference = f"{self.kind}:{where}:{tag}" if tag else f"{self.kind}:{where}"
        self.repo_tags: tuple[str, ...] = ()
        self._files: dict[str, str] = {}  # digest -> archive file holding that blob

    def __repr__(self) -> str:
        return f"DockerArchiveSource({self.reference!r})"

    def resolve(self, platform: str | None) -> list[ResolvedImage]:
        image = self._select(self._images())
        self.repo_tags = image.repo_tags
        config = self._config(image.config)
        layers = self._layers(image, config)
        self._files[config.digest] = image.config
        real = self._oci_manifest(config, layers)
        manifest, index_digest = real if real else (self._manifest(config, layers), None)
        check_single_platform(config.platform, platform, self.reference)
        return [
            ResolvedImage(
                reference=self.reference,
                manifest=manifest,
                config=config,
                index_digest=index_digest,
            )
        ]

    def fetch_blob(self, desc: Descriptor, dest: Path) -> None:
        name = self._files.get(desc.digest)
        if name is None:
            if desc.urls:
                raise SourceError(
                    f"{self._tree.label}: foreign layer {desc.digest} is not in the archive"
                )
            raise SourceError(f"{self._tree.label}: no blob {desc.digest} in this archive")
        with self._tree.open(name) as src:
            copy_verified(src, dest, desc.digest, desc.size, f"{self._tree.label}:{name}")

    def close(self) -> None:
        self._tree.close()

    # -- manifest.json ---------------------------------------------------------------------

    def _images(self) -> list[ArchiveImage]:
        where = f"{self._tree.label}: manifest.json"
        if not self._tree.exists("manifest.json"):
            raise SourceError(f"{where}: missing, so this is not a docker save archive")
        size = self._tree.size("manifest.json")
        if size > self._limits.manifest_bytes:
            raise SourceError(
                f"{where}: {size} bytes, over the limit of {self._limits.manifest_bytes}"
            )
        data = self._tree.read("manifest.json", self._limits.manifest_bytes)
        try:
            doc = load_json(data, where, self._limits.manifest_bytes)
        except UnsupportedManifest as e:
            raise SourceError(str(e)) from e
        if not isinstance(doc, list):
            raise SourceError(f"{where}: expected an array of images")
        return [_archive_image(entry, where, i) for i, entry in enumerate(doc)]

    def _select(self, images: list[ArchiveImage]) -> ArchiveImage:
        where = f"{self._tree.label}: manifest.json"
        if not images:
            raise SourceError(f"{where}: holds no images")
        if self.tag is None:
            if len(images) > 1:
                raise SourceError(
                    f"{where}: holds {len(images)} images, pick one with :TAG or :@N; "
                    f"{_tags(images)}"
                )
            return images[0]
        if self.tag.startswith("@") and self.tag[1:].isdigit():
            n = int(self.tag[1:])
            if n >= len(images):
                raise SourceError(f"{where}: no image @{n}; it holds {len(images)}")
            return images[n]
        want = normalize_tag(self.tag)
        for img in images:
            if any(normalize_tag(t) == want for t in img.repo_tags):
                return img
        raise SourceError(f"{where}: no image tagged {self.tag!r}; {_tags(images)}")

    # -- config and layers -----------------------------------------------------------------

    def _config(self, name: str) -> ImageConfig:
        where = f"{self._tree.label}:{name}"
        if not self._tree.exists(name):
            raise SourceError(f"{where}: config missing from archive")
        size = self._tree.size(name)
        if size > self._limits.manifest_bytes:
            raise SourceError(
                f"{where}: {size} bytes, over the limit of {self._limits.manifest_bytes}"
            )
        data = self._tree.read(name, self._limits.manifest_bytes)
        digest = sha256_digest(data)
        _check_named_digest(name, digest, where)
        return parse_config(data, digest, where=where, max_bytes=self._limits.manifest_bytes)

    def _layers(self, image: ArchiveImage, config: ImageConfig) -> list[Descriptor]:
        if len(image.layers) != len(config.diff_ids):
            raise SourceError(
                f"{self._tree.label}: manifest.json lists {len(image.layers)} layers but config "
                f"{config.digest} has {len(config.diff_ids)} diff_ids"
            )
        out = []
        for name, diff_id in zip(image.layers, config.diff_ids, strict=True):
            foreign = image.layer_sources.get(diff_id)
            if foreign is not None and not self._tree.exists(name):
                where = f"{self._tree.label}: manifest.json LayerSources"
                try:
                    out.append(parse_descriptor(foreign, where, diff_id))
                except UnsupportedManifest as e:
                    raise SourceError(str(e)) from e
                continue
            out.append(self._layer(name, diff_id))
        return out

    def _layer(self, name: str, diff_id: str) -> Descriptor:
        where = f"{self._tree.label}:{name}"
        if not self._tree.exists(name):
            raise SourceError(f"{where}: layer missing from archive")
        size = self._tree.size(name)
        with self._tree.open(name) as f:
            magic = f.read(4)
        if magic.startswith(GZIP_MAGIC):
            media = DOCKER_LAYER_GZIP
        elif magic == ZSTD_MAGIC:
            media = DOCKER_LAYER_ZSTD
        else:
            # An uncompressed layer *is* its diff; fetch_blob verifies that it hashes to it.
            self._files[diff_id] = name
            return Descriptor(media_type=DOCKER_LAYER, digest=diff_id, size=size)
        m = _CONTENT_NAME.match(name)
        if m:
            digest = f"sha256:{m.group(1)}"
        else:
            with self._tree.open(name) as f:
                digest, _ = hash_stream(f, max_bytes=self._limits.layer_bytes, where=where)
        self._files[digest] = name
        return Descriptor(media_type=media, digest=digest, size=size)

    def _oci_manifest(
        self, config: ImageConfig, layers: list[Descriptor]
    ) -> tuple[Manifest, str | None] | None:
        """Docker 25+ archives are also OCI layouts holding the image's real manifest: use it
        (so the digest is the registry's) when it has this config and all its layers are
        here. manifest.json stays the authority: if the OCI side is unusable, build one."""
        if not (self._tree.exists("oci-layout") and self._tree.exists("index.json")):
            return None
        oci = OciLayoutSource(self._tree, tag=None, settings=self._settings)
        try:
            candidates = oci.manifests()
        except ShoalError as e:
            log.info("%s: ignoring the archive's OCI index: %s", self.reference, e)
            return None
        for manifest, index_digest in candidates:
            if manifest.config.digest != config.digest or len(manifest.layers) != len(layers):
                continue
            names = [_blob_name(d.digest) for d in manifest.layers]
            if not all(self._tree.exists(n) for n in names):
                continue
            for desc, name in zip(manifest.layers, names, strict=True):
                self._files[desc.digest] = name
            return manifest, index_digest
        return None

    def _manifest(self, config: ImageConfig, layers: list[Descriptor]) -> Manifest:
        def desc(d: Descriptor) -> dict[str, Any]:
            out: dict[str, Any] = {"mediaType": d.media_type, "size": d.size, "digest": d.digest}
            if d.urls:
                out["urls"] = list(d.urls)
            return out

        config_desc = Descriptor(DOCKER_CONFIG, config.digest, len(config.raw))
        doc = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": desc(config_desc),
            "layers": [desc(d) for d in layers],
        }
        raw = json.dumps(doc, indent=3).encode()  # the layout `docker manifest` prints
        parsed = parse_manifest(
            raw,
            sha256_digest(raw),
            DOCKER_MANIFEST,
            where=f"{self.reference} manifest",
            max_bytes=max(self._limits.manifest_bytes, len(raw)),
        )
        if not isinstance(parsed, Manifest):  # cannot happen: we built a manifest
            raise SourceError(f"{self.reference}: built manifest did not parse as one")
        return parsed


def normalize_tag(ref: str) -> str:
    """``app`` -> ``docker.io/library/app:latest``, as Docker names RepoTags."""
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:  # no tag, or the colon was a registry port
        name, tag = ref, "latest"
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    elif first == "index.docker.io":
        name = f"docker.io/{rest}"
    return f"{name}:{tag}"


def _archive_image(entry: object, where: str, i: int) -> ArchiveImage:
    if not isinstance(entry, dict):
        raise SourceError(f"{where}: [{i}] must be an object")
    config = entry.get("Config")
    if not isinstance(config, str) or not config:
        raise SourceError(f"{where}: [{i}].Config must be a file name")
    tags = entry.get("RepoTags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SourceError(f"{where}: [{i}].RepoTags must be an array of strings")
    layers = entry.get("Layers")
    if not isinstance(layers, list) or not all(isinstance(x, str) and x for x in layers):
        raise SourceError(f"{where}: [{i}].Layers must be an array of file names")
    sources = entry.get("LayerSources") or {}
    if not isinstance(sources, dict):
        raise SourceError(f"{where}: [{i}].LayerSources must be an object")
    return ArchiveImage(
        config=clean_name(config, where),
        repo_tags=tuple(tags),
        layers=tuple(clean_name(x, where) for x in layers),
        layer_sources=sources,
    )


def _blob_name(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"blobs/{algo}/{hexpart}"


def _check_named_digest(name: str, digest: str, where: str) -> None:
    m = _CONTENT_NAME.match(name)
    if m and f"sha256:{m.group(1)}" != digest:
        raise DigestMismatch(f"{where}: content hashes to {digest}, not the name's digest")


def _tags(images: list[ArchiveImage]) -> str:
    tags = [t for img in images for t in img.repo_tags]
    return f"tags: {', '.join(tags)}" if tags else "no image is tagged"
