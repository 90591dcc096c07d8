"""The HTTP service on a real uvicorn server at 127.0.0.1: keys, tenants, limits, logs."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import client

from unembed.errors import InputError, StoreError
from unembed.serve import ServerConfig, hash_key
from unembed.store import open_store

SECRET = "The harbour master Eleanor Whitby logged 42 trawlers at dawn."


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
    # encrypted at rest: the store is sealed, and the secret's vector is nowhere on disk as bytes
    store_dir = cfg.data_dir / "tenants" / "acme" / "stores" / "notes"
    assert json.loads((store_dir / "store.json").read_text())["cipher"] == "aes-256-gcm"
    secret_vec = np.asarray(acme.post("/v1/embed", json={"input": [SECRET]}).json()["data"][0]["embedding"], np.float32)
    disk = b"".join(p.read_bytes() for p in store_dir.rglob("*") if p.is_file())
    assert secret_vec[:8].tobytes() not in disk and secret_vec[100:108].tobytes() not in disk
    with pytest.raises(StoreError, match="encrypted; give the key"):
        open_store(store_dir)
    r = acme.post("/v1/rag/ask", json={"store": "notes", "questions": ["How many trawlers?"], "k": 1})
    assert r.status_code == 200 and r.json()["results"][0]["contexts"][0]["reconstructed"]
    r = globex.post("/v1/rag/ask", json={"store": "notes", "questions": ["How many trawlers?"], "k": 1})
    assert r.status_code == 404 and r.json()["error"] == "no store named 'notes'"
    assert globex.get("/v1/rag/stores").json() == {"stores": []}
    initech = client(base, "initech-key")  # its config fixes its stores to ["ledger"]
    doc = {"id": "a", "text": "Quarterly ledger closed."}
    assert initech.post("/v1/rag/ingest", json={"store": "notes", "documents": [doc]}).status_code == 403
    assert initech.post("/v1/rag/ingest", json={"store": "ledger", "documents": [doc]}).status_code == 200
    assert initech.post("/v1/rag/ask", json={"store": "notes", "questions": ["x"], "k": 1}).status_code == 404
    assert acme.get("/v1/rag/stores").json() == {"stores": ["notes"]}
    r = globex.post("/v1/rag/ask", json={"store": "../acme", "questions": ["x"]})
    assert r.status_code == 422 and r.json()["error"].startswith("invalid request: store: String should match pattern")
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


def test_memory_audit_and_roundtrip_endpoints(server):
    base, cfg = server
    acme, globex = client(base, "acme-key"), client(base, "globex-key")
    r = acme.post("/v1/roundtrip", json={"input": "stock markets fell sharply", "steps": 2, "beam": 2})
    body = r.json()
    assert r.status_code == 200 and body["trace"] and body["trace"][-1]["text"] == body["text"]
    assert abs(body["trace"][-1]["cosine"] - body["cosine"]) < 1e-3 and 0 <= body["token_f1"] <= 1
    # concept memory: add, merge near-duplicates, show with provenance; sealed on disk; per tenant
    texts = ["the cat sat on the mat", "a cat sat on a mat", "stock markets fell sharply"]
    r = acme.post("/v1/memory/add", json={"memory": "ideas", "input": texts, "source": "chat-7"})
    assert r.status_code == 200 and r.json()["concepts"] == 3
    r = acme.post("/v1/memory/consolidate", json={"memory": "ideas", "threshold": 0.9})
    assert r.status_code == 200 and (r.json()["before"], r.json()["after"]) == (3, 2)
    shown = acme.post("/v1/memory/show", json={"memory": "ideas", "invert": True}).json()
    assert [c["count"] for c in shown["concepts"]] == [2, 1] and all(c["text"] for c in shown["concepts"])
    assert {i["source"] for i in shown["concepts"][0]["items"]} == {"chat-7"}
    mem_dir = cfg.data_dir / "tenants" / "acme" / "memories" / "ideas"
    assert json.loads((mem_dir / "memory.json").read_text())["cipher"] == "aes-256-gcm"
    assert globex.post("/v1/memory/show", json={"memory": "ideas"}).status_code == 404
    assert globex.get("/v1/memory").json() == {"memories": []} and acme.get("/v1/memory").json() == {"memories": ["ideas"]}
    # audit: a lossy store has no truth, so the report lists reconstructions and entities found
    docs = [{"id": f"d{i}", "text": t} for i, t in enumerate(
        ["Contact Maria Lopez at maria.lopez@example.com about invoice 4471.", "The ferry leaves at 9 from pier 3."])]
    assert acme.post("/v1/rag/ingest", json={"store": "crm", "documents": docs}).status_code == 200
    rep = acme.post("/v1/audit", json={"store": "crm", "sample": 2, "steps": 1, "beam": 1}).json()
    assert rep["n"] == 2 and rep["verdict"] in ("LOW", "MEDIUM", "HIGH") and len(rep["samples"]) == 2
    assert "text" not in rep["samples"][0]  # lossy: the server has no original to compare with
    page = acme.post("/v1/audit", json={"store": "crm", "sample": 1, "steps": 0, "format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html") and "id='verdict'" in page.text
    assert globex.post("/v1/audit", json={"store": "crm"}).status_code == 404
    assert acme.post("/v1/audit", json={"store": "crm", "sample": 9}).status_code == 413
    assert acme.post("/v1/audit", json={"store": "crm", "format": "pdf"}).status_code == 422
    blob = b"".join(p.read_bytes() for p in cfg.data_dir.rglob("*") if p.is_file())
    for word in (b"Lopez", b"maria.lopez", b"ferry", b"markets"):
        assert word not in blob


def test_server_refuses_to_start_without_a_store_key(tmp_path, monkeypatch):
    monkeypatch.delenv("UNEMBED_STORE_KEY_FILE", raising=False)
    monkeypatch.delenv("UNEMBED_STORE_KEY", raising=False)
    cfg = tmp_path / "server.toml"
    cfg.write_text(f'[tenants.a]\nkey_sha256 = "{hash_key("k")}"\n')
    with pytest.raises(InputError, match="encryption at rest needs a key"):
        ServerConfig.load(cfg)
    cfg.write_text(f'encrypt_at_rest = false\n[tenants.a]\nkey_sha256 = "{hash_key("k")}"\n')
    assert ServerConfig.load(cfg).store_key is None
    monkeypatch.setenv("UNEMBED_STORE_KEY", "short")
    with pytest.raises(InputError, match="shorter than 16 bytes"):
        ServerConfig.load(cfg)


@pytest.mark.slow
def test_fuzzed_from_the_openapi_schema_never_a_500(server, tmp_path):
    """Schemathesis generates requests from /openapi.json (valid, invalid, wrong types, wrong methods):
    every response is below 500, and every error carries a message under "error"."""
    base, _ = server
    har = tmp_path / "fuzz.har"
    run = subprocess.run([str(Path(sys.executable).parent / "schemathesis"), "run", f"{base}/openapi.json",
                          "-H", "Authorization: Bearer globex-key", "--checks", "not_a_server_error",
                          "-n", "15", "--seed", "7", "--request-timeout", "120", "--suppress-health-check", "all",
                          "--report", "har", "--report-har-path", str(har)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[run.stdout.find("ERRORS"):][:3000] or run.stdout[-3000:]
    entries = json.loads(har.read_text())["log"]["entries"]
    statuses = Counter(e["response"]["status"] for e in entries)
    print(len(entries), "fuzzed requests:", dict(sorted(statuses.items())))
    assert len(entries) > 300 and statuses[200] > 20 and max(statuses) < 500, statuses
    for e in entries:
        if e["response"]["status"] >= 400:
            body = json.loads(e["response"]["content"]["text"])
            assert isinstance(body.get("error"), str) and body["error"], body


def test_inversion_queue_is_fair_and_sheds_load_with_503():
    import threading
    import time

    from fastapi import HTTPException

    from unembed.serve.app import InversionQueue
    q, order, release = InversionQueue(depth=4, per_tenant=3), [], threading.Event()

    def job(tenant, hold=False):
        with q.slot(tenant):
            order.append(tenant)
            if hold:
                release.wait(10)
    threads = [threading.Thread(target=job, args=("a", True))]
    threads[0].start()
    while q.held < 1:
        time.sleep(0.01)
    for tenant in ("a", "a", "b"):  # a's burst arrives before b's one request
        threads.append(threading.Thread(target=job, args=(tenant,)))
        threads[-1].start()
        while q.held < len(threads):
            time.sleep(0.01)
    with pytest.raises(HTTPException) as shed:  # 4 held: the queue is full
        with q.slot("c"):
            pass
    assert shed.value.status_code == 503 and "busy" in shed.value.detail
    release.set()
    for th in threads:
        th.join(10)
    assert order == ["a", "b", "a", "a"]  # b, served never, goes before a's waiting burst
    assert q.held == 0
    q2 = InversionQueue(depth=8, per_tenant=1)
    with q2.slot("a"):
        with pytest.raises(HTTPException, match=None) as one_tenant:
            with q2.slot("a"):
                pass
    assert "this tenant's" in one_tenant.value.detail
