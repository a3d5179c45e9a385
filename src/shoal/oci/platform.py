"""Platforms: the host's, and choosing manifests from an image index.

Matching follows containerd's rules (platforms.Only / Normalize), written down here:
- names are normalised Go-style: x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7, ...;
- arm64 without a variant means v8; arm without a variant means v7;
- an arm host also runs older arm variants (v7 runs v6 and v5), preferring the newest;
- amd64 micro-architecture levels (v1..v4) are ignored when no variant is asked for, but the
  most portable level wins (v1, then v2, v3, v4), because that is what runs anywhere;
- attestation manifests (BuildKit provenance/SBOM, `unknown/unknown` and the
  `vnd.docker.reference.type: attestation-manifest` annotation) are never images to scan.
"""

from __future__ import annotations

import platform as _stdlib_platform

from shoal.errors import ConfigError, NotFound
from shoal.model import Platform
from shoal.oci.types import MANIFEST_TYPES, Descriptor, Index

ALL = "all"
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"
ATTESTATION_VALUE = "attestation-manifest"

# uname -m (and the odd alias seen in image configs) -> (GOARCH, default variant)
_ARCH_ALIASES: dict[str, tuple[str, str | None]] = {
    "x86_64": ("amd64", None),
    "x86-64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv8l": ("arm", "v7"),  # 32-bit userland on a 64-bit core
    "armv7l": ("arm", "v7"),
    "armv7": ("arm", "v7"),
    "armhf": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv6": ("arm", "v6"),
    "armel": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "armv5l": ("arm", "v5"),
    "arm": ("arm", "v7"),
    "i386": ("386", None),
    "i486": ("386", None),
    "i586": ("386", None),
    "i686": ("386", None),
    "x86": ("386", None),
    "ppc64le": ("ppc64le", None),
    "ppc64": ("ppc64", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
    "mips64": ("mips64", None),
    "mips64el": ("mips64le", None),
    "mips64le": ("mips64le", None),
    "loongarch64": ("loong64", None),
    "loong64": ("loong64", None),
}
_AMD64_LEVELS = ("v1", "v2", "v3", "v4")
_ARM_VARIANTS = ("v8", "v7", "v6", "v5")  # newest first: what a host of each variant runs


def host_platform() -> Platform:
    """The platform images would run on here: always linux (container images are Linux
    images even on a macOS or Windows Docker host), with the machine's Go-style arch."""
    return normalize(Platform(os="linux", architecture=_stdlib_platform.machine() or "amd64"))


def normalize(p: Platform) -> Platform:
    """Go-style names, default variants filled in (arm64 -> v8, arm -> v7, amd64 -> none)."""
    arch = p.architecture.lower()
    goarch, default_variant = _ARCH_ALIASES.get(arch, (arch, None))
    variant = (p.variant or "").lower() or None
    if goarch == "arm64" and variant in (None, "8", "v8"):
        variant = "v8"
    elif goarch == "arm":
        if arch != "arm" and variant is None:
            variant = default_variant
        variant = _arm_variant(variant or "v7")
    elif goarch == "amd64" and variant == "v1":
        variant = None  # v1 is the baseline every amd64 runs; containerd drops it too
    return Platform(os=p.os.lower(), architecture=goarch, variant=variant, os_version=p.os_version)


def parse_selector(selector: str) -> Platform:
    """``os/arch[/variant]`` -> normalised Platform; ConfigError (one line) otherwise."""
    try:
        return normalize(Platform.parse(selector))
    except ValueError as e:
        raise ConfigError(
            f"invalid platform {selector!r}: expected os/arch[/variant] or 'all'"
        ) from e


def is_attestation(desc: Descriptor) -> bool:
    if dict(desc.annotations).get(ATTESTATION_ANNOTATION) == ATTESTATION_VALUE:
        return True
    p = desc.platform
    return p is not None and p.os == "unknown" and p.architecture == "unknown"


def image_manifests(index: Index) -> list[Descriptor]:
    """Every entry of the index that is a scannable image manifest (no attestations,
    no nested indexes, no artifacts)."""
    return [d for d in index.manifests if d.media_type in MANIFEST_TYPES and not is_attestation(d)]


def select_manifests(index: Index, selector: str | None) -> list[Descriptor]:
    """Manifests of `index` to analyse for `selector`.

    None picks the single best match for the host platform, ``"all"`` every image manifest,
    ``os/arch`` the best match for that platform (variants ranked as the module docstring
    says) and ``os/arch/variant`` that exact platform. Raises NotFound, listing the platforms
    the index offers, when nothing matches.
    """
    images = image_manifests(index)
    if selector is not None and selector.strip().lower() == ALL:
        if not images:
            raise NotFound(f"index {index.digest}: no image manifests, only attestations/artifacts")
        return images
    if selector is None:
        want, exact = host_platform(), False
    else:
        want = parse_selector(selector)
        exact = len(selector.strip().split("/")) == 3

    ranked: list[tuple[int, int, Descriptor]] = []
    for pos, desc in enumerate(images):
        rank = _rank(want, desc.platform, exact=exact)
        if rank is not None:
            ranked.append((rank, pos, desc))
    if not ranked:
        raise NotFound(
            f"index {index.digest}: no manifest for platform {want}; available: {_listing(index)}"
        )
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [ranked[0][2]]


def _rank(want: Platform, have: Platform | None, *, exact: bool) -> int | None:
    """Lower is better; None means "does not run there"."""
    if have is None:
        # An index entry without a platform is usable anywhere, but only as a last resort.
        return 1000
    got = normalize(have)
    if got.os != want.os or got.architecture != want.architecture:
        return None
    if want.os_version is not None and got.os_version not in (None, want.os_version):
        return None
    if exact or got.architecture not in ("amd64", "arm"):
        return 0 if got.variant == want.variant else None
    if got.architecture == "amd64":
        level = got.variant or "v1"
        return _AMD64_LEVELS.index(level) if level in _AMD64_LEVELS else None
    # arm: a vN host runs vN and older, preferring the newest it can run
    if want.variant not in _ARM_VARIANTS or got.variant not in _ARM_VARIANTS:
        return 0 if got.variant == want.variant else None
    host, image = _ARM_VARIANTS.index(want.variant), _ARM_VARIANTS.index(got.variant)
    return image - host if image >= host else None


def _arm_variant(variant: str) -> str:
    v = variant.lower()
    return v if v.startswith("v") else f"v{v}"


def _listing(index: Index) -> str:
    names = sorted(
        {str(d.platform) if d.platform else "(no platform)" for d in image_manifests(index)}
    )
    return ", ".join(names) if names else "none"


def check_single_platform(have: Platform | None, selector: str | None, where: str) -> None:
    """For an image that is a lone manifest (no index): NotFound if the user asked for a
    platform it is not. With no selector (or "all") the image is taken as it is, as Docker
    does for single-platform images."""
    if selector is None or selector.strip().lower() == ALL or have is None:
        return
    want = parse_selector(selector)
    exact = len(selector.strip().split("/")) == 3
    if _rank(want, have, exact=exact) is None:
        raise NotFound(f"{where}: image is for {normalize(have)}, not {want}")
