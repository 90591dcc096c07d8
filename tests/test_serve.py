"""The HTTP service on a real uvicorn server at 127.0.0.1: keys, tenants, limits, logs."""
import json
import socket
import threading
import time

import httpx
import pytest

from unembed.serve import ServerConfig, hash_key

SECRET = "The harbour master Eleanor Whitby logged 42 trawlers at dawn."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(isolated_home, tmp_path):
    import uvicorn

    from unembed.serve.app import create_app
    cfg_file = tmp_path / "server.toml"
    cfg_file.write_text(f'''data_dir = "{tmp_path / 'data'}"
max_batch = 8
max_body_bytes = 200000
inverter = "lookup"

[tenants.acme]
key_sha256 = ["{hash_key('acme-key')}"]
invert_per_minute = 12

[tenants.globex]
key_sha256 = "{hash_key('globex-key')}"
''')
    cfg = ServerConfig.load(cfg_file)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", cfg
    srv.should_exit = True
    thread.join(timeout=10)


def client(base, key=None):
    return httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"} if key else {})


def test_keys_tenants_limits_and_logs(server):
    base, cfg = server
    anon, acme, globex = client(base), client(base, "acme-key"), client(base, "globex-key")
    assert anon.get("/health").json() == {"status": "ok"}
    assert anon.post("/v1/embed", json={"input": ["x"]}).status_code == 401
    assert client(base, "wrong").post("/v1/embed", json={"input": ["x"]}).status_code == 401
    r = acme.post("/v1/embed", json={"input": ["a cat on a mat", "stock markets fell"]})
    assert r.status_code == 200 and r.json()["dim"] == 384 and len(r.json()["data"]) == 2
    vec = r.json()["data"][0]["embedding"]
    r = acme.post("/v1/invert", json={"vectors": [vec]})
    assert r.status_code == 200 and r.json()["data"][0]["text"] and -1 <= r.json()["data"][0]["cosine"] <= 1
    # bad input: 4xx with the problem named, never a 500
    r = acme.post("/v1/invert", json={"vectors": [vec[:100]]})
    assert r.status_code == 400 and "expected dimension 384" in r.json()["error"]
    assert acme.post("/v1/invert", json={"vectors": [[0.0] * 384]}).status_code == 400
    assert acme.post("/v1/invert", json={"vectors": [vec, vec[:5]]}).status_code == 400
    assert acme.post("/v1/embed", json={"input": []}).status_code == 422
    assert acme.post("/v1/embed", json={"input": ["x"] * 9}).status_code == 413
    assert acme.post("/v1/embed", json={"inpt": ["x"]}).status_code == 422
    assert acme.post("/v1/embed", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 422
    assert acme.post("/v1/embed", json={"input": ["y" * 300000]}).status_code == 413
    # tenants: a store of acme's does not exist for globex, not even by name
    r = acme.post("/v1/rag/ingest", json={"store": "notes", "documents": [{"id": "log.txt", "text": SECRET}]})
    assert r.status_code == 200 and r.json()["chunks_added"] == 1 and r.json()["mode"] == "lossy"
    r = acme.post("/v1/rag/ask", json={"store": "notes", "questions": ["How many trawlers?"], "k": 1})
    assert r.status_code == 200 and r.json()["results"][0]["contexts"][0]["reconstructed"]
    r = globex.post("/v1/rag/ask", json={"store": "notes", "questions": ["How many trawlers?"], "k": 1})
    assert r.status_code == 404 and r.json()["detail"] == "no store named 'notes'"
    assert globex.get("/v1/rag/stores").json() == {"stores": []}
    assert acme.get("/v1/rag/stores").json() == {"stores": ["notes"]}
    assert globex.post("/v1/rag/ask", json={"store": "../acme", "questions": ["x"]}).status_code == 400
    # per-tenant rate limit on inversion (12 per minute; 1 + 1 + 1 used above, ask used k=1)
    codes = [acme.post("/v1/invert", json={"vectors": [vec]}).status_code for _ in range(10)]
    assert codes.count(429) >= 1 and codes[0] == 200
    assert globex.post("/v1/invert", json={"vectors": [vec]}).status_code == 200  # another tenant's budget
    # the lossy store and the logs hold no plaintext; the access log says who read which store
    blob = b"".join(p.read_bytes() for p in cfg.data_dir.rglob("*") if p.is_file())
    for word in (b"Whitby", b"trawlers", b"harbour", b"acme-key"):
        assert word not in blob
    log = [json.loads(ln) for ln in (cfg.data_dir / "access.log").read_text().splitlines()]
    assert {"tenant": "acme", "endpoint": "/v1/rag/ask", "store": "notes", "items": 1, "status": 200}.items() <= \
        next(e for e in log if e.get("store") == "notes" and e["endpoint"] == "/v1/rag/ask").items()
    assert any(e["status"] == 401 and e["tenant"] is None for e in log)
    assert any(e["status"] == 429 for e in log)
    schema = anon.get("/openapi.json").json()
    assert {"/v1/embed", "/v1/invert", "/v1/blend", "/v1/rag/ingest", "/v1/rag/ask"} <= set(schema["paths"])
