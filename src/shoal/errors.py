"""The exception hierarchy of shoal.

    ShoalError
    ├── ConfigError
    ├── LimitExceeded            a configured bound (bytes, entries, depth, hops) was crossed
    ├── RegistryError            talking to an OCI/Docker registry
    │   ├── AuthError            401/403, bad credentials, token endpoint refused
    │   ├── NotFound             404 for a manifest, blob or repository
    │   ├── RateLimited          429 after the retries ran out
    │   ├── DigestMismatch       content does not hash to the digest it was asked for
    │   └── UnsupportedManifest  schema 1, unknown media types, malformed manifests
    ├── ReferenceError_          an image reference that does not parse
    ├── SourceError              an image source on disk (OCI layout, archives) is unusable
    ├── LayerError               a layer blob cannot be read (bad compression, bad tar)
    ├── CatalogError             a package database is malformed (usually reported as Unknown)
    ├── FeedError                a feed's input is unusable as a whole (bad records are data)
    ├── ExportError              an SBOM could not be written
    └── (per component, beside their code) TriggerAuthError / TriggerFormatError in
        shoal.triggers.base, VulnDbError and its family in shoal.vulndb.errors

Bad input inside an image (one malformed package database, say) is reported as data
(`shoal.model.Unknown`) so that one broken file never hides the rest of the image. Only
failures that make the whole operation meaningless raise.

Every message is one line and names what failed and where.
"""

from __future__ import annotations


class ShoalError(Exception):
    """Root of every error shoal raises on purpose."""


class ConfigError(ShoalError):
    pass


class LimitExceeded(ShoalError):
    """A safety limit was crossed; `limit` names the setting that bounds it."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class RegistryError(ShoalError):
    pass


class AuthError(RegistryError):
    pass


class NotFound(RegistryError):
    pass


class RateLimited(RegistryError):
    pass


class DigestMismatch(RegistryError):
    pass


class UnsupportedManifest(RegistryError):
    pass


class ReferenceError_(ShoalError):  # noqa: N801 - `ReferenceError` is a builtin
    pass


InvalidReference = ReferenceError_


class SourceError(ShoalError):
    pass


class LayerError(ShoalError):
    pass


class CatalogError(ShoalError):
    pass


class FeedError(ShoalError):
    """A feed's input is unusable as a whole (download failed, archive corrupt, a limit
    crossed). Bad single records are reported as `FeedProblem`, not raised."""


class ExportError(ShoalError):
    pass
