"""Catalogers: one module per package format, all listed in `ALL`.

Nothing registers itself at import time; to add a cataloger, write the module and add
its class here.
"""

from __future__ import annotations

from shoal.catalog.base import Cataloger, FileEntry, LayerFile

ALL: tuple[type[Cataloger], ...] = ()

__all__ = ["ALL", "Cataloger", "FileEntry", "LayerFile"]
