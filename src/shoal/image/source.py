"""Where images come from. The protocol lives in `shoal.oci.types` (the registry client
implements it without importing upward); it is re-exported here for the image side."""

from shoal.oci.types import ImageSource, ResolvedImage

__all__ = ["ImageSource", "ResolvedImage"]
