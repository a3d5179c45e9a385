"""Which target media types name an image (manifest or index) rather than a blob."""

from __future__ import annotations

from shoal.oci.types import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1,
    DOCKER_SCHEMA1_SIGNED,
    OCI_INDEX,
    OCI_MANIFEST,
)

# Schema 1 is included on purpose: the scan then fails with a clear "unsupported
# manifest" instead of the push being dropped without a trace.
IMAGE_MEDIA_TYPES = frozenset(
    {OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED}
)


def is_image(media_type: str | None) -> bool:
    """True for manifest and index media types (parameters such as charset ignored)."""
    if media_type is None:
        return False
    return media_type.split(";", 1)[0].strip().lower() in IMAGE_MEDIA_TYPES
