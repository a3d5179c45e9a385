"""The analysis pipeline: resolve an image source, fetch and scan the layers that are
not cached yet (in parallel, each layer once even when several platforms share it), then
coalesce each platform's layers into an SBOM."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from shoal import __version__
from shoal.catalog import ALL
from shoal.catalog.base import Cataloger
from shoal.config import Settings
from shoal.errors import LayerError, LimitExceeded
from shoal.image.cache import LayerCache
from shoal.image.coalesce import coalesce
from shoal.image.layerscan import LayerScan
from shoal.image.source import ImageSource, ResolvedImage
from shoal.image.tarwalk import LayerWalker
from shoal.model import ImageInfo, LayerInfo, Sbom
from shoal.oci.types import Descriptor

log = logging.getLogger(__name__)


class Progress(Protocol):
    """What the analysis tells a progress display (the CLI draws it with rich)."""

    def started(self, layers: int, total_bytes: int) -> None: ...
    def layer_done(self, digest: str, size: int, *, cached: bool) -> None: ...


@dataclass
class _Job:
    desc: Descriptor
    diff_id: str


class Analyzer:
    def __init__(
        self,
        settings: Settings,
        catalogers: Sequence[Cataloger] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.catalogers = list(catalogers) if catalogers is not None else [c() for c in ALL]
        self.progress = progress
        self.walker = LayerWalker(self.catalogers, settings.limits)
        ids = [c.id() for c in self.catalogers] + [f"shoal-engine@{__version__}"]
        self.cache = (
            LayerCache(settings.cache.dir, max_bytes=settings.cache.max_bytes, catalogers=ids)
            if settings.cache.enabled
            else None
        )
        self.stats = {"layers_cached": 0, "layers_scanned": 0, "bytes_fetched": 0}

    def analyze(self, source: ImageSource, platform: str | None = None) -> list[Sbom]:
        images = source.resolve(platform)
        jobs: dict[str, _Job] = {}
        for img in images:
            diff_ids = img.config.diff_ids
            if len(diff_ids) != len(img.manifest.layers):
                raise LayerError(
                    f"{img.reference}: manifest lists {len(img.manifest.layers)} layers but "
                    f"the config lists {len(diff_ids)} diff_ids"
                )
            for desc, diff_id in zip(img.manifest.layers, diff_ids, strict=True):
                jobs.setdefault(diff_id, _Job(desc, diff_id))
        scans = self._scan_all(source, list(jobs.values()))
        return [self._sbom(img, scans) for img in images]

    # -- layers ----------------------------------------------------------------------------
    def _scan_all(self, source: ImageSource, jobs: list[_Job]) -> dict[str, LayerScan]:
        scans: dict[str, LayerScan] = {}
        todo: list[_Job] = []
        for job in jobs:
            hit = self.cache.get(job.diff_id) if self.cache else None
            if hit is not None:
                scans[job.diff_id] = hit
                self.stats["layers_cached"] += 1
            else:
                todo.append(job)
        if self.progress:
            self.progress.started(len(jobs), sum(j.desc.size for j in jobs))
            for job in jobs:
                if job.diff_id in scans:
                    self.progress.layer_done(job.desc.digest, job.desc.size, cached=True)
        if not todo:
            return scans
        tmpdir = self.settings.cache.dir / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        lock = threading.Lock()
        workers = max(1, min(self.settings.oci.parallel_downloads, len(todo)))
        with ThreadPoolExecutor(workers, thread_name_prefix="shoal-layer") as pool:
            futures: list[Future[LayerScan]] = [
                pool.submit(self._scan_one, source, job, tmpdir) for job in todo
            ]
            wait(futures, return_when=FIRST_EXCEPTION)
            for f in futures:
                if f.done() and f.exception() is not None:
                    for other in futures:
                        other.cancel()
                    raise f.exception()  # type: ignore[misc]
            for job, fut in zip(todo, futures, strict=True):
                with lock:
                    scans[job.diff_id] = fut.result()
        return scans

    def _scan_one(self, source: ImageSource, job: _Job, tmpdir: Path) -> LayerScan:
        with tempfile.NamedTemporaryFile(dir=tmpdir, prefix="blob-", delete=False) as tmp:
            spool = Path(tmp.name)
        try:
            source.fetch_blob(job.desc, spool)
            self.stats["bytes_fetched"] += job.desc.size

            def open_blob() -> BinaryIO:
                return spool.open("rb")

            what = f"layer {job.desc.digest}"
            scan = self.walker.walk(open_blob, job.diff_id, what=what)
        finally:
            spool.unlink(missing_ok=True)
        if self.cache:
            self.cache.put(scan)
        self.stats["layers_scanned"] += 1
        if self.progress:
            self.progress.layer_done(job.desc.digest, job.desc.size, cached=False)
        return scan

    # -- images ----------------------------------------------------------------------------
    def _sbom(self, img: ResolvedImage, scans: dict[str, LayerScan]) -> Sbom:
        ordered = [scans[d] for d in img.config.diff_ids]
        total = sum(s.bytes_read for s in ordered)
        limit = self.settings.limits.image_bytes
        if total > limit:
            raise LimitExceeded(
                f"{img.reference}: layers decompress to {total} bytes, over "
                f"limits.image_bytes ({limit})",
                limit="image_bytes",
            )
        created_by = img.config.created_by()
        layers = tuple(
            LayerInfo(
                digest=d.digest,
                diff_id=diff_id,
                media_type=d.media_type,
                size=d.size,
                created_by=cb,
            )
            for d, diff_id, cb in zip(
                img.manifest.layers, img.config.diff_ids, created_by, strict=True
            )
        )
        info = ImageInfo(
            reference=img.reference,
            manifest_digest=img.manifest.digest,
            config_digest=img.config.digest,
            platform=img.config.platform,
            layers=layers,
            created=img.config.created,
            index_digest=img.index_digest,
        )
        return coalesce(info, ordered, symlink_hops=self.settings.limits.symlink_hops)
