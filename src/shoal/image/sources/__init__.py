"""Image sources on disk (OCI layout, OCI archive, `docker save` archive) and `open_source`,
which turns what the user typed into the right `ImageSource`.

Spec strings, as skopeo spells its transports:
    oci-dir:PATH[:TAG]   (also oci:PATH[:TAG])   an OCI image layout directory
    oci-archive:PATH[:TAG]                       a tar of an OCI image layout
    docker-archive:PATH[:TAG|:@N]                a `docker save` tar (or its extracted dir)
    registry:REF   (also docker://REF)           a registry image
    PATH                                         an existing directory or archive, sniffed
    REF                                          anything else is a registry reference
A PATH may itself contain colons: the longest-existing prefix is the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shoal.config import Settings
from shoal.errors import SourceError
from shoal.image.source import ImageSource
from shoal.image.sources.docker_archive import DockerArchiveSource
from shoal.image.sources.files import DirTree, open_tar
from shoal.image.sources.layout import OciLayoutSource
from shoal.image.sources.oci_archive import OciArchiveSource

__all__ = [
    "DockerArchiveSource",
    "OciArchiveSource",
    "OciLayoutSource",
    "open_source",
    "split_path_tag",
]

_PATH_HINTS = ("/", "./", "../", "~")
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".oci")


def open_source(spec: str, settings: Settings, **registry_kwargs: Any) -> ImageSource:
    """The `ImageSource` for `spec` (see the module docstring). `registry_kwargs`
    (`username`, `password`, `insecure`) go to `RegistrySource` and are ignored otherwise."""
    scheme, sep, rest = spec.partition(":")
    if sep and scheme in ("oci-dir", "oci"):
        path, tag = split_path_tag(rest)
        return OciLayoutSource.from_dir(path, tag, settings)
    if sep and scheme == "oci-archive":
        path, tag = split_path_tag(rest)
        return OciArchiveSource(path, tag, settings)
    if sep and scheme == "docker-archive":
        path, tag = split_path_tag(rest)
        return DockerArchiveSource(path, tag, settings)
    if sep and scheme == "registry":
        return _registry(rest, settings, registry_kwargs)
    if spec.startswith("docker://"):
        return _registry(spec[len("docker://") :], settings, registry_kwargs)

    path = Path(spec).expanduser()
    if path.exists():
        return _sniff(path, settings)
    if spec.startswith(_PATH_HINTS) or spec.endswith(_ARCHIVE_SUFFIXES):
        raise SourceError(f"{spec}: no such file or directory")
    return _registry(spec, settings, registry_kwargs)


def split_path_tag(rest: str) -> tuple[Path, str | None]:
    """``/x/img.tar:app:1`` -> (``/x/img.tar``, ``app:1``): the longest existing prefix
    before a colon is the path, since both paths and tags may contain colons."""
    if not rest:
        raise SourceError("missing path after the source type")
    candidates = [rest] + [rest[:i] for i in range(len(rest) - 1, 0, -1) if rest[i] == ":"]
    for cand in candidates:
        path = Path(cand).expanduser()
        if path.exists():
            tag = rest[len(cand) + 1 :] or None
            return path, tag
    raise SourceError(f"{rest}: no such file or directory")


def _sniff(path: Path, settings: Settings) -> ImageSource:
    if path.is_dir():
        tree = DirTree(path)
        if tree.exists("manifest.json"):
            return DockerArchiveSource(path, None, settings, tree=tree)
        if tree.exists("oci-layout"):
            return OciLayoutSource(tree, tag=None, settings=settings)
        raise SourceError(f"{path}: neither an OCI layout nor an extracted docker archive")
    tar = open_tar(path, settings)
    # Docker 25+ archives are both; manifest.json carries the RepoTags, so it wins.
    if tar.exists("manifest.json"):
        return DockerArchiveSource(path, None, settings, tree=tar)
    if tar.exists("oci-layout"):
        return OciArchiveSource(path, None, settings, tree=tar)
    tar.close()
    raise SourceError(f"{path}: tar holds neither manifest.json nor oci-layout")


def _registry(reference: str, settings: Settings, kwargs: dict[str, Any]) -> ImageSource:
    from shoal.oci.registry_source import RegistrySource  # httpx and friends only when needed

    return RegistrySource(reference, settings, **kwargs)
