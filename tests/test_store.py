"""Stores on real LanceDB directories and Qdrant local mode, filled by the real embedder."""
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from unembed.errors import InputError, MismatchError, StoreError
from unembed.rag.chunk import PART_MIN_WORDS, split_words
from unembed.rag.ingest import DEFAULT_PARTS, ingest, open_or_create
from unembed.store import StoreInfo, bytes_per_vector, create_store, open_store
from unembed.store.encodings import decode, encode

QA_DOCS = Path(__file__).resolve().parent.parent / "benchmarks" / "rag_qa" / "docs"


def doc_words(folder: Path) -> set[str]:
    words = set()
    for f in folder.iterdir():
        words |= {w for w in re.findall(r"[A-Za-z]{6,}", f.read_text())}
    return words


def test_encodings_round_trip_and_sizes():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(20, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    floor = {"f32": 0.9999, "f16": 0.9999, "int8": 0.999, "binary": 0.75}
    for enc, lo in floor.items():
        back = decode(encode(v, enc), enc, 384)
        assert back.shape == v.shape
        assert np.allclose(np.linalg.norm(back, axis=1), 1, atol=1e-5)
        assert (np.sum(back * v, axis=1) > lo).all(), enc
    assert [bytes_per_vector(e, 384) for e in ("f32", "f16", "int8", "binary")] == [1536, 768, 384, 48]


@pytest.mark.parametrize("encoding,parts", [("f32", 1), ("binary", 1), ("int8", 3)])
def test_lossy_store_files_hold_none_of_the_text(tmp_path, minilm, encoding, parts):
    store = create_store(tmp_path / "s", StoreInfo("minilm", 384, "lookup", mode="lossy", encoding=encoding, parts=parts))
    summary = ingest([QA_DOCS], store, minilm, progress=False)
    assert summary["chunks_added"] > 50
    blob = b"".join(p.read_bytes() for p in (tmp_path / "s").rglob("*") if p.is_file())
    paths = str(QA_DOCS.resolve()).lower() + " ".join(f.name for f in QA_DOCS.iterdir())  # metadata it keeps
    words = {w for w in doc_words(QA_DOCS) if w.lower() not in paths}
    assert len(words) > 200
    leaked = [w for w in words if w.encode() in blob or w.lower().encode() in blob]
    assert leaked == []
    hits = open_store(tmp_path / "s").search(minilm.embed(["Who built the lighthouse on the reef?"])[0], k=3)
    assert len(hits) == 3 and all(h.text is None for h in hits)
    assert hits[0].doc.endswith("lighthouse.md")


def test_lossless_and_hybrid_keep_text_by_policy(tmp_path, minilm):
    lossless = create_store(tmp_path / "a", StoreInfo("minilm", 384, "lookup", mode="lossless", encoding="f16"))
    ingest([QA_DOCS], lossless, minilm, progress=False)
    hit = lossless.search(minilm.embed(["When did Vesuvius last erupt?"])[0], k=1)[0]
    assert "1944" in hit.text and hit.doc.endswith("volcano.txt") and hit.score > 0.6
    hybrid = create_store(tmp_path / "b", StoreInfo("minilm", 384, "lookup", mode="hybrid", lossy_patterns=["*.md"]))
    ingest([QA_DOCS], hybrid, minilm, progress=False)
    kept = {h.doc.rsplit(".", 1)[1]: h.text for h in hybrid.get([h.id for h in lossless.search(
        minilm.embed(["sourdough starter", "Vesuvius eruption"]).mean(0), k=40)])}
    assert kept["md"] is None and kept["txt"]


def test_int8_scan_agrees_with_f32(tmp_path, minilm):
    a = create_store(tmp_path / "a", StoreInfo("minilm", 384, "lookup", encoding="f32"))
    b = create_store(tmp_path / "b", StoreInfo("minilm", 384, "lookup", encoding="int8"))
    for s in (a, b):
        ingest([QA_DOCS], s, minilm, progress=False)
    q = minilm.embed(["How do bees find flowers?"])[0]
    assert [h.id for h in a.search(q, k=5)] == [h.id for h in b.search(q, k=5)]
    only = b.search(q, k=3, doc=a.search(q, k=1)[0].doc)
    assert {h.doc for h in only} == {a.search(q, k=1)[0].doc}


def test_reingest_is_a_noop_and_changes_replace(tmp_path, minilm):
    docs = tmp_path / "docs"
    shutil.copytree(QA_DOCS, docs)
    store = create_store(tmp_path / "s", StoreInfo("minilm", 384, "lookup"))
    first = ingest([docs], store, minilm, progress=False)
    again = ingest([docs], store, minilm, progress=False)
    assert again["unchanged"] == first["files"] and again["chunks_added"] == 0
    assert again["store_chunks"] == first["store_chunks"]
    (docs / "chess.md").write_text("# Chess\n\nChess is played on a board of sixty four squares. Each side has one king and one queen.\n")
    third = ingest([docs], store, minilm, progress=False)
    assert third["replaced"] == 1 and third["chunks_added"] == 2
    doc = next(d for d in store.documents() if d.endswith("chess.md"))
    assert store.documents()[doc].rows == 2
    assert store.delete(doc) == 2 and doc not in store.documents()


def test_mismatch_and_bad_input_errors(tmp_path, minilm):
    store = create_store(tmp_path / "s", StoreInfo("minilm", 384, "lookup"))
    ingest([QA_DOCS / "bread.md"], store, minilm, progress=False)
    with pytest.raises(MismatchError, match="embedder 'minilm'"):
        store.info.check(embedder="mpnet")
    with pytest.raises(MismatchError, match="encoding 'f32'"):
        open_or_create(tmp_path / "s", minilm, "lookup", encoding="int8")
    with pytest.raises(InputError, match="expected dimension 384"):
        store.search(np.ones(768, np.float32))
    with pytest.raises(InputError, match="NaN"):
        store.search(np.full(384, np.nan, np.float32))
    with pytest.raises(InputError, match="no chunk with id"):
        store.get(["nope-1"])
    assert store.count() == 9  # nothing lost to the failed calls


def test_foreign_and_corrupt_directories(tmp_path, minilm):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(StoreError, match="not an unembed store"):
        open_store(foreign)
    with pytest.raises(StoreError, match="not an unembed store"):
        create_store(foreign, StoreInfo("minilm", 384, "lookup"))
    assert (foreign / "notes.txt").read_text() == "keep me"
    store = create_store(tmp_path / "s", StoreInfo("minilm", 384, "lookup"))
    ingest([QA_DOCS / "bread.md"], store, minilm, progress=False)
    (tmp_path / "s" / "store.json").write_text("{not json")
    with pytest.raises(StoreError, match="corrupt"):
        open_store(tmp_path / "s")
    (tmp_path / "s" / "store.json").write_text(StoreInfo("minilm", 384, "lookup").to_json())
    for f in (tmp_path / "s").rglob("*.lance"):
        if f.is_file():
            f.write_bytes(b"garbage")
    with pytest.raises(StoreError, match="corrupt"):
        open_store(tmp_path / "s").search(minilm.embed(["bread"])[0])


def part_truth(where: Path, minilm) -> dict[str, np.ndarray | None]:
    """Per chunk id of the QA documents, what its part vectors should be: its word runs, embedded."""
    plain = create_store(where, StoreInfo("minilm", 384, "lookup", mode="lossless"))
    ingest([QA_DOCS], plain, minilm, progress=False)
    runs = {h.id: split_words(h.text, DEFAULT_PARTS, PART_MIN_WORDS) for h in plain.rows()}
    return {i: minilm.embed(r) if len(r) > 1 else None for i, r in runs.items()}


def same_parts(got: np.ndarray | None, want: np.ndarray | None, floor: float) -> bool:
    if got is None or want is None:
        return got is None and want is None  # a chunk too short to split keeps none
    return got.shape == want.shape and (got * want).sum(1).min() > floor


def test_part_vectors_are_kept_sealed_rekeyed_and_refused_when_mismatched(tmp_path, minilm):
    truth = part_truth(tmp_path / "plain", minilm)
    key = b"a part-vector key, 16+ bytes"
    store = open_or_create(tmp_path / "s", minilm, "lookup", encoding="int8", key=key)
    assert store.info.parts == DEFAULT_PARTS and open_or_create(tmp_path / "l", minilm, "lookup", mode="lossless").info.parts == 1
    ingest([QA_DOCS], store, minilm, progress=False)
    rows = open_store(tmp_path / "s", key=key).rows()
    assert len(rows) == len(truth) and sum(truth[h.id] is not None for h in rows) > 40
    assert all(same_parts(h.parts, truth[h.id], 0.99) for h in rows)
    # sealed like the vectors: no part vector's bytes on disk
    needles = [encode(p, "int8")[0].tobytes()[:32] for p in truth.values() if p is not None]
    disk = b"".join(p.read_bytes() for p in (tmp_path / "s").rglob("*") if p.is_file())
    assert not [n for n in needles if n in disk]
    moved = open_store(tmp_path / "s", key=key).rekey(b"the rotated part-vector key")
    assert all(np.array_equal(a.parts, b.parts) for a, b in zip(rows, moved.rows()) if a.parts is not None)
    with pytest.raises(MismatchError, match=f"parts {DEFAULT_PARTS}"):
        open_or_create(tmp_path / "s", minilm, "lookup", parts=1, key=b"the rotated part-vector key")
    with pytest.raises(InputError, match="parts must be"):
        StoreInfo("minilm", 384, "lookup", parts=0)
    assert moved.count() == len(rows)  # nothing lost to the refused calls


def test_qdrant_local_mode_same_surface(tmp_path, minilm):
    loc = f"qdrant:{tmp_path / 'q'}"
    store = create_store(loc, StoreInfo("minilm", 384, "lookup", mode="lossy", encoding="f16", parts=DEFAULT_PARTS))
    ingest([QA_DOCS], store, minilm, progress=False)
    store.client.close()
    store = open_store(loc)
    assert store.info.backend == "qdrant" and store.count() > 50
    hits = store.search(minilm.embed(["Which computer beat Kasparov?"])[0], k=2)
    assert hits[0].doc.endswith("chess.md") and hits[0].text is None
    truth = part_truth(tmp_path / "plain", minilm)
    assert all(same_parts(h.parts, truth[h.id], 0.999) for h in store.rows())
    assert np.allclose(np.linalg.norm(hits[0].vector), 1, atol=1e-3)
    assert store.get([hits[0].id])[0].doc == hits[0].doc
    n = store.documents()[hits[0].doc].rows
    assert store.delete(hits[0].doc) == n
    with pytest.raises(InputError, match="f32 or f16"):
        create_store(f"qdrant:{tmp_path / 'q2'}", StoreInfo("minilm", 384, "lookup", encoding="binary"))
    store.client.close()
    blob = b"".join(p.read_bytes() for p in (tmp_path / "q").rglob("*") if p.is_file())
    assert not [w for w in ("Kasparov", "Steinitz", "chaturanga", "sourdough") if w.encode() in blob]


@pytest.mark.parametrize("encoding", ["f32", "int8"])
def test_encrypted_store_seals_vectors_and_refuses_wrong_keys(tmp_path, minilm, monkeypatch, encoding):
    key = b"correct horse battery staple 42"
    plain = create_store(tmp_path / "plain", StoreInfo("minilm", 384, "lookup", encoding=encoding))
    sealed = create_store(tmp_path / "sealed", StoreInfo("minilm", 384, "lookup", encoding=encoding), key=key)
    for s in (plain, sealed):
        ingest([QA_DOCS], s, minilm, progress=False)
    q = minilm.embed(["How do bees find flowers?"])[0]
    want = [(h.id, round(h.score, 5)) for h in plain.search(q, k=5)]
    assert [(h.id, round(h.score, 5)) for h in open_store(tmp_path / "sealed", key=key).search(q, k=5)] == want
    # no stored vector's bytes appear in the sealed directory (they do in the plain one)
    rows = encode(np.stack([h.vector for h in plain.rows()]), encoding)
    needles = [r.tobytes()[:32] for r in rows[:50]]
    disk = lambda d: b"".join(p.read_bytes() for p in (tmp_path / d).rglob("*") if p.is_file())  # noqa: E731
    # lance's file format may compress a few of the plain rows (3 of 74 under lancedb 0.40): most appear verbatim
    assert sum(n in disk("plain") for n in needles) >= 40
    assert sum(n in disk("sealed") for n in needles) == 0
    assert b"key" not in (tmp_path / "sealed" / "store.json").read_bytes().replace(b"key_check", b"")
    # the key can come from the environment; a missing or wrong one is refused by name
    monkeypatch.delenv("UNEMBED_STORE_KEY_FILE", raising=False)
    monkeypatch.delenv("UNEMBED_STORE_KEY", raising=False)
    with pytest.raises(StoreError, match="encrypted; give the key"):
        open_store(tmp_path / "sealed")
    with pytest.raises(StoreError, match="wrong store key"):
        open_store(tmp_path / "sealed", key=b"another key of 16+ bytes")
    (tmp_path / "k").write_bytes(key + b"\n")
    monkeypatch.setenv("UNEMBED_STORE_KEY_FILE", str(tmp_path / "k"))
    st = open_store(tmp_path / "sealed")
    assert st.search(q, k=1)[0].id == want[0][0] and st.count() == plain.count()
    st.delete(st.rows()[0].doc)  # and it stays writable and readable
    assert st.count() < plain.count() and len(st.rows()) == st.count()
    # key rotation: re-sealed in place; the new key opens it, the old one no longer does
    new_key = b"the next store key, rotated"
    st = st.rekey(new_key)
    assert [h.id for h in open_store(tmp_path / "sealed", key=new_key).search(q, k=3)] == [h.id for h in st.search(q, k=3)]
    with pytest.raises(StoreError, match="wrong store key"):
        open_store(tmp_path / "sealed", key=key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k", "plain", "sealed"]  # no leftovers


def test_encrypted_memory_round_trip(tmp_path, minilm):
    from unembed.concepts import ConceptMemory
    key = b"a memory key, long enough"
    mem = ConceptMemory.open_or_create(tmp_path / "m", "minilm", 384, key=key)
    vecs = minilm.embed(["the cat sat on the mat", "a cat sat on a mat", "stock markets fell sharply"])
    mem.add(vecs, ["a", "b", "c"])
    rep, _ = mem.consolidate(0.9)
    back = ConceptMemory.open(tmp_path / "m", key=key).concepts()
    assert rep.after == 2 and sorted(c.count for c in back) == [1, 2]
    assert max(float(c.vector @ vecs[2]) for c in back) > 0.999
    disk = b"".join(p.read_bytes() for p in (tmp_path / "m").rglob("*") if p.is_file())
    assert vecs[2].tobytes()[:32] not in disk
    with pytest.raises(StoreError, match="wrong store key"):
        ConceptMemory.open(tmp_path / "m", key=b"not the memory key!!")
