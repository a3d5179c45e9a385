"""An `ImageSource` over an OCI image layout (image-spec `image-layout.md`).

A layout is `oci-layout` (the version marker), `index.json` (the entry points, tagged with
the `org.opencontainers.image.ref.name` annotation) and content-addressed `blobs/<alg>/<hex>`.
The same code serves a layout directory and an OCI archive: it reads through a `FileTree`.
Every blob read is checked against its descriptor's size and digest, so a tampered layout
is caught as surely as a tampered registry.
"""

from __future__ import annotations

from pathlib import Path

from shoal.config import Limits, Settings
from shoal.errors import DigestMismatch, LimitExceeded, SourceError, UnsupportedManifest
from shoal.image.source import ResolvedImage
from shoal.image.sources.files import DirTree, FileTree, copy_verified
from shoal.model.digest import InvalidDigest, hasher_for, parse_digest, sha256_digest
from shoal.oci.manifest import load_json_object, parse_config, parse_manifest
from shoal.oci.platform import check_single_platform, image_manifests, select_manifests
from shoal.oci.types import INDEX_TYPES, MANIFEST_TYPES, Descriptor, Index, Manifest

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
SUPPORTED_LAYOUT_MAJOR = "1"


class OciLayoutSource:
    """Images from an OCI layout read through `tree`; `tag` picks an `index.json` entry
    (needed only when the layout holds more than one image)."""

    kind = "oci-dir"

    def __init__(
        self, tree: FileTree, *, tag: str | None, settings: Settings, reference: str | None = None
    ) -> None:
        self._tree = tree
        self.tag = tag
        self._limits: Limits = settings.limits
        self.reference = reference or _reference(self.kind, tree.label, tag)

    @classmethod
    def from_dir(cls, path: Path, tag: str | None, settings: Settings) -> OciLayoutSource:
        return cls(DirTree(path), tag=tag, settings=settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reference!r})"

    def resolve(self, platform: str | None) -> list[ResolvedImage]:
        self._check_layout_version()
        entry = self._entry()
        if entry.media_type in INDEX_TYPES:
            index = self._document(entry)
            if not isinstance(index, Index):
                raise UnsupportedManifest(f"{self._where(entry)}: expected an index")
            return [
                self._resolved(self._manifest(desc), index.digest)
                for desc in select_manifests(index, platform)
            ]
        image = self._resolved(self._manifest(entry), None)
        check_single_platform(image.config.platform, platform, self.reference)
        return [image]

    def manifests(self) -> list[tuple[Manifest, str | None]]:
        """Every image manifest in the layout, whatever its tag or platform, each with the
        digest of the index it was found in (None for a top-level manifest). Attestations,
        artifacts, other documents that are not images and manifests whose blob is absent
        are left out; a blob that does not match its digest still raises."""
        self._check_layout_version()
        out: list[tuple[Manifest, str | None]] = []
        for entry in _unique(self._index_json().manifests):
            if entry.media_type in MANIFEST_TYPES:
                out += self._image_or_nothing(entry, None)
            elif entry.media_type in INDEX_TYPES:
                index = self._document(entry)
                if isinstance(index, Index):
                    for desc in image_manifests(index):
                        out += self._image_or_nothing(desc, index.digest)
        return out

    def _image_or_nothing(
        self, desc: Descriptor, index_digest: str | None
    ) -> list[tuple[Manifest, str | None]]:
        algo, _, hexpart = desc.digest.partition(":")
        if not self._tree.exists(f"blobs/{algo}/{hexpart}"):
            # `docker save` keeps an index's other platforms listed but leaves their blobs out
            return []
        try:
            return [(self._manifest(desc), index_digest)]
        except UnsupportedManifest:  # a chart or signature stored beside the images
            return []

    def fetch_blob(self, desc: Descriptor, dest: Path) -> None:
        name = self._blob_name(desc.digest)
        with self._tree.open(name) as src:
            copy_verified(src, dest, desc.digest, desc.size, f"{self._tree.label}:{name}")

    def close(self) -> None:
        self._tree.close()

    # -- layout structure ------------------------------------------------------------------

    def _check_layout_version(self) -> None:
        where = f"{self._tree.label}: oci-layout"
        if not self._tree.exists("oci-layout"):
            raise SourceError(f"{where}: missing, so this is not an OCI image layout")
        doc = self._json("oci-layout", 4096)
        version = doc.get("imageLayoutVersion")
        if not isinstance(version, str) or version.split(".")[0] != SUPPORTED_LAYOUT_MAJOR:
            raise SourceError(f"{where}: unsupported imageLayoutVersion {version!r}")

    def _index_json(self) -> Index:
        label = f"{self._tree.label}: index.json"
        if not self._tree.exists("index.json"):
            raise SourceError(f"{label}: missing")
        data = self._read("index.json", self._limits.manifest_bytes)
        try:
            index = parse_manifest(
                data, sha256_digest(data), None, where=label, max_bytes=self._limits.manifest_bytes
            )
        except UnsupportedManifest as e:
            raise SourceError(str(e)) from e
        if not isinstance(index, Index):
            raise SourceError(f"{label}: is a manifest, not an image index")
        return index

    def _entry(self) -> Descriptor:
        label = f"{self._tree.label}: index.json"
        entries = list(self._index_json().manifests)
        if self.tag is not None:
            tagged = [d for d in entries if self.tag in _names(d)]
            if not tagged:
                raise SourceError(f"{label}: no image tagged {self.tag!r}; {_tags(entries)}")
            if len(_unique(tagged)) > 1:
                raise SourceError(f"{label}: tag {self.tag!r} names several images")
            return tagged[0]
        distinct = _unique(entries)
        if not distinct:
            raise SourceError(f"{label}: holds no images")
        if len(distinct) > 1:
            raise SourceError(
                f"{label}: holds {len(distinct)} images, pick one with :TAG; {_tags(entries)}"
            )
        return distinct[0]

    # -- blobs ---------------------------------------------------------------------------

    def _document(self, desc: Descriptor) -> Index | Manifest:
        data = self._blob(desc)
        return parse_manifest(
            data,
            desc.digest,
            desc.media_type,
            where=self._where(desc),
            max_bytes=self._limits.manifest_bytes,
        )

    def _manifest(self, desc: Descriptor) -> Manifest:
        doc = self._document(desc)
        if not isinstance(doc, Manifest):
            raise UnsupportedManifest(f"{self._where(desc)}: nested index where a manifest belongs")
        return doc

    def _resolved(self, manifest: Manifest, index_digest: str | None) -> ResolvedImage:
        data = self._blob(manifest.config)
        config = parse_config(
            data,
            manifest.config.digest,
            where=f"{self._where(manifest.config)} config",
            max_bytes=self._limits.manifest_bytes,
        )
        return ResolvedImage(
            reference=self.reference, manifest=manifest, config=config, index_digest=index_digest
        )

    def _blob(self, desc: Descriptor) -> bytes:
        """A small blob (manifest, config) read whole and verified."""
        where = self._where(desc)
        if desc.size > self._limits.manifest_bytes:
            raise LimitExceeded(
                f"{where}: {desc.size} bytes exceeds the limit of {self._limits.manifest_bytes}",
                limit="limits.manifest_bytes",
            )
        name = self._blob_name(desc.digest)
        size = self._tree.size(name)
        if size != desc.size:
            raise DigestMismatch(
                f"{where}: {name} is {size} bytes, its descriptor says {desc.size}"
            )
        data = self._tree.read(name, desc.size)
        h = hasher_for(desc.digest)
        h.update(data)
        if len(data) != desc.size or f"{h.name}:{h.hexdigest()}" != desc.digest:
            raise DigestMismatch(f"{where}: content does not match its descriptor")
        return data

    def _blob_name(self, digest: str) -> str:
        try:
            algo, hexpart = parse_digest(digest)
        except InvalidDigest as e:
            raise SourceError(f"{self._tree.label}: {e}") from e
        name = f"blobs/{algo}/{hexpart}"
        if not self._tree.exists(name):
            raise SourceError(f"{self._tree.label}: blob {digest} missing ({name})")
        return name

    def _read(self, name: str, max_bytes: int) -> bytes:
        size = self._tree.size(name)
        if size > max_bytes:
            raise SourceError(
                f"{self._tree.label}: {name} is {size} bytes, over the limit of {max_bytes}"
            )
        return self._tree.read(name, max_bytes)

    def _json(self, name: str, max_bytes: int) -> dict[str, object]:
        data = self._read(name, max_bytes)
        try:
            return load_json_object(data, f"{self._tree.label}: {name}", max_bytes)
        except UnsupportedManifest as e:
            raise SourceError(str(e)) from e

    def _where(self, desc: Descriptor) -> str:
        return f"{self.reference}@{desc.digest}"


def _names(desc: Descriptor) -> set[str]:
    ann = dict(desc.annotations)
    return {ann[k] for k in (REF_NAME, CONTAINERD_NAME) if k in ann}


def _unique(descs: tuple[Descriptor, ...] | list[Descriptor]) -> list[Descriptor]:
    """Entries by digest: several tags on one image are one image."""
    seen: dict[str, Descriptor] = {}
    for d in descs:
        seen.setdefault(d.digest, d)
    return list(seen.values())


def _tags(entries: list[Descriptor]) -> str:
    tags = sorted({t for d in entries for t in _names(d) if t})
    return f"tags: {', '.join(tags)}" if tags else "no entry is tagged"


def _reference(kind: str, label: str, tag: str | None) -> str:
    return f"{kind}:{label}:{tag}" if tag else f"{kind}:{label}"
