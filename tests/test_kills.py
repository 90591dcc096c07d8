"""kill -9 at random points of ingest, re-ingest, memory add, consolidation and rekey, a server killed
mid-request, and writers in several processes at once: every acknowledged write is there exactly
once afterwards, and every unacknowledged one is absent or whole. Slow tier: each round starts a
real Python process that loads the real embedder.

Each worker prints READY once loaded, then ACK lines as writes are acknowledged; the test kills it
at a random moment of its working time (measured by an uninterrupted first run), then checks."""
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytestmark = pytest.mark.slow

WORKER = r'''
import sys, json
from pathlib import Path
job, root = sys.argv[1], Path(sys.argv[2])
from unembed.embed import load_embedder
emb = load_embedder("minilm")
emb.embed(["warm up"])
print("READY", flush=True)
if job == "ingest":
    from unembed.rag.ingest import ingest, open_or_create
    store = open_or_create(root / "store", emb, "lookup")
    ingest([str(root / "docs")], store, emb, batch_chunks=4, progress=False)
    print("DONE", flush=True)
elif job == "memory":
    from unembed.concepts import ConceptMemory
    start = int(sys.argv[3])
    mem = ConceptMemory.open_or_create(root / "mem", emb.name, emb.dim)
    for i in range(start, start + 40):
        rep = mem.add(emb.embed([f"note {i % 7} about the tides at the harbour"]), [f"n{i}"], merge_above=0.95)
        print("ACK", i, rep[0]["item"], flush=True)
        if i % 5 == 4:
            mem.consolidate(0.8)
            print("CONSOLIDATED", flush=True)
    print("DONE", flush=True)
elif job == "rekey":
    from unembed.store import open_store
    keys = [b"first key of the store, 32 bytes", b"second key of the store 32 bytes"]
    for n in range(12):
        old, new = keys[n % 2], keys[(n + 1) % 2]
        open_store(root / "store", old).rekey(new)
        print("ACK", n, flush=True)
    print("DONE", flush=True)
'''


def _start(tmp, *args):
    script = tmp / "worker.py"
    script.write_text(WORKER)
    p = subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.stdout.readline().strip() == "READY"
    return p


def _run_and_kill(tmp, delay, *args) -> list[str]:
    """Start a worker, let it work `delay` seconds (None: to the end), kill -9; its output lines."""
    p = _start(tmp, *args)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(ln.strip() for ln in p.stdout))
    reader.start()
    if delay is None:
        p.wait(600)
    else:
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(60)
    reader.join(10)
    return lines


def _timed(tmp, *args) -> float:
    t0 = time.monotonic()
    lines = _run_and_kill(tmp, None, *args)
    assert lines[-1] == "DONE", lines
    return time.monotonic() - t0


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_reingest_killed_anywhere_keeps_each_document_whole(isolated_home):
    from unembed.store import open_store
    tmp, rng = isolated_home, random.Random(7)
    docs = tmp / "docs"
    docs.mkdir()
    versions: dict[str, set[str]] = {}

    def write(round_no):  # each round changes every file, growing or shrinking its chunk count
        for d in range(40):
            lines = rng.randint(1, 6)
            text = "\n\n".join(f"Round {round_no}: paragraph {j} of file {d} on the history of the mill race."
                               for j in range(lines)) + "\n"
            (docs / f"f{d:02d}.txt").write_text(text)
            versions.setdefault(f"f{d:02d}.txt", set()).add(_hash(text))

    write(0)
    full = _timed(tmp, "ingest", tmp)
    kills = 0
    for round_no in range(1, 6):
        write(round_no)
        _run_and_kill(tmp, rng.uniform(0.05, full), "ingest", tmp)
        kills += 1
        state = open_store(tmp / "store").documents()
        assert len(state) == 40, f"round {round_no}: {40 - len(state)} documents lost"
        for doc, st in state.items():
            assert st.complete, f"round {round_no}: {doc} half-written"
            assert st.doc_hash in versions[doc.rsplit("/", 1)[-1]]
    _timed(tmp, "ingest", tmp)  # an uninterrupted re-run brings every file to its last version
    store = open_store(tmp / "store")
    ids = store.table.to_arrow()["id"].to_pylist()
    assert len(ids) == len(set(ids))
    for doc, st in store.documents().items():
        assert st.complete and st.doc_hash == _hash((docs / doc.rsplit("/", 1)[-1]).read_text())
    print(f"re-ingest: {kills} kills survived, 40 documents each whole after every one")


def test_memory_adds_and_consolidations_killed_anywhere_lose_nothing(isolated_home):
    from unembed.concepts import ConceptMemory
    tmp, rng = isolated_home, random.Random(11)
    full = _timed(tmp, "memory", tmp, 0)
    acked = 40
    for k in range(1, 5):
        lines = _run_and_kill(tmp, rng.uniform(0.05, full), "memory", tmp, k * 100)
        acked += sum(ln.startswith("ACK") for ln in lines)
        items = [i.source for c in ConceptMemory.open(tmp / "mem").concepts() for i in c.items]
        assert len(items) == len(set(items)), "an item counted twice"
        assert acked <= len(items) <= acked + 1, (acked, len(items))  # the one in flight: absent or whole
        acked = len(items)
    print(f"memory: 4 kills survived, {acked} items each present once")


def test_rekey_killed_anywhere_leaves_the_store_under_one_key(isolated_home, minilm):
    from unembed.errors import StoreError
    from unembed.rag.ingest import ingest_texts, open_or_create
    from unembed.store import open_store
    tmp, rng = isolated_home, random.Random(3)
    keys = [b"first key of the store, 32 bytes", b"second key of the store 32 bytes"]
    st = open_or_create(tmp / "store", minilm, "lookup", key=keys[0])
    ingest_texts([(f"d{i}", f"Ledger line {i}: forty sacks of flour.") for i in range(30)], st, minilm)
    want = sorted(st.table.to_arrow()["id"].to_pylist())
    vecs = {h.id: h.vector for h in st.rows()}
    full = _timed(tmp, "rekey", tmp)  # 12 rekeys: ends under the first key
    for _ in range(4):
        _run_and_kill(tmp, rng.uniform(0.05, full), "rekey", tmp)
        opened = []
        for k in keys:
            try:
                opened.append((open_store(tmp / "store", k), k))
            except StoreError:
                pass
        assert len(opened) == 1, "the store must open under exactly one of the keys"
        store, under = opened[0]
        assert sorted(h.id for h in store.rows()) == want
        assert all(np.allclose(h.vector, vecs[h.id], atol=1e-6) for h in store.rows())
        assert not (tmp / "store.rekey").exists() and not (tmp / "store.old").exists()
        if under != keys[0]:  # the next round's worker starts from the first key
            store.rekey(keys[0])
    print("rekey: 4 kills survived, every row under one key each time")


def _serve(tmp, port):
    from unembed.serve import hash_key
    cfg = tmp / "server.toml"
    (tmp / "store.key").write_text("a server store key of 32 bytes!!\n")
    cfg.write_text(f'data_dir = "{tmp / "data"}"\nstore_key_file = "store.key"\ninverter = "lookup"\n'
                   f'max_batch = 8\n[tenants.acme]\nkey_sha256 = ["{hash_key("acme-key")}"]\nembed_per_minute = 100000\n')
    p = subprocess.Popen([sys.executable, "-m", "unembed.cli", "serve", "--config", str(cfg), "--port", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return p
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def test_a_server_killed_mid_request_keeps_every_acknowledged_write(isolated_home):
    import socket

    import httpx

    from unembed.concepts import ConceptMemory
    from unembed.store import open_store
    from unembed.store.crypto import read_store_key
    tmp, rng = isolated_home, random.Random(5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = b"a server store key of 32 bytes!!"
    acked_docs, acked_items, sent, statuses = set(), 0, 0, []
    for round_no in range(3):
        server = _serve(tmp, port)
        # the first write loads the embedder (seconds on a busy machine): kill during writes, not during that
        warm = httpx.post(f"http://127.0.0.1:{port}/v1/embed", json={"input": ["warm up"]}, timeout=300,
                          headers={"Authorization": "Bearer acme-key"})
        assert warm.status_code == 200
        stop = threading.Event()

        def writer(w):
            nonlocal acked_items, sent
            c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                             headers={"Authorization": "Bearer acme-key"})
            n = 0
            while not stop.is_set():
                n += 1
                doc = f"r{round_no}-w{w}-{n}"
                try:
                    sent += 2
                    r = c.post("/v1/rag/ingest", json={"store": "notes", "documents": [
                        {"id": doc, "text": f"Note {doc}: the sluice was opened at {n} o'clock."}]})
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        acked_docs.add(doc)
                    r = c.post("/v1/memory/add", json={"memory": "m", "input": [f"item {doc}"], "merge_above": 0.97})
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        acked_items += 1
                except httpx.HTTPError:
                    return  # the server is gone: this request was never acknowledged

        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(writer, w) for w in range(3)]
            time.sleep(rng.uniform(3, 8))
            server.send_signal(signal.SIGKILL)
            server.wait(30)
            stop.set()
            for f in futures:
                f.result(60)
    assert statuses and max(statuses) < 500, sorted(set(statuses))
    store = open_store(tmp / "data" / "tenants" / "acme" / "stores" / "notes", key)
    state = store.documents()
    assert acked_docs <= set(state), f"{len(acked_docs - set(state))} acknowledged documents lost"
    assert all(st.complete for st in state.values()) and len(set(state) - acked_docs) <= 9  # in flight: whole
    ids = store.table.to_arrow()["id"].to_pylist()
    assert len(ids) == len(set(ids))
    mem = ConceptMemory.open(tmp / "data" / "tenants" / "acme" / "memories" / "m", key=key)
    items = sum(c.count for c in mem.concepts())
    assert acked_items <= items <= acked_items + 9
    print(f"server: 3 kills mid-request, {len(acked_docs)} acknowledged documents and {acked_items} memory items "
          f"all present once, {len(statuses)} answers, none >= 500")


def test_writers_in_several_processes_at_once(isolated_home):
    tmp = isolated_home
    cmd = [sys.executable, "-m", "unembed.cli"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd + ["memory", "add", "the same passing thought", "--store", str(tmp / "mem"),
                                     "--merge-above", "0.9", "--source", f"p{i}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(4)]
    for i in range(4):
        (tmp / f"d{i}").mkdir()
        (tmp / f"d{i}" / f"f{i}.txt").write_text(f"Process {i} wrote this note about the weir.\n")
    procs += [subprocess.Popen(cmd + ["rag", "ingest", str(tmp / f"d{i}"), "--store", str(tmp / "store")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(4)]
    errors = [p.communicate(600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    from unembed.concepts import ConceptMemory
    from unembed.store import open_store
    concepts = ConceptMemory.open(tmp / "mem").concepts()
    assert len(concepts) == 1 and concepts[0].count == 4
    assert {i.source for i in concepts[0].items} == {f"p{i}" for i in range(4)}
    state = open_store(tmp / "store").documents()
    assert len(state) == 4 and all(st.complete for st in state.values())
