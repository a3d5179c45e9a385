"""The image's final filesystem, computed from per-layer scans without materialising it.

A file found in layer i is visible in the image if no later layer replaces it, deletes it
or one of its parents (`.wh.NAME`), hides its directory (`.wh..wh..opq`), or turns it or
one of its parents into a symlink. Symlinks are resolved inside the image root only, with
a bound on hops (loops end there, with a reported problem rather than a hang).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from shoal.errors import LimitExceeded
from shoal.image.layerscan import LayerScan


def ancestors(path: str) -> Iterator[str]:
    """Strict ancestors of an absolute path, nearest first ("/a/b/c" -> "/a/b", "/a")."""
    p = path
    while True:
        cut = p.rfind("/")
        if cut <= 0:
            return
        p = p[:cut]
        yield p


class FinalView:
    def __init__(self, scans: Sequence[LayerScan], *, symlink_hops: int) -> None:
        self.scans = scans
        self.symlink_hops = symlink_hops
        self.symlinks = self._merged_symlinks()

    def visible(
        self, path: str, layer: int, present: Callable[[LayerScan, str], bool] | None = None
    ) -> bool:
        """Is `path`, as written by layer `layer`, what the final image holds?

        `present(scan, path)` says whether a later layer writes the path itself; by
        default, whether some cataloger wanted that path there.
        """
        for scan in self.scans[layer + 1 :]:
            if present(scan, path) if present else path in scan.wanted:
                return False
            if path in scan.whiteouts or path in scan.symlinks:
                return False
            for a in ancestors(path):
                if a in scan.whiteouts or a in scan.opaque or a in scan.symlinks:
                    return False
        return True

    def _merged_symlinks(self) -> dict[str, str]:
        links: dict[str, str] = {}
        for i, scan in enumerate(self.scans):
            for path, target in scan.symlinks.items():
                if self.visible(path, i, lambda s, p: False):
                    links[path] = target
        return links

    def resolve(self, path: str) -> str:
        """Follow symlinks (in every component) to the real path, inside the image root.

        Raises LimitExceeded after `symlink_hops` links (a loop, or a hostile chain).
        """
        queue = [p for p in path.split("/") if p]
        resolved: list[str] = []
        hops = 0
        while queue:
            part = queue.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/" + "/".join([*resolved, part])
            target = self.symlinks.get(candidate)
            if target is None:
                resolved.append(part)
                continue
            hops += 1
            if hops > self.symlink_hops:
                raise LimitExceeded(
                    f"resolving {path!r}: more than {self.symlink_hops} symlinks "
                    "(a loop?) (limits.symlink_hops)",
                    limit="symlink_hops",
                )
            if target.startswith("/"):
                resolved = []
            queue = [p for p in target.split("/") if p] + queue
        return "/" + "/".join(resolved)

    def read_os_file(self, path: str) -> bytes | None:
        """Content of an os-release-like file in the final image, following symlinks."""
        real = self.resolve(path)
        for i in range(len(self.scans) - 1, -1, -1):
            data = self.scans[i].os_files.get(real)
            if data is not None:
                if self.visible(real, i, lambda s, p: p in s.os_files):
                    return data
                return None
        return None
