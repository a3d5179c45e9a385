from __future__ import annotations

import pytest

from shoal.errors import LimitExceeded
from shoal.image.layerscan import LayerScan
from shoal.image.view import FinalView, ancestors


def layer(**kw: object) -> LayerScan:
    return LayerScan(diff_id="sha256:" + "0" * 64, **kw)  # type: ignore[arg-type]


def test_ancestors() -> None:
    assert list(ancestors("/a/b/c")) == ["/a/b", "/a"]
    assert list(ancestors("/a")) == []


def test_later_layer_overrides_whiteouts_and_opaque_dirs() -> None:
    scans = [
        layer(wanted={"/a/x", "/b/y", "/c/z", "/d/w"}),
        layer(wanted={"/a/x"}, whiteouts={"/b/y", "/c"}, opaque={"/d"}),
    ]
    v = FinalView(scans, symlink_hops=40)
    assert not v.visible("/a/x", 0)  # replaced
    assert v.visible("/a/x", 1)
    assert not v.visible("/b/y", 0)  # deleted
    assert not v.visible("/c/z", 0)  # parent deleted
    assert not v.visible("/d/w", 0)  # parent made opaque
    assert v.visible("/d/w", 1) or "/d/w" not in scans[1].wanted


def test_directory_replaced_by_symlink_hides_lower_content() -> None:
    scans = [layer(wanted={"/opt/app/x"}), layer(symlinks={"/opt/app": "/srv"})]
    assert not FinalView(scans, symlink_hops=40).visible("/opt/app/x", 0)


def test_resolve_relative_absolute_and_nested_links() -> None:
    scans = [
        layer(symlinks={"/etc/os-release": "../usr/lib/os-release", "/lib": "usr/lib"}),
        layer(symlinks={"/usr/lib": "/opt/real"}),
    ]
    v = FinalView(scans, symlink_hops=40)
    assert v.resolve("/etc/os-release") == "/opt/real/os-release"
    assert v.resolve("/lib/x") == "/opt/real/x"


def test_links_cannot_climb_out_of_the_root() -> None:
    v = FinalView([layer(symlinks={"/a": "../../../../etc"})], symlink_hops=40)
    assert v.resolve("/a/passwd") == "/etc/passwd"


def test_symlink_loop_is_bounded() -> None:
    v = FinalView([layer(symlinks={"/a": "/b", "/b": "/a"})], symlink_hops=40)
    with pytest.raises(LimitExceeded, match="symlink_hops"):
        v.resolve("/a/x")


def test_os_file_through_symlink_and_deletion() -> None:
    scans = [
        layer(
            os_files={"/usr/lib/os-release": b"ID=alpine\n"},
            symlinks={"/etc/os-release": "../usr/lib/os-release"},
        ),
        layer(),
    ]
    assert FinalView(scans, symlink_hops=40).read_os_file("/etc/os-release") == b"ID=alpine\n"
    scans[1].whiteouts.add("/usr/lib/os-release")
    assert FinalView(scans, symlink_hops=40).read_os_file("/etc/os-release") is None
