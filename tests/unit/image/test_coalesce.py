from __future__ import annotations

from shoal.image.coalesce import coalesce
from shoal.model import ImageInfo, LayerInfo
from tests.support.images import Entry
from tests.unit.image.fakes import scan_layer


def info(scans: list) -> ImageInfo:  # type: ignore[type-arg]
    return ImageInfo(
        reference="test/img:1",
        manifest_digest=None,
        config_digest=None,
        platform=None,
        layers=tuple(
            LayerInfo(s.diff_id, s.diff_id, "t", 0, f"RUN step {i}") for i, s in enumerate(scans)
        ),
    )


def test_package_is_attributed_to_the_layer_that_introduced_it() -> None:
    l0 = scan_layer(
        {"/app/deps.pkglist": b"a 1\nb 1\n", "/etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"}
    )
    l1 = scan_layer({"/app/deps.pkglist": b"a 1\nb 2\nc 1\n"})
    sbom = coalesce(info([l0, l1]), [l0, l1], symlink_hops=40)
    got = {(p.name, p.version): (p.layer, p.layer_created_by) for p in sbom.packages}
    assert got == {
        ("a", "1"): (l0.diff_id, "RUN step 0"),
        ("b", "2"): (l1.diff_id, "RUN step 1"),
        ("c", "1"): (l1.diff_id, "RUN step 1"),
    }
    # the file that holds the evidence is the top layer's copy
    assert all(p.locations[0].layer == l1.diff_id for p in sbom.packages)
    assert sbom.distro is not None and sbom.distro.id == "alpine"


def test_deleted_files_take_their_packages_with_them() -> None:
    l0 = scan_layer({"/opt/a/x.pkglist": b"gone 1\n", "/keep.pkglist": b"kept 1\n"})
    l1 = scan_layer([Entry("opt/.wh.a", b"")])
    sbom = coalesce(info([l0, l1]), [l0, l1], symlink_hops=40)
    assert [p.name for p in sbom.packages] == ["kept"]


def test_same_package_at_two_paths_is_one_package_with_two_locations() -> None:
    l0 = scan_layer({"/a.pkglist": b"x 1\n", "/b.pkglist": b"x 1\n"})
    sbom = coalesce(info([l0]), [l0], symlink_hops=40)
    (p,) = sbom.packages
    assert sorted(loc.path for loc in p.locations) == ["/a.pkglist", "/b.pkglist"]


def test_scratch_image_without_os_is_fine() -> None:
    l0 = scan_layer({"/app.pkglist": b"x 1\n"})
    sbom = coalesce(info([l0]), [l0], symlink_hops=40)
    assert sbom.distro is None
    assert len(sbom.packages) == 1


def test_unknowns_of_hidden_files_are_dropped() -> None:
    l0 = scan_layer({"/a.pkglist": b"bad\n"})
    l1 = scan_layer({"/a.pkglist": b"good 1\n"})
    assert coalesce(info([l0, l1]), [l0, l1], symlink_hops=40).unknowns == ()
    assert len(coalesce(info([l0]), [l0], symlink_hops=40).unknowns) == 1
