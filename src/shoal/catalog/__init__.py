"""Catalogers: one module per package format, all listed in `ALL`.

Nothing registers itself at import time; to add a cataloger, write the module and add
its class here.
"""

from __future__ import annotations

from shoal.catalog.apk import ApkCataloger
from shoal.catalog.base import Cataloger, FileEntry, LayerFile
from shoal.catalog.cargo_lock import CargoLockCataloger
from shoal.catalog.dotnet import DotnetCataloger
from shoal.catalog.dpkg import DpkgCataloger
from shoal.catalog.gobinary import GoBinaryCataloger
from shoal.catalog.java import JavaCataloger
from shoal.catalog.npm import NpmCataloger
from shoal.catalog.npm_lock import NpmLockCataloger
from shoal.catalog.php import PhpCataloger
from shoal.catalog.pnpm_lock import PnpmLockCataloger
from shoal.catalog.python import PythonCataloger
from shoal.catalog.rpm import RpmCataloger
from shoal.catalog.ruby import RubyCataloger
from shoal.catalog.rustbinary import RustBinaryCataloger
from shoal.catalog.yarn_lock import YarnLockCataloger

ALL: tuple[type[Cataloger], ...] = (
    # OS package databases
    DpkgCataloger,
    ApkCataloger,
    RpmCataloger,
    # language packages, installed
    PythonCataloger,
    NpmCataloger,
    JavaCataloger,
    RubyCataloger,
    PhpCataloger,
    DotnetCataloger,
    # lockfiles
    NpmLockCataloger,
    YarnLockCataloger,
    PnpmLockCataloger,
    CargoLockCataloger,
    # binaries
    GoBinaryCataloger,
    RustBinaryCataloger,
)

__all__ = ["ALL", "Cataloger", "FileEntry", "LayerFile"]
