"""Lossy RAG end to end: chunking, the CLI on real stores, kill -9 mid-ingest, generation, compare."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import HTTPServer
from pathlib import Path

import pytest
from conftest import JSONHandler

from unembed.errors import InputError
from unembed.rag.chunk import chunk_text, clean_markdown, split_words
from unembed.rag.compare import contains_answer
from unembed.rag.ingest import DEFAULT_PARTS

QA = Path(__file__).resolve().parent.parent / "benchmarks" / "rag_qa"


def cli(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "unembed.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600, **kw)


def test_chunks_fit_the_token_limit(minilm):
    count = lambda s: minilm.count_tokens([s])[0]
    long = " ".join(["the committee discussed the annual budget and the new roads"] * 6) + "."
    text = f"# Title\n\nShort one here. {long}\n\nA [linked](http://x.org) *word* closes the paragraph."
    pieces = chunk_text(text, count, max_tokens=32, markdown=True)
    assert all(count(p.text) <= 32 for p in pieces)
    assert pieces[0].text.startswith("Title.")  # a heading rides with the next sentence
    assert pieces[-1].text == "A linked word closes the paragraph."
    assert "http" not in clean_markdown("see [here](http://a.b)")
    assert contains_answer("It erupted in 79 AD", "79") and not contains_answer("In 1979", "79")


def test_split_words_keeps_every_word_in_order_in_even_runs():
    text = "one two three four five six seven eight nine ten eleven"
    for parts in (1, 2, 3, 4):
        runs = split_words(text, parts)
        assert " ".join(runs) == text and len(runs) == parts
        assert max(len(r.split()) for r in runs) - min(len(r.split()) for r in runs) <= 1
    assert split_words("two words", 5) == ["two", "words"]  # never an empty run
    assert split_words(text, 4, min_words=5) == split_words(text, 2)  # 11 words hold only two runs of 5


def test_split_words_moves_a_cut_out_of_a_name():
    text = "The space telescope is named for Edwin Hubble, who found that galaxies recede fast."
    assert split_words(text, 2, 6, reach=0)[0].endswith("Edwin")  # the even cut falls inside the name
    assert split_words(text, 2, 6) == ["The space telescope is named for Edwin Hubble,", "who found that galaxies recede fast."]
    words = "a b c d e f g h i j k l m n o p q r".split()  # no slack: every run keeps its minimum
    assert [len(r.split()) for r in split_words(" ".join(words), 3, 6)] == [6, 6, 6]


@pytest.mark.slow  # a whole CLI flow, about a minute: the fast tier keeps the library-level tests
def test_cli_ingest_ask_delete(isolated_home):
    store = isolated_home / "store"
    r = cli("rag", "ingest", str(QA / "docs"), "--store", str(store), "--inverter", "search",
            "--json", str(isolated_home / "ingest.json"))
    assert r.returncode == 0, r.stderr
    summary = json.loads((isolated_home / "ingest.json").read_text())
    assert summary["added"] == 8 and summary["mode"] == "lossy" and summary["store_chunks"] > 50
    assert summary["parts"] == DEFAULT_PARTS
    assert f"up to {DEFAULT_PARTS} part vectors a chunk" in cli("rag", "info", "--store", str(store)).stdout
    r = cli("rag", "ingest", str(QA / "docs"), "--store", str(store), "--parts", "1")
    assert r.returncode == 2 and f"parts {DEFAULT_PARTS}" in r.stderr
    out = isolated_home / "ask.json"
    r = cli("rag", "ask", "When did Vesuvius last erupt?", "--store", str(store), "--k", "2", "--no-generate",
            "--steps", "1", "--beam", "1", "--json", str(out))
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert len(res) == 1 and res[0]["answer"] is None and len(res[0]["contexts"]) == 2
    ctx = res[0]["contexts"][0]
    assert set(ctx) >= {"text", "score", "doc", "chunk"} and ctx["text"] and ctx["doc"].endswith("volcano.txt")
    r = cli("rag", "ask", "x", "--store", str(store), "--inverter", "lookup", "--no-generate")
    assert r.returncode == 2 and "built for inverter 'search'" in r.stderr
    r = cli("rag", "ask", "x", "--store", str(isolated_home), "--no-generate")
    assert r.returncode == 2 and "not an unembed store" in r.stderr
    r = cli("rag", "compare", str(QA / "docs" / "volcano.txt"), "--questions", str(QA / "questions.tsv"),
            "--inverter", "lookup", "--seed", "1")
    assert r.returncode == 2 and "draws nothing at random" in r.stderr
    doc = next(d for d in json.loads(cli("rag", "info", "--store", str(store), "--json", "-").stdout)["documents"]
               if d.endswith("chess.md"))
    r = cli("rag", "delete", doc, "--store", str(store))
    assert r.returncode == 0 and "10 chunks" in r.stdout
    assert cli("rag", "delete", doc, "--store", str(store)).returncode == 2


@pytest.mark.slow
def test_kill_9_mid_ingest_leaves_a_consistent_store(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    sentences = (QA / "docs" / "volcano.txt").read_text().splitlines()
    for i in range(120):
        (docs / f"d{i:03}.txt").write_text(f"Document {i} begins here. " + " ".join(sentences[i % 9:i % 9 + 4]))
    store = tmp_path / "store"
    args = [sys.executable, "-m", "unembed.cli", "rag", "ingest", str(docs), "--store", str(store),
            "--inverter", "lookup", "--batch-chunks", "8"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    versions = store / "chunks.lance" / "_versions"
    while time.time() < deadline and proc.poll() is None:
        if versions.exists() and len(list(versions.glob("*.manifest"))) >= 4:
            break
        time.sleep(0.05)
    killed = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    info = json.loads(cli("rag", "info", "--store", str(store), "--json", "-").stdout)
    assert all(d["complete"] for d in info["documents"].values())  # whole documents or none
    if killed:
        assert len(info["documents"]) < 120
    r = cli("rag", "ingest", str(docs), "--store", str(store), "--json", "-")
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout[r.stdout.index("{"):])
    assert done["unchanged"] + done["added"] + done["replaced"] == 120
    info = json.loads(cli("rag", "info", "--store", str(store), "--json", "-").stdout)
    assert len(info["documents"]) == 120 and all(d["complete"] for d in info["documents"].values())


class _Chat(JSONHandler):
    seen = []

    def do_POST(self):
        body = self.read_json()
        _Chat.seen.append((self.path, self.headers.get("Authorization"), body))
        prompt = body["messages"][0]["content"]
        answer = "1944" if "1944" in prompt else "unknown"
        self.send_json({"choices": [{"message": {"role": "assistant", "content": answer}}]})


def test_generation_through_an_openai_compatible_endpoint(isolated_home):
    server = HTTPServer(("127.0.0.1", 0), _Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = isolated_home / "store"
        assert cli("rag", "ingest", str(QA / "docs" / "volcano.txt"), "--store", str(store), "--mode", "lossless",
                   "--inverter", "lookup").returncode == 0
        url = f"http://127.0.0.1:{server.server_port}/v1"
        r = cli("rag", "ask", "When did Vesuvius last erupt?", "--store", str(store), "--k", "3",
                "--generator", f"tiny@{url}", "--json", "-", env={"UNEMBED_API_KEY": "k123"})
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout[r.stdout.index("["):])
        assert res[0]["answer"] == "1944"
        path, auth, body = _Chat.seen[-1]
        assert path == "/v1/chat/completions" and auth == "Bearer k123" and body["model"] == "tiny"
    finally:
        server.shutdown()


@pytest.mark.slow
def test_local_gemma_answers_from_context():
    from unembed.generate import load_generator
    from unembed.rag.ask import build_prompt

    g = load_generator("gemma")
    answer = g.generate(build_prompt("Who built the lighthouse?",
                                     ["The lighthouse was built by the engineer Robert Stevenson in 1810."]))
    assert "Stevenson" in answer


def test_compare_reports_every_column(isolated_home, minilm):
    from unembed.invert.registry import load_inverter
    from unembed.rag.compare import compare

    qa = isolated_home / "qa.tsv"
    qa.write_text("When did Vesuvius last erupt?\t1944\nWhat buried Pompeii?\tVesuvius\n")
    report = compare([str(QA / "docs" / "volcano.txt")], qa, minilm, load_inverter("lookup", minilm),
                     encodings=["f16", "binary"], parts=[1, 3], k=3, progress=False)
    by_parts = {(r["mode"], r["encoding"], r["parts"]): r for r in report["rows"]}
    assert set(by_parts) == {("lossless", "f32", 1)} | {("lossy", e, p) for e in ("f16", "binary") for p in (1, 3)}
    one, three = by_parts[("lossy", "f16", 1)], by_parts[("lossy", "f16", 3)]
    assert one["vectors_per_chunk"] == 1 and 2 < three["vectors_per_chunk"] < 4
    assert three["store_bytes"] > one["store_bytes"] and three["retrieval_agreement"] == 1.0
    rows = {(m, e): r for (m, e, p), r in by_parts.items() if p == 1}
    assert rows[("lossless", "f32")]["answer_in_context"] == 1.0
    assert rows[("lossless", "f32")]["reconstruction_bleu"] is None
    assert rows[("lossy", "f16")]["retrieval_agreement"] == 1.0
    assert rows[("lossy", "binary")]["bytes_per_vector"] == 48
    for r in rows.values():
        assert r["store_bytes"] > 0 and r["seconds_per_question"] > 0 and len(r["results"]) == 2
    short = compare([str(QA / "docs" / "volcano.txt")], qa, minilm, load_inverter("lookup", minilm),
                    encodings=[], k=3, progress=False, max_tokens=12)
    assert short["max_tokens"] == 12 and short["rows"][0]["chunks"] > rows[("lossless", "f32")]["chunks"]


def test_lossy_chunks_are_read_back_from_their_part_vectors_by_rag_and_by_audit(isolated_home, minilm):
    from unembed.audit.leak import audit, store_vectors
    from unembed.invert.registry import load_inverter
    from unembed.rag import RAG, ingest, open_or_create

    store = open_or_create(isolated_home / "kb", minilm, inverter="lookup", mode="lossy")  # 3 parts by default
    ingest([QA / "docs" / "volcano.txt"], store, minilm, progress=False)
    inv = load_inverter("lookup", minilm)
    hits = store.search(minilm.embed(["When did Vesuvius last erupt?"])[0], k=5)
    hit = next(h for h in hits if h.parts is not None)  # a chunk under 12 words keeps none
    assert len(hit.parts) in (2, 3)
    joined = " ".join(inv.invert(hit.parts, steps=0, beam=1))
    assert RAG(store, minilm, inv).contexts([hit])[0]["text"] == joined
    vectors, texts, parts = store_vectors(store)  # the attacker reads the parts too
    assert texts is None and len(parts) == len(vectors) == store.count()
    rows = [h.id for h in store.rows()]
    report = audit(vectors, minilm, inv, 0, 1, parts=parts, progress=False)
    assert next(s for s in report["samples"] if s["index"] == rows.index(hit.id))["reconstruction"] == joined


def test_rag_keeps_the_callers_steps_when_it_loads_the_stores_inverter(isolated_home, minilm):
    from unembed.rag import RAG, ingest, open_or_create

    store = open_or_create(isolated_home / "kb", minilm, inverter="search", mode="lossy", encoding="int8")
    ingest([QA / "docs" / "volcano.txt"], store, minilm, progress=False)
    rag = RAG(store, minilm, steps=1, beam=2)
    ctx = rag.ask(["When did Vesuvius last erupt?"], k=1, generate=False)[0]["contexts"]
    assert (rag.steps, rag.beam) == (1, 2) and rag.inverter.name == "search"  # the store's name for the shipped one
    assert ctx[0]["reconstructed"] and ctx[0]["text"] and ctx[0]["doc"].endswith("volcano.txt")
    hinted = RAG(store, minilm, rag.inverter, steps=1, beam=2, hints=True)
    assert hinted.ask(["When did Vesuvius last erupt?"], k=1, generate=False)[0]["contexts"][0]["reconstructed"]
    assert [hints for _, hints in hinted._reconstructed] == [("Vesuvius", "last", "erupt")]
    # each question is charged its chunks' read-back, even when an earlier question paid for it
    hits = hinted.retrieve(["When did Vesuvius last erupt?"], k=1)[0]
    assert hinted.read_back_seconds(hits, "When did Vesuvius last erupt?") > 0
    assert hinted.read_back_seconds(hits, "Why do volcanoes erupt?") == 0  # other hints: not read back yet


def test_a_questions_words_let_the_search_read_back_a_name_no_vocabulary_holds(minilm):
    """`rag ask --hints` offers the question's words to the search: a name in no word list can then come back."""
    from unembed.invert.registry import load_inverter
    from unembed.rag.ask import question_words

    assert question_words("How long is the Aletsch Glacier's tongue?") == ["long", "Aletsch", "Glacier", "tongue"]
    assert question_words("Who named the “Aletsch” Glacier — and when?") == ["named", "Aletsch", "Glacier"]
    shipped = load_inverter("search", minilm)
    # piece edits can build the name too (test_any_embedder); here the hints alone
    inv = shipped.with_config(stages=[s for s in shipped.config.stages if s != "pieces"])
    assert "aletsch" not in {w.lower() for w in inv.parts["probe"].probe.vocab}
    v = minilm.embed(["The Aletsch Glacier in Switzerland is the largest glacier in the Alps."])
    # 5 steps: at 3 the hinted run, whose proposals differ from the plain one's, could miss the name by chance
    plain = inv.invert(v, steps=5, beam=2)[0]
    hinted = inv.invert(v, steps=5, beam=2, hints=[question_words("How long is the Aletsch Glacier?")])[0]
    assert "Aletsch" not in plain and "Aletsch" in hinted
    assert float(minilm.embed([hinted])[0] @ v[0]) > float(minilm.embed([plain])[0] @ v[0])
    with pytest.raises(InputError, match="2 hint lists for 1 vectors"):
        inv.invert(v, steps=1, beam=1, hints=[[], []])


def test_a_preset_of_the_stores_inverter_reads_its_store_and_another_inverter_does_not():
    from unembed.errors import MismatchError
    from unembed.store import StoreInfo

    info = StoreInfo("minilm", 384, "default", mode="lossy", encoding="int8", parts=4)
    for name in ("default", "search", "fast", "readable", "search:fast"):
        info.check(inverter=name)
    for name in ("lookup", "prefix:runs/x", "runs/other:fast"):
        with pytest.raises(MismatchError, match="built for inverter 'default'"):
            info.check(inverter=name)
