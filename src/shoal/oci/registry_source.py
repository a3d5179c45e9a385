"""An `ImageSource` that pulls from a registry: reference -> manifest(s) -> configs -> blobs.

A tag or digest may name an index (several platforms) or a single manifest. An index is
narrowed with `select_manifests`; each chosen manifest is fetched by digest (so it is
verified) and its config fetched and parsed. Layers are not touched until `fetch_blob`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from shoal.config import Settings
from shoal.errors import NotFound, UnsupportedManifest
from shoal.oci.client import RegistryClient
from shoal.oci.credentials import Credentials, CredentialStore, explicit
from shoal.oci.manifest import parse_config, parse_manifest
from shoal.oci.platform import ALL, normalize, parse_selector, select_manifests
from shoal.oci.reference import Reference, parse_reference
from shoal.oci.types import Descriptor, Index, Manifest, ResolvedImage

log = logging.getLogger(__name__)


class RegistrySource:
    """Images from a registry, with credentials from the arguments or the Docker config."""

    def __init__(
        self,
        reference: str,
        settings: Settings,
        *,
        username: str | None = None,
        password: str | None = None,
        insecure: bool = False,
        client: RegistryClient | None = None,
    ) -> None:
        self.ref: Reference = parse_reference(reference)
        self.reference = self.ref.normalized
        self._settings = settings
        if client is None:
            given = explicit(username, password)
            registry = self.ref.registry
            store = CredentialStore(settings.oci.docker_config)
            creds: Credentials | Callable[[], Credentials] = (
                given if given is not None else lambda: store.get(registry)
            )
            client = RegistryClient(
                self.ref.registry,
                settings=settings.oci,
                limits=settings.limits,
                credentials=creds,
                insecure=insecure,
            )
        self.client = client

    def __repr__(self) -> str:
        return f"RegistrySource({self.reference!r})"

    def resolve(self, platform: str | None) -> list[ResolvedImage]:
        repo = self.ref.repository
        data, media_type, digest = self.client.get_manifest(repo, self.ref.ref)
        doc = parse_manifest(
            data,
            digest,
            media_type,
            where=f"{self.reference} manifest",
            max_bytes=self._settings.limits.manifest_bytes,
        )
        if isinstance(doc, Index):
            out = []
            for desc in select_manifests(doc, platform):
                manifest = self._child(desc)
                out.append(self._resolved(manifest, index_digest=doc.digest))
            return out
        image = self._resolved(doc, index_digest=None)
        _check_platform(image, platform, self.reference)
        return [image]

    def fetch_blob(self, desc: Descriptor, dest: Path) -> None:
        self.client.get_blob_to(self.ref.repository, desc, dest)

    def close(self) -> None:
        self.client.close()

    def _child(self, desc: Descriptor) -> Manifest:
        where = f"{self.ref.name}@{desc.digest} manifest"
        data, media_type, digest = self.client.get_manifest(self.ref.repository, desc.digest)
        if len(data) != desc.size:
            log.warning("%s: index says %d bytes, got %d", where, desc.size, len(data))
        doc = parse_manifest(
            data,
            digest,
            media_type or desc.media_type,
            where=where,
            max_bytes=self._settings.limits.manifest_bytes,
        )
        if isinstance(doc, Index):
            # Nested indexes are legal but no image tool produces them for images.
            raise UnsupportedManifest(f"{where}: an index inside an index is unsupported")
        return doc

    def _resolved(self, manifest: Manifest, *, index_digest: str | None) -> ResolvedImage:
        raw = self.client.blob_bytes(self.ref.repository, manifest.config)
        config = parse_config(
            raw,
            manifest.config.digest,
            where=f"{self.ref.name}@{manifest.digest} config",
            max_bytes=self._settings.limits.manifest_bytes,
        )
        return ResolvedImage(
            reference=self.reference,
            manifest=manifest,
            config=config,
            index_digest=index_digest,
        )


def _check_platform(image: ResolvedImage, selector: str | None, reference: str) -> None:
    """A single-platform image asked for by another platform is not what the user wants
    (Docker refuses it too); with no selector, the image is taken as it is."""
    have = image.config.platform
    if selector is None or selector.strip().lower() == ALL or have is None:
        return
    want = parse_selector(selector)
    got = normalize(have)
    exact = len(selector.strip().split("/")) == 3
    if (got.os, got.architecture) != (want.os, want.architecture) or (
        exact and got.variant != want.variant
    ):
        raise NotFound(f"{reference}: image is for {got}, not {want}")
