"""The Distribution dialect against what the real registry (Distribution 2.8) sends.

A registry is started with a notifications endpoint pointing at a small receiver running
in this test (stdlib http.server on 127.0.0.1), with the Authorization header configured
the way an administrator would. An image is pushed with skopeo, then pulled; every
delivery the receiver recorded must verify with the secret, and parse to exactly the
manifest-level events, with the layer and config blob events ignored.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr

from shoal.triggers import (
    DistributionTrigger,
    PullEvent,
    ScanRequest,
    TriggerAuthError,
    TriggerEvent,
)
from tests.support.images import OciLayoutBuilder, push
from tests.support.registry import Registry, start_registry

pytestmark = pytest.mark.integration

SECRET = "s3cret"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class Receiver:
    """Records each POST (headers, body) and answers 200, as a webhook endpoint would."""

    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return list(self.deliveries)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with rec.lock:
                rec.deliveries.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec, int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def notifying_registry(tmp_path: Path, receiver: tuple[Receiver, int]) -> Iterator[Registry]:
    _, port = receiver
    endpoint = {
        "name": "shoal",
        "url": f"http://127.0.0.1:{port}/hook",
        "headers": {"Authorization": [f"Bearer {SECRET}"]},
        "timeout": "1s",
        "threshold": 1,
        "backoff": "1s",
    }
    reg = start_registry(tmp_path / "registry", notifications=[endpoint])
    yield reg
    reg.stop()


def parsed(rec: Receiver) -> list[TriggerEvent]:
    trigger = DistributionTrigger()
    return [e for headers, body in rec.snapshot() for e in trigger.parse(headers, body)]


def wait_for(rec: Receiver, done: Callable[[list[TriggerEvent]], bool]) -> list[TriggerEvent]:
    """Deliveries are asynchronous (the registry queues them); poll, with a generous cap."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = parsed(rec)
        if done(events):
            return events
        time.sleep(0.05)
    pytest.fail(f"registry did not deliver the expected events; got {parsed(rec)!r}")


def test_push_and_pull_notifications_verify_and_parse(
    tmp_path: Path, notifying_registry: Registry, receiver: tuple[Receiver, int]
) -> None:
    rec, _ = receiver
    reg = notifying_registry
    layout = OciLayoutBuilder(tmp_path / "layout")
    img = layout.add_image(
        [{"/etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"}, {"/app/hello": b"hi\n"}], tag="v1"
    )
    push(layout.path, "v1", f"{reg.host}/team/app:v1")

    events = wait_for(rec, lambda ev: any(isinstance(e, ScanRequest) for e in ev))
    pushes = [e for e in events if isinstance(e, ScanRequest)]
    assert pushes == [
        ScanRequest(
            registry_host=reg.host,
            repository="team/app",
            digest=img.manifest_digest,
            tag="v1",
            media_type=OCI_MANIFEST,
            pushed_at=pushes[0].pushed_at,
            source="distribution",
        )
    ]
    assert pushes[0].pushed_at is not None
    # The registry really did report the two layers and the config: they were ignored.
    blob_deliveries = [b for _, b in rec.snapshot() if b'"application/octet-stream"' in b]
    assert len(blob_deliveries) >= 3

    res = subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            f"docker://{reg.host}/team/app:v1",
            f"dir:{tmp_path / 'pulled'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    events = wait_for(rec, lambda ev: any(isinstance(e, PullEvent) for e in ev))
    pulls = [e for e in events if isinstance(e, PullEvent)]
    assert {(p.registry_host, p.repository, p.digest, p.tag) for p in pulls} == {
        (reg.host, "team/app", img.manifest_digest, "v1")
    }
    # Still one scan request: pulls and blob fetches add none.
    assert len([e for e in parsed(rec) if isinstance(e, ScanRequest)]) == 1

    trigger = DistributionTrigger()
    for headers, body in rec.snapshot():
        assert headers["Content-Type"] == "application/vnd.docker.distribution.events.v1+json"
        trigger.verify(headers, body, SecretStr(SECRET))
        with pytest.raises(TriggerAuthError, match="wrong secret"):
            trigger.verify(headers, body, SecretStr("not-the-secret"))
