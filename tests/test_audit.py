"""Leakage audit and defences: figures re-derived from the samples, real files, real stores, real keys."""
import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sacrebleu

from unembed.audit.curve import keyed_attack, public_attack, recall_at_k, undo
from unembed.audit.defences import load_defence
from unembed.audit.vectors import read_vectors, write_vectors
from unembed.errors import InputError

QA = Path(__file__).resolve().parent.parent / "benchmarks" / "rag_qa"
PII = ["Please send the contract to George King at george.king@clinic.net before Friday.",
       "Call Sarah Parker on 020 7946 0958 about the overdue invoice of 4200 dollars.",
       "Dr Morris prescribed 14 milligrams of the drug to Linda Evans in Bristol."]


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "unembed.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_audit_figures_match_its_samples_and_the_report_renders(isolated_home, minilm):
    # the attacker's reference holds the first two texts verbatim, so exactly those come back
    ref = isolated_home / "ref.txt"
    ref.write_text("\n".join(PII[:2] + ["The weather in the north was cold and wet all week."]) + "\n")
    vec_file, truth = isolated_home / "v.npy", isolated_home / "truth.txt"
    np.save(vec_file, minilm.embed(PII) * 3.0)  # unnormalised on purpose: the audit normalises
    truth.write_text("\n".join(PII) + "\n")
    html_out = isolated_home / "report.html"
    r = cli("audit", "--vectors", str(vec_file), "--truth", str(truth), "--inverter", f"lookup:{ref}",
            "--json", str(isolated_home / "audit.json"), "--report", str(html_out))
    assert r.returncode == 0, r.stderr
    rep = json.loads((isolated_home / "audit.json").read_text())
    assert {"bleu", "token_f1", "exact_match", "names_recovered", "emails_recovered", "numbers_recovered",
            "samples"} <= set(rep)
    s = rep["samples"]
    assert rep["exact_match"] == pytest.approx(2 / 3)
    assert rep["emails_recovered"] == 1.0 and rep["phones_recovered"] == 1.0
    for kind in ("names", "numbers"):
        found = sum(len(x["leaked"][kind]) for x in s)
        total = sum(len(x["entities_in_text"][kind]) for x in s)
        assert rep[f"{kind}_recovered"] == pytest.approx(found / total)
    hyps, refs = [x["reconstruction"] for x in s], [x["text"] for x in s]
    assert rep["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-6)
    assert rep["token_f1"] == pytest.approx(np.mean([x["token_f1"] for x in s]))
    assert s[-1]["text"] == PII[2]  # worst leaks first: the one not in the reference comes last
    assert rep["verdict"] == "HIGH" and "HIGH leakage" in r.stdout
    page = html_out.read_text()
    assert "id='verdict'" in page and "<mark>george.king@clinic.net</mark>" in page
    pngs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(pngs) == 2 and all(base64.b64decode(p)[:4] == b"\x89PNG" for p in pngs)
    # without truth: reconstructions, confidence, the entities found in them
    r = cli("audit", "--vectors", str(vec_file), "--inverter", f"lookup:{ref}", "--json", "-")
    blind = json.loads(r.stdout)
    assert "bleu" not in blind and blind["emails_found"] >= 1 and blind["samples"][0]["cosine"] > 0.99


def test_vector_files_and_bad_input(tmp_path, minilm):
    import pyarrow as pa
    import pyarrow.parquet as pq
    v = minilm.embed(PII)
    pq.write_table(pa.table({"id": [1, 2, 3], "embedding": [r.tolist() for r in v]}), tmp_path / "v.parquet")
    (tmp_path / "v.jsonl").write_text("".join(json.dumps({"vector": r.tolist(), "n": i}) + "\n" for i, r in enumerate(v)))
    assert np.allclose(read_vectors(tmp_path / "v.parquet"), v) and np.allclose(read_vectors(tmp_path / "v.jsonl"), v)
    write_vectors(tmp_path / "v.jsonl", tmp_path / "d.jsonl", -v)
    assert json.loads((tmp_path / "d.jsonl").read_text().splitlines()[1])["n"] == 1
    assert np.allclose(read_vectors(tmp_path / "d.jsonl"), -v, atol=1e-6)
    with pytest.raises(InputError, match="no column 'nope'"):
        read_vectors(tmp_path / "v.parquet", column="nope")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"x": [1.0]}) + "\n")
    with pytest.raises(InputError, match="no vector column"):
        read_vectors(tmp_path / "bad.jsonl")
    from unembed.audit.leak import audit
    from unembed.invert.lookup import LookupInverter, ReferenceIndex
    inv = LookupInverter(minilm, ReferenceIndex(minilm, PII, cache=False), name="lookup")
    with pytest.raises(InputError, match="expected dimension 384"):
        audit(np.ones((2, 768)), minilm, inv, 0, 1)
    with pytest.raises(InputError, match="NaN"):
        audit(np.full((1, 384), np.nan), minilm, inv, 0, 1)
    with pytest.raises(InputError, match="2 texts but there are 3 vectors"):
        audit(v, minilm, inv, 0, 1, truth=PII[:2])


def test_defences_and_what_undoes_them(minilm):
    texts = [s for f in sorted((QA / "docs").iterdir()) for s in re.split(r"(?<=[.!?])\s+", f.read_text()) if len(s) > 20]
    docs = minilm.embed(texts)
    queries = minilm.embed(["When did the volcano erupt?", "How do bees make honey?", "Who invented the telescope?"])
    key = b"0123456789abcdef-test-key"
    rot = load_defence("rotate", key=key)
    assert recall_at_k(docs, rot.apply(docs), queries, rot.query(queries)) == 1.0  # cosine is preserved
    assert np.allclose(rot.undo(rot.apply(docs)), docs, atol=1e-5)
    assert np.allclose(load_defence("rotate", key=key).apply(docs), rot.apply(docs))  # the key decides
    assert not np.allclose(load_defence("rotate", key=b"another key of 16+ bytes").apply(docs), rot.apply(docs))
    # plain attacker on rotated vectors: its cosine to the truth is near zero
    assert abs(float(np.mean((rot.apply(docs) * docs).sum(1)))) < 0.2
    # k >= d leaked pairs undo the rotation exactly (orthogonal Procrustes)
    leaked = minilm.embed([f"sentence number {i} about topic {i % 17} and thing {i % 5}" for i in range(400)])
    w, how = keyed_attack(rot, leaked)
    assert float(np.mean((undo(rot.apply(docs), w) * docs).sum(1))) > 0.95
    noise = load_defence("noise:0.05", seed=0)
    noisy = noise.apply(docs)
    assert np.allclose(np.linalg.norm(noisy, axis=1), 1, atol=1e-5) and 0.5 < float(np.mean((noisy * docs).sum(1))) < 0.95
    w, how = public_attack(noise, leaked)
    assert w.shape == (384, 384)
    pq8 = load_defence("pq:8").apply(docs)
    assert pq8.shape == docs.shape and float(np.mean((pq8 * docs).sum(1))) > 0.8
    assert np.allclose(load_defence("int8").apply(docs), docs, atol=0.02)
    for bad, msg in (("pq:7", "do not divide"), ("blur", "unknown defence"), ("rotate+zoom", "unknown rotate option")):
        with pytest.raises(InputError, match=msg):
            load_defence(bad, key=key).apply(docs)
    with pytest.raises(InputError, match="at least 16 bytes"):
        load_defence("rotate", key=b"short")


def test_defend_a_store_and_query_it_with_the_key(isolated_home):
    store, defended, key = isolated_home / "s", isolated_home / "s-rot", isolated_home / "key"
    r = cli("rag", "ingest", str(QA / "docs" / "volcano.txt"), str(QA / "docs" / "honeybees.txt"), "--store", str(store),
            "--inverter", "lookup")
    assert r.returncode == 0, r.stderr
    key.write_bytes(os.urandom(32))
    before = sorted(p.read_bytes() for p in store.rglob("*") if p.is_file())
    r = cli("defend", "--defence", "rotate", "--store", str(store), "--out-store", str(defended), "--key-file", str(key))
    assert r.returncode == 0, r.stderr
    assert sorted(p.read_bytes() for p in store.rglob("*") if p.is_file()) == before  # the original is untouched
    from unembed.store import open_store
    pairs = [(a.parts, b.parts) for a, b in zip(open_store(store).rows(), open_store(defended).rows()) if a.parts is not None]
    assert pairs and all(np.abs((a * b).sum(1)).max() < 0.5 for a, b in pairs)  # part vectors are rotated too
    info = json.loads(cli("rag", "info", "--store", str(defended), "--json", "-").stdout)
    assert info["defence"] == "rotate" and info["chunks"] > 10 and info["key_check"] == ""  # not sealed at rest
    assert "key" not in json.dumps({k: v for k, v in info.items() if k != "key_check"})  # the defence key: nowhere
    ask = lambda s, env=None: cli("rag", "ask", "When did Vesuvius erupt?", "--store", str(s), "--k", "1",
                                  "--no-generate", "--json", "-", env=env)
    plain = json.loads(ask(store).stdout)[0]["contexts"][0]
    r = ask(defended, {"UNEMBED_DEFENCE_KEY_FILE": str(key)})
    assert r.returncode == 0, r.stderr
    keyed = json.loads(r.stdout)[0]["contexts"][0]
    assert (keyed["doc"], keyed["chunk"], keyed["text"]) == (plain["doc"], plain["chunk"], plain["text"])
    r = ask(defended, {"UNEMBED_DEFENCE_KEY_FILE": "", "UNEMBED_DEFENCE_KEY": ""})
    assert r.returncode == 2 and "needs a secret" in r.stderr


@pytest.mark.skipif(not __import__("shutil").which("chromium"), reason="needs Debian chromium (apt-get install chromium)")
def test_report_renders_in_a_real_browser(tmp_path):
    from PIL import Image

    from unembed.audit.report import render
    report = {"n": 1, "of": 1, "embedder": "minilm", "inverter": "search", "steps": 4, "beam": 2, "cosine": 0.9,
              "seconds_per_text": 1.0, "bleu": 50.0, "token_f1": 0.8, "exact_match": 0.0, "names_recovered": 1.0,
              "emails_recovered": None, "phones_recovered": None, "numbers_recovered": None,
              "verdict": "HIGH", "verdict_text": "All of it came back.",
              "samples": [{"index": 0, "text": "Ann Lee <b>paid</b>", "reconstruction": "Ann Lee paid", "cosine": 0.9,
                           "token_f1": 0.8, "leaked": {"names": ["Ann Lee"], "emails": [], "phones": [], "numbers": []}}]}
    page = render(report, tmp_path / "r.html")
    shot = tmp_path / "r.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1000,1400", page.as_uri()], capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
    colours = {tuple(int(c) for c in p) for p in np.unique(pixels, axis=0)}
    assert (0xfd, 0xe2, 0xe1) in colours  # the red verdict banner was laid out and painted
    assert len(colours) > 50  # and more than a blank page: text, plots
