"""A Docker token server (the "token" auth of CNCF Distribution) for tests.

It implements the two endpoints of the Docker token specification on 127.0.0.1:

* ``GET /token?service=&scope=&account=``: Basic credentials (or none: anonymous), answers
  ``{"token", "access_token", "expires_in", "issued_at"}``;
* ``POST /token`` (OAuth2): ``grant_type=password`` (``access_type=offline`` adds a
  ``refresh_token``) and ``grant_type=refresh_token``.

Tokens are JWTs signed ES256 with a fresh P-256 key. The registry trusts them through
``rootcertbundle``: a self-signed certificate for that key. The JWT header names the key
with libtrust's key id (``kid``), which Distribution 2.8 looks up among the bundle's keys.

    ts = TokenServer.start(tmp_path, users={"alice": "wonderland-42"})
    reg = start_registry(tmp_path / "reg", token=ts.registry_config())
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

SERVICE = "shoal-test-registry"
ISSUER = "shoal-test-token-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(key: ec.EllipticCurvePublicKey) -> str:
    """libtrust's key id: sha256 of the DER SubjectPublicKeyInfo, first 240 bits, base32,
    in colon-separated groups of four (``ABCD:EFGH:...``)."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


@dataclass
class Grant:
    """One token request as the server saw it (for assertions)."""

    method: str
    account: str | None
    scopes: list[str]
    grant_type: str | None = None


@dataclass
class TokenServer:
    cert_path: Path
    users: dict[str, str]
    anonymous_pull: bool
    expires_in: int
    key: ec.EllipticCurvePrivateKey = field(repr=False)
    server: ThreadingHTTPServer | None = None
    grants: list[Grant] = field(default_factory=list)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> user

    @classmethod
    def start(
        cls,
        root: Path,
        *,
        users: dict[str, str] | None = None,
        anonymous_pull: bool = False,
        expires_in: int = 300,
    ) -> TokenServer:
        root.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_path = root / "token-cert.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        ts = cls(
            cert_path=cert_path,
            users=dict(users or {}),
            anonymous_pull=anonymous_pull,
            expires_in=expires_in,
            key=key,
        )
        ts.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(ts))
        threading.Thread(target=ts.server.serve_forever, daemon=True).start()
        return ts

    @property
    def realm(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/token"

    def registry_config(self) -> dict[str, Any]:
        """The `auth.token` section for `start_registry(token=...)`."""
        return {
            "realm": self.realm,
            "service": SERVICE,
            "issuer": ISSUER,
            "rootcertbundle": str(self.cert_path),
        }

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- token logic ------------------------------------------------------------------------

    def grant(self, account: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        """What ``account`` (None = anonymous) may do: push+pull on every repository when
        authenticated, pull when anonymous_pull, the catalog when authenticated."""
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            rtype, rname, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            if rtype == "repository":
                allowed = (
                    {"pull", "push"} if account else ({"pull"} if self.anonymous_pull else set())
                )
            elif rtype == "registry" and rname == "catalog":
                allowed = {"*"} if account else set()
            else:
                allowed = set()
            granted = [a for a in actions if a in allowed]
            if granted:
                access.append({"type": rtype, "name": rname, "actions": granted})
        return access

    def issue(self, account: str | None, scopes: list[str]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "kid": libtrust_key_id(self.key.public_key())}
        claims = {
            "iss": ISSUER,
            "sub": account or "",
            "aud": SERVICE,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": self.grant(account, scopes),
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        # JWS ES256 signatures are r || s, 32 bytes each, not DER.
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def response(
        self, account: str | None, scopes: list[str], *, refresh: bool = False
    ) -> dict[str, Any]:
        token = self.issue(account, scopes)
        body: dict[str, Any] = {
            "token": token,
            "access_token": token,
            "expires_in": self.expires_in,
            "issued_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if refresh and account:
            rt = secrets.token_urlsafe(24)
            self.refresh_tokens[rt] = account
            body["refresh_token"] = rt
        return body

    def check_basic(self, header: str | None) -> tuple[bool, str | None]:
        """(ok, account) for an Authorization header; no header is anonymous."""
        if not header:
            return True, None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, _, pw = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False, None
        return (self.users.get(user) == pw and bool(user)), user


def _handler_for(ts: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/token":
                self._send(404, {"error": "not found"})
                return
            q = parse_qs(url.query)
            scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
            ok, account = ts.check_basic(self.headers.get("Authorization"))
            ts.grants.append(Grant("GET", account, scopes))
            if not ok:
                self._send(401, {"details": "incorrect username or password"})
                return
            if q.get("service", [SERVICE])[0] != SERVICE:
                self._send(400, {"details": "unknown service"})
                return
            self._send(
                200, ts.response(account, scopes, refresh=q.get("offline_token") == ["true"])
            )

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/token":
                self._send(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            scopes = [s for s in form.get("scope", "").split(" ") if s]
            grant_type = form.get("grant_type")
            account: str | None = None
            if grant_type == "password":
                user, pw = form.get("username", ""), form.get("password", "")
                if ts.users.get(user) != pw or not user:
                    ts.grants.append(Grant("POST", user, scopes, grant_type))
                    self._send(401, {"error": "invalid_grant"})
                    return
                account = user
            elif grant_type == "refresh_token":
                account = ts.refresh_tokens.get(form.get("refresh_token", ""))
                if account is None:
                    ts.grants.append(Grant("POST", None, scopes, grant_type))
                    self._send(401, {"error": "invalid_grant"})
                    return
            else:
                self._send(400, {"error": "unsupported_grant_type"})
                return
            ts.grants.append(Grant("POST", account, scopes, grant_type))
            self._send(
                200, ts.response(account, scopes, refresh=form.get("access_type") == "offline")
            )

    return Handler
