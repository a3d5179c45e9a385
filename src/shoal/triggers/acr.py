"""Azure Container Registry webhooks.

ACR POSTs one event per request, with only the custom headers configured on the webhook
(shoal's secret goes in one of them, ``Authorization`` unless configured otherwise)::

    {"id": "...", "timestamp": "2017-11-17T16:52:01.343145347Z", "action": "push",
     "target": {"mediaType", "size", "digest", "length", "repository", "tag"},
     "request": {"id", "host", "method", "useragent"}}

push -> `ScanRequest`; quarantine (sent when quarantine is enabled: the image waits for a
scanner's verdict) -> `ScanRequest` too; delete -> `Deleted` (of a manifest, or of the
whole repository when no digest is given; ACR sends nothing for a tag delete). Helm chart
events (chart_push, chart_delete), ping and unknown actions are not triggers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import SecretStr

from shoal.triggers._auth import check_secret, presented_secrets
from shoal.triggers._media import is_image
from shoal.triggers._payload import Fields
from shoal.triggers.base import Deleted, ScanRequest, TriggerEvent


class AcrTrigger:
    """Receiver dialect for ACR webhooks; `header` names the custom header with the secret."""

    name: ClassVar[str] = "acr"
    version: ClassVar[int] = 1

    def __init__(self, header: str = "Authorization") -> None:
        self.header = header

    def verify(self, headers: Mapping[str, str], body: bytes, secret: SecretStr) -> None:
        check_secret(headers, secret, who=self.name, name=self.header)

    def presented_secrets(self, headers: Mapping[str, str]) -> tuple[str, ...]:
        return presented_secrets(headers, who=self.name, name=self.header)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[TriggerEvent]:
        f = Fields(self.name)
        ev = f.load(body)
        action = f.req_str(ev, "action", "")
        if action not in ("push", "quarantine", "delete"):
            return []
        target = f.opt_object(ev, "target", "")
        if target is None:
            raise f.fail("target", "missing")
        media_type = f.opt_str(target, "mediaType", "target")
        # ACR sends push only for manifests, so an absent media type still is one; a
        # present one that is no image (an ORAS artifact's blob, say) is not a trigger.
        if action != "delete" and media_type is not None and not is_image(media_type):
            return []
        repository = f.repository(f.req_str(target, "repository", "target"), "target.repository")
        request = f.opt_object(ev, "request", "")
        if request is None:
            raise f.fail("request", "missing")
        host = f.host(f.req_str(request, "host", "request"), "request.host")
        at = f.iso_time(f.opt_str(ev, "timestamp", ""), "timestamp")
        tag = f.tag(f.opt_str(target, "tag", "target"), "target.tag")
        if action == "delete":
            raw = f.opt_str(target, "digest", "target")
            digest = f.digest(raw, "target.digest") if raw is not None else None
            return [Deleted(host, repository, digest, tag, at, self.name)]
        digest = f.digest(f.req_str(target, "digest", "target"), "target.digest")
        return [ScanRequest(host, repository, digest, tag, media_type, at, self.name)]
