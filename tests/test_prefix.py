"""`unembed train --model prefix`: LoRA and a soft prefix on the real Gemma-3-270M, a few steps on the tiny corpus."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from unembed.errors import InputError, UnknownModelError

WORD_HEAD = Path(__file__).resolve().parents[1] / "models" / "minilm-words"


@pytest.fixture()
def gemma_home(gemma, tmp_path, monkeypatch, tiny_corpus, suite_home):
    """A per-test home over the tiny corpus, with the suite's converted Gemma linked in (converting costs a minute)."""
    from conftest import link_gemma
    monkeypatch.setenv("UNEMBED_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UNEMBED_DATA", str(tiny_corpus[0]))
    link_gemma(tmp_path / "home", suite_home)
    return tmp_path


def _cfg(out, **kw):
    from unembed.invert.train import PrefixTrainConfig
    base = dict(embedder="minilm", word_head=str(WORD_HEAD), out=str(out), slots=2, words=4, rank=2, hidden=32,
                max_len=12, epochs=1, batch_size=8, train_limit=24, val_limit=2, eval_every=0, checkpoint_every=1,
                warmup=1, lr=1e-3)
    return PrefixTrainConfig(**(base | kw))


@pytest.mark.slow
def test_prefix_trains_resumes_ships_small_and_writes_sentences(gemma_home, minilm):
    from unembed.invert.prefix import PrefixDecoder
    from unembed.invert.train import train_prefix

    out = gemma_home / "prefix"
    assert train_prefix(_cfg(out, max_minutes=0), log=lambda _: None) == {"step": 1, "total": 3, "stopped": True}
    lines = []
    last = train_prefix(_cfg(out), log=lines.append)
    assert lines[0] == "resuming at step 1 of 3"
    assert last["step"] == 3 and np.isfinite(last["train_loss"]) and {"val_bleu", "val_token_f1", "val_cosine"} <= set(last)
    # only what trained is saved: the prefix MLP and the adapters (Gemma itself is 268M parameters)
    weights = torch.load(out / "weights.pt")
    assert all(k.startswith(("project.", "adapters.")) for k in weights)
    assert (out / "weights.pt").stat().st_size < 5_000_000
    assert json.loads((out / "config.json").read_text())["kind"] == "gemma-prefix"

    dec = PrefixDecoder.load(out)  # finds its word head by the relative path it recorded
    tokens = dec.model.sub_vocab
    assert torch.all(tokens[1:] > tokens[:-1]) and len(tokens) < 20_000  # sorted; only what the tiny corpus uses
    got = dec.generate(minilm.embed(["The government said the economy grew.", "A boat on the lake."]), beam=3)
    assert len(got) == 2 and all(1 <= len(o) <= 3 and all(isinstance(t, str) and t for _, t in o) for o in got)
    assert all(o[i][0] >= o[i + 1][0] for o in got for i in range(len(o) - 1))  # best first
    with pytest.raises(InputError, match="384"):
        dec.generate(np.ones((1, 7), np.float32))

    from unembed.invert.registry import load_inverter  # the search with Gemma writing its first hypotheses
    inv = load_inverter(f"prefix:{out}", minilm)
    assert isinstance(inv.parts["decoder"].decoder, PrefixDecoder) and inv.config.extrapolate == 0
    vec = minilm.embed(["A boat on the lake."])
    assert inv.invert(vec, steps=0, beam=1) == [dec.generate(vec, beam=inv.config.decoder_beam)[0][0][1]]
    (out / "config.json").write_text('{"kind": "bag-decoder"}')
    with pytest.raises(UnknownModelError, match="not a Gemma prefix inverter"):
        PrefixDecoder.load(out)


@pytest.mark.slow
def test_gpu_carry_packs_gemma_in_parts_that_rebuild_it(gemma_home):
    """tools/gpu_carry.py pack --gemma: parts that fit a device call, and a bfloat16 Gemma whose next-token
    distribution over the kept tokens (what prefix training writes) matches the float32 original's."""
    import subprocess
    import sys

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from unembed.generate.gemma import _folder

    root = Path(__file__).resolve().parents[1]
    stage, home = gemma_home / "stage", gemma_home / "device-home"
    env = os.environ | {"PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "tools/gpu_carry.py", "pack", "--gemma", "--out", str(stage)], cwd=root, env=env,
                   check=True, capture_output=True)
    assert len(list(stage.glob("gemma.part*"))) > 1 and all(f.stat().st_size <= 15 << 20 for f in stage.iterdir())
    subprocess.run([sys.executable, str(root / "tools/gpu_carry.py"), "unpack", str(stage), "--site", str(gemma_home / "site"),
                    "--data", str(gemma_home / "data"), "--home", str(home)], env=env, check=True, capture_output=True)
    tok = AutoTokenizer.from_pretrained(str(_folder()))
    ids = tok(["The government said the economy grew last year."], return_tensors="pt")
    models = [AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32).eval()
              for d in (_folder(), home / "models" / "gemma-3-270m")]
    kept = models[1].get_input_embeddings().weight.abs().sum(1) > 0  # the train split's and the words' tokens
    assert kept[ids["input_ids"]].all() and 1000 < int(kept.sum()) < 100_000
    with torch.no_grad():
        logp = [torch.log_softmax(m(**ids).logits[..., kept], -1) for m in models]
    kl = (logp[0].exp() * (logp[0] - logp[1])).sum(-1)
    assert float(kl.max()) < 0.01


def test_noisy_draft_makes_a_search_kind_of_draft_the_same_for_a_seed():
    from unembed.invert.prefix import noisy_draft

    text = "the bridge was closed for repairs after engineers found cracks in two of its steel supports"
    others = ["repair", "construction", "made"]
    drafts = [noisy_draft(text, others, np.random.default_rng(s)) for s in range(50)]
    assert drafts[:5] == [noisy_draft(text, others, np.random.default_rng(s)) for s in range(5)]
    assert len(set(drafts)) > 40  # a different draft per seed
    for d in drafts:
        assert set(d.split()) <= set(text.split()) | set(others)
    kept = np.mean([len(set(d.split()) & set(text.split())) / len(set(text.split())) for d in drafts])
    assert 0.45 < kept < 0.8  # about 60 % of the words survive, as in the search's results
    assert any(d.split() != [w for w in text.split() if w in d.split()] for d in drafts)  # order shuffled
    assert noisy_draft(text, [], np.random.default_rng(0), drop=0, swap=0, insert=0, jitter=0) == text
    assert noisy_draft("", others, np.random.default_rng(0)).split() <= others


@pytest.mark.slow
def test_corrector_warm_starts_and_an_inverter_stage_keeps_its_rewrite_within_the_margin(gemma_home, minilm):
    """`train --model prefix --draft --init`: a corrector from a trained prefix; as the inverter's
    `corrector` stage it saves and loads with the folder, and its rewrite replaces the search's result
    only where within `corrector_margin` cosine of it."""
    from dataclasses import replace

    from unembed.invert.inverter import CorrectorStage, Inverter
    from unembed.invert.prefix import PrefixDecoder
    from unembed.invert.registry import load_inverter
    from unembed.invert.train import train_prefix

    start, out = gemma_home / "prefix", gemma_home / "corrector"
    train_prefix(_cfg(start), log=lambda _: None)
    with pytest.raises(InputError, match="architecture"):
        train_prefix(_cfg(gemma_home / "wrong", init=str(start), rank=4, draft=True), log=lambda _: None)
    last = train_prefix(_cfg(out, init=str(start), draft=True), log=lambda _: None)
    assert last["step"] == 3 and np.isfinite(last["train_loss"])
    cor = PrefixDecoder.load(out)
    assert cor.model.config.draft
    vec = minilm.embed(["A boat on the lake.", "The government said the economy grew."])
    with pytest.raises(ValueError, match="drafts"):
        cor.generate(vec)
    got = cor.generate(vec, beam=2, drafts=["boat lake a on", "economy government grew said"])
    assert len(got) == 2 and all(1 <= len(o) <= 2 for o in got)
    guided = cor.guided(vec, minilm, beam=2, top=4, drafts=["boat lake a on", "economy government grew said"])
    assert len(guided) == 2 and all(1 <= len(o) <= 2 and all(isinstance(t, str) and t for _, t in o) for o in guided)
    assert all(o[i][0] >= o[i + 1][0] for o in guided for i in range(len(o) - 1))

    base = load_inverter(None, minilm)
    parts = dict(base.parts) | {"corrector": CorrectorStage(cor)}
    config = replace(base.config, stages=base.config.stages + ("corrector",), steps=1, beam=1, corrector_margin=2.0)
    folder = Inverter(config, minilm, parts).save(gemma_home / "inverter")
    inv = Inverter.load(folder, minilm)
    assert isinstance(inv.parts["corrector"].corrector, PrefixDecoder)
    plain = base.invert(vec[:1], steps=1, beam=1)[0]
    always = inv.invert(vec[:1])[0]  # a margin of 2: any rewrite is kept
    rewrites = [t for _, t in cor.generate(vec[:1], beam=4, drafts=[str(plain)])[0]]
    assert str(always) in rewrites and always.trace[-1][1] == str(always)
    assert abs(always.cosine - float(minilm.embed([str(always)])[0] @ vec[0])) < 1e-4
    never = inv.with_config(corrector_margin=-2.0).invert(vec[:1])[0]  # nothing is within -2: the search's result
    assert str(never) == str(plain)
    meta = json.loads((folder / "corrector" / "config.json").read_text())
    meta["model"]["draft"] = False  # a generator's folder where the corrector was
    (folder / "corrector" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(UnknownModelError, match="not a corrector"):
        Inverter.load(folder, minilm)
