import httpx

from tests.support.images import OciLayoutBuilder, push


def test_smoke(registry, auth_registry, tmp_path):
    b = OciLayoutBuilder(tmp_path / "l")
    b.add_image([{"/etc/os-release": b"ID=alpine\n"}], tag="v1")
    push(b.path, "v1", f"{registry.host}/smoke:v1")
    r = httpx.get(f"{registry.url}/v2/smoke/tags/list")
    assert r.json()["tags"] == ["v1"]
    push(b.path, "v1", f"{auth_registry.host}/smoke:v1", creds="alice:wonderland-42")
    assert httpx.get(f"{auth_registry.url}/v2/").status_code == 401
