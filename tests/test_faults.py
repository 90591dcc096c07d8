"""Nothing lost, nothing leaked, every bad input a clear error: batches that fail whole, writers that
race, limits that hold, on the real server at 127.0.0.1, real LanceDB directories and the real CLI.
The kill -9 rounds are in test_kills.py (slow tier)."""
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import numpy as np
import pytest
from conftest import client

from unembed.store import open_store


def _post_all(base, key, path, bodies, workers=6):
    def one(body):
        return client(base, key).post(path, json=body)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, bodies))


def test_a_bad_document_fails_the_whole_batch_and_changes_nothing(server):
    base, cfg = server
    acme = client(base, "acme-key")
    docs = [{"id": "d1", "text": "The kiln was fired twice in March."}, {"id": "d2", "text": "Otters nest near the weir."}]
    assert acme.post("/v1/rag/ingest", json={"store": "notes", "documents": docs}).status_code == 200
    store = open_store(cfg.data_dir / "tenants" / "acme" / "stores" / "notes", cfg.store_key)
    before = store.documents()
    bad = ('{"store": "notes", "documents": [{"id": "d1", "text": "Updated one."}, {"id": "d2", "text": "Updated two."},'
           ' {"id": "d9", "text": "bad \\ud800 text"}]}')
    r = acme.post("/v1/rag/ingest", content=bad.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "documents/2/text" in r.json()["error"] and "Unicode" in r.json()["error"]
    store.table.checkout_latest()
    assert store.documents() == before and store.count() == 2
    # a repeated id in one batch is refused whole too
    r = acme.post("/v1/rag/ingest", json={"store": "notes", "documents": [docs[0], {"id": "d1", "text": "again"}]})
    assert r.status_code == 400 and "appears twice" in r.json()["error"]
    store.table.checkout_latest()
    assert store.documents() == before


def test_the_library_prepares_every_document_before_it_writes(isolated_home, minilm):
    from unembed.errors import InputError
    from unembed.rag.ingest import ingest_texts, open_or_create
    store = open_or_create(isolated_home / "s", minilm, "lookup")
    ingest_texts([("a", "First text about rivers."), ("b", "Second text about hills.")], store, minilm)
    before = store.documents()
    with pytest.raises(InputError, match="document 'c'.*not valid Unicode"):
        ingest_texts([("a", "Changed."), ("c", "bad \ud800")], store, minilm)
    assert store.documents() == before
    # a replace that shrinks a document leaves exactly its new chunks
    long = " ".join(f"Sentence {i} is about the long history of the mill." for i in range(30))
    ingest_texts([("a", long)], store, minilm)
    n_long = store.documents()["a"].rows
    ingest_texts([("a", "Short again.")], store, minilm)
    assert n_long > 1 and store.documents()["a"].rows == 1 and store.documents()["a"].complete


def test_concurrent_writers_lose_and_double_nothing(server):
    base, cfg = server
    # six adds of one text that merge: every one counts
    rs = _post_all(base, "acme-key", "/v1/memory/add",
                   [{"memory": "m", "input": ["the cat sat on the mat"], "merge_above": 0.9}] * 6)
    assert [r.status_code for r in rs] == [200] * 6
    shown = client(base, "acme-key").post("/v1/memory/show", json={"memory": "m"}).json()
    assert shown["total"] == 1 and shown["concepts"][0]["count"] == 6 and len(shown["concepts"][0]["items"]) == 6
    # six concurrent ingests into a store that does not exist yet: one create, no 500
    rs = _post_all(base, "acme-key", "/v1/rag/ingest",
                   [{"store": "fresh", "documents": [{"id": f"doc{i}", "text": f"Note number {i} about barley."}]}
                    for i in range(6)])
    assert [r.status_code for r in rs] == [200] * 6, [r.text for r in rs]
    store = open_store(cfg.data_dir / "tenants" / "acme" / "stores" / "fresh", cfg.store_key)
    assert sorted(store.documents()) == [f"doc{i}" for i in range(6)] and store.count() == 6
    # six concurrent replaces of one id: its rows are one version's, once
    texts = [" ".join(f"Version {v} line {j} of the same report." for j in range(v + 1)) for v in range(6)]
    rs = _post_all(base, "acme-key", "/v1/rag/ingest",
                   [{"store": "fresh", "documents": [{"id": "doc0", "text": t}]} for t in texts])
    assert [r.status_code for r in rs] == [200] * 6
    store.table.checkout_latest()
    st = store.documents()["doc0"]
    assert st.complete and st.rows == st.n_chunks and store.count() == 5 + st.rows
    ids = store.table.to_arrow()["id"].to_pylist()
    assert len(ids) == len(set(ids))


def test_an_add_during_consolidation_survives(isolated_home, minilm):
    from unembed.concepts import ConceptMemory
    mem = ConceptMemory.open_or_create(isolated_home / "mem", minilm.name, minilm.dim)
    base = minilm.embed([f"topic {i}: the harvest of {w}" for i, w in enumerate(["wheat", "rye", "oats", "barley"] * 5)])
    mem.add(base)
    stop, added = threading.Event(), []

    def adder():
        m = ConceptMemory.open(isolated_home / "mem")
        while not stop.is_set():
            m.add(minilm.embed([f"unrelated note {len(added)} on tides"]))
            added.append(1)

    th = threading.Thread(target=adder)
    th.start()
    for threshold in (0.99, 0.95, 0.9, 0.8):
        ConceptMemory.open(isolated_home / "mem").consolidate(threshold)
    time.sleep(0.5)
    stop.set()
    th.join(30)
    items = sum(c.count for c in ConceptMemory.open(isolated_home / "mem").concepts())
    assert added and items == len(base) + len(added)


def test_limits_hold_chunked_slow_and_invalid_bodies(server):
    base, cfg = server
    acme = client(base, "acme-key")

    def chunks():
        for _ in range(100):
            yield b'{"input": ["' + b"x" * 10_000
    r = acme.post("/v1/embed", content=chunks(), headers={"Content-Type": "application/json"})  # chunked, no length
    assert r.status_code == 413 and "over 200000 bytes" in r.json()["error"]
    r = acme.post("/v1/embed", content=b'{"input": ["a \\udc80 b"]}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "input/0" in r.json()["error"]
    r = acme.post("/v1/embed", content=b'{"input": ["caf\xe9"]}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]
    # a surrogate pair (an emoji) is valid and passes
    assert acme.post("/v1/embed", content=b'{"input": ["ok \\ud83d\\ude00"]}',
                     headers={"Content-Type": "application/json"}).status_code == 200
    # a slow partial body is cut at the read deadline (3 s here)
    u = urlparse(base)
    with socket.create_connection((u.hostname, u.port), timeout=20) as s:
        s.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer acme-key\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"input\":")
        t0 = time.monotonic()
        reply = s.recv(4096)
        assert b" 408 " in reply.split(b"\r\n")[0] and time.monotonic() - t0 < 10
    log = [json.loads(ln) for ln in (cfg.data_dir / "access.log").read_text().splitlines()]
    assert {413, 400, 408} <= {e["status"] for e in log}


def test_failures_are_logged_and_never_show_server_paths(server, monkeypatch):
    from unembed.embed.sbert import SentenceTransformerEmbedder
    from unembed.rag.ingest import open_or_create
    base, cfg = server
    acme = client(base, "acme-key")
    assert acme.post("/v1/embed", json={"input": ["warm"]}).status_code == 200
    # a store sealed with another key than the server's: the operator's problem, said as such
    from unembed.embed import load_embedder
    path = cfg.data_dir / "tenants" / "acme" / "stores" / "other"
    open_or_create(path, load_embedder("minilm"), "lookup", key=b"another key of thirty-two bytes!")
    r = acme.post("/v1/rag/ask", json={"store": "other", "questions": ["x"], "k": 1})
    assert r.status_code == 500 and r.json()["error"].startswith("server misconfigured")
    assert str(cfg.data_dir) not in r.text and "tenants" not in r.text
    # a store error a client can fix names the store, not the directory
    (path.parent / "broken").mkdir()
    (path.parent / "broken" / "store.json").write_text("{not json")
    r = acme.post("/v1/rag/ask", json={"store": "broken", "questions": ["x"], "k": 1})
    assert r.status_code == 400 and "'broken'" in r.json()["error"] and str(cfg.data_dir) not in r.text
    # an internal failure: a JSON 500 that names nothing, and a line in the access log
    monkeypatch.setattr(SentenceTransformerEmbedder, "embed", lambda *a, **k: 1 / 0)
    r = acme.post("/v1/embed", json={"input": ["boom"]})
    assert r.status_code == 500 and r.json() == {"error": "internal error; the server log names it"}
    log = [json.loads(ln) for ln in (cfg.data_dir / "access.log").read_text().splitlines()]
    assert {"tenant": "acme", "endpoint": "/v1/embed", "status": 500}.items() <= log[-1].items()
    assert sum(e["status"] == 500 for e in log) == 2
