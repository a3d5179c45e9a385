"""Layer progress on stderr with rich, only when stderr is a terminal."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class RichLayerProgress:
    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]layers[/] {task.fields[done]}/{task.fields[layers]}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None
        self._lock = threading.Lock()
        self._done = 0

    def __enter__(self) -> RichLayerProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def started(self, layers: int, total_bytes: int) -> None:
        with self._lock:
            self._task = self._progress.add_task("layers", total=total_bytes, layers=layers, done=0)

    def layer_done(self, digest: str, size: int, *, cached: bool) -> None:
        with self._lock:
            self._done += 1
            if self._task is not None:
                self._progress.update(self._task, advance=size, done=self._done)
