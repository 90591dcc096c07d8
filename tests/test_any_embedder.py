"""Inverting an embedder we never trained on: zero-shot search through a real HTTP endpoint, and
few-shot alignment into minilm's space. The 'vendor' model is minilm behind a secret linear map to
256 dimensions, so its vectors share no coordinates with ours."""
import json
import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer

import numpy as np
import pytest
from conftest import JSONHandler

from unembed.errors import MismatchError, UnknownModelError


class _Vendor(JSONHandler):
    embedder = None
    secret = np.random.default_rng(7).standard_normal((384, 256)).astype(np.float32)
    texts_seen = 0

    def do_POST(self):
        body = self.read_json()
        type(self).texts_seen += len(body["input"])
        vecs = self.embedder.embed(body["input"]) @ self.secret
        self.send_json({"data": [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]})


@pytest.fixture()
def vendor(minilm, monkeypatch):
    _Vendor.embedder, _Vendor.texts_seen = minilm, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Vendor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("UNEMBED_API_KEY", "any")
    yield f"vendor@http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_zero_shot_counts_every_query_and_keeps_the_budget(isolated_home, vendor):
    from unembed.embed import load_embedder
    from unembed.invert.registry import load_inverter, resolve_settings

    victim = load_embedder(vendor)
    assert victim.dim == 256
    inv = load_inverter("zero-shot:150", victim)
    assert resolve_settings(inv, None, None) == (8, 4)
    seen_after_setup = _Vendor.texts_seen
    assert seen_after_setup == inv.setup_queries + 1  # + the one text that asked the width
    targets = victim.embed(["The minister said the new railway line would open next spring.",
                            "Shares in the bank fell after it warned about profits."])
    out = inv.invert(targets, steps=8, beam=4)
    assert len(out) == 2 and all(out)
    assert all(0 < q <= 150 for q in inv.queries_per_text)
    assert _Vendor.texts_seen == seen_after_setup + 2 + sum(inv.queries_per_text)  # nothing uncounted
    cos = (victim.embed(out) * targets).sum(1)
    assert cos.min() > 0.3


@pytest.mark.slow  # a whole CLI flow, about a minute: the fast tier keeps the library-level tests
def test_alignment_map_then_minilm_inverter(isolated_home, vendor):
    env = {**os.environ}
    run = lambda *a: subprocess.run([sys.executable, "-m", "unembed.cli", *a], capture_output=True, text=True,
                                    env=env, timeout=600)
    amap = isolated_home / "vendor.npz"
    r = run("align", "--embedder", vendor, "--pairs", "300", "--method", "procrustes", "--out", str(amap))
    assert r.returncode == 0, r.stderr
    assert "held-out cosine" in r.stdout and amap.is_file()
    texts = isolated_home / "t.txt"
    texts.write_text("The minister said the new railway line would open next spring.\n"
                     "Shares in the bank fell after it warned about profits.\n")
    r = run("eval", "--input", str(texts), "--embedder", vendor, "--inverter", f"align:{amap}", "--steps", "2",
            "--beam", "2", "--json", "-")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["inverter"] == f"align:{amap}" and rep["cosine"] > 0.5

    from unembed.embed import load_embedder
    from unembed.invert.registry import load_inverter
    with pytest.raises(MismatchError, match="reads vendor@.*256-d.*not minilm"):
        load_inverter(f"align:{amap}", load_embedder("minilm"))
    with pytest.raises(UnknownModelError, match="alignment map not found"):
        load_inverter(f"align:{isolated_home / 'nope.npz'}", load_embedder("minilm"))

    # piece edits need the victim's tokenizer and gradients, and score only against its true vector
    assert load_inverter(f"align+search:{amap}", load_embedder(vendor)).refiner.pieces is None
    from unembed.invert.align import Alignment
    from unembed.invert.pieces import PieceRefiner
    minilm = load_embedder("minilm")
    own = Alignment.from_texts(minilm, minilm, texts.read_text().splitlines(), "procrustes").save(isolated_home / "own.npz")
    inv = load_inverter(f"align+search:{own}", minilm)
    assert isinstance(inv.refiner.pieces, PieceRefiner) and inv.inner.pieces is None


def test_alignment_methods_recover_a_linear_map(minilm):
    from unembed.invert.align import Alignment
    rng = np.random.default_rng(0)
    texts = [f"a sentence about {w} and {v}" for w in ("cats", "ships", "rain", "taxes", "music", "bread")
             for v in ("London", "the sea", "a farm", "the court", "a school", "the moon")]
    clean = minilm.embed(texts)
    q, _ = np.linalg.qr(rng.standard_normal((384, 384)))
    rotated = clean @ q.astype(np.float32)
    for method in ("procrustes", "ridge", "mlp"):
        a = Alignment.fit(rotated, clean, method, ("rot", 384), ("minilm", 384))
        assert float(((a(rotated) * clean).sum(1)).mean()) > 0.9, method


def test_gradient_proposals_are_single_word_swaps_that_help(minilm):
    from unembed.invert.hotflip import GradientProposer
    target = minilm.embed(["the cat sat on the mat"])[0]
    hyp = ("the", "dog", "sat", "on", "the", "mat")
    prop = GradientProposer(minilm, per_hypothesis=16)
    swaps = prop.propose(hyp, target)
    assert ("the", "cat", "sat", "on", "the", "mat") in swaps[:4] and prop.passes == 1
    assert all(len(s) == len(hyp) and sum(a != b for a, b in zip(s, hyp)) == 1 for s in swaps)
    base = float(minilm.embed([" ".join(hyp)])[0] @ target)
    assert max(minilm.embed([" ".join(s) for s in swaps]) @ target) > base


def test_piece_edits_build_a_name_no_word_list_holds(minilm):
    """The search's near miss "Aleksey" shares wordpieces with "Aletsch"; gradient-ranked piece edits
    inside words rebuild the name itself, and the refiner keeps a result only where it is closer."""
    from unembed.invert.pieces import PieceRefiner

    target = minilm.embed(["The Aletsch Glacier in"])[0]
    ref = PieceRefiner(minilm)
    text, cos, queries = ref.refine_one("the Aleksey glacier abet in", target)
    assert "Aletsch" in text.split() and cos > 0.99 and queries > 0 and ref.passes > 0
    assert float(minilm.embed([text])[0] @ target) == pytest.approx(cos, abs=1e-4)
    same = minilm.embed(["the glacier"])[0]
    assert ref.refine_one("the glacier", same) == ("the glacier", pytest.approx(1.0, abs=1e-4), 0)
    stuck = PieceRefiner(minilm, accept=1.01)  # what cannot reach `accept` comes back unchanged
    assert stuck.refine_one("the Aleksey glacier abet in", target, 0.5)[:2] == ("the Aleksey glacier abet in", 0.5)


def _secret_alignment(minilm):
    """A victim that is minilm seen through a fixed random linear map and renormalised, its map
    back into minilm from 12 pairs, and the aligned inverter over them."""
    from unembed.embed.base import l2_normalise
    from unembed.invert.align import AlignedInverter, Alignment
    from unembed.invert.lookup import LookupInverter

    class Secret:
        name, dim = "secret", 256
        w = np.random.default_rng(3).standard_normal((384, 256)).astype(np.float32)

        def embed(self, texts, batch_size=128):
            return l2_normalise(minilm.embed(texts) @ self.w)

    victim = Secret()
    pairs = [f"a short note about {w} in {v}" for w in ("cats", "ships", "rain", "taxes") for v in ("London", "May", "court")]
    a = Alignment.from_texts(victim, minilm, pairs)
    return victim, a, AlignedInverter(a, victim, LookupInverter(minilm, pairs), name="align")


def test_anchored_guides_beat_a_poor_map_near_a_found_candidate(minilm):
    """A map fitted on few pairs is poor far from them; re-aimed from a candidate the victim already
    placed near the target, the guide lands much closer to the target's true minilm vector."""

    victim, a, inv = _secret_alignment(minilm)
    texts = ["The minister said the new railway line would open next spring.",
             "Shares in the bank fell after it warned about profits."]
    near = ["The minister said the railway line would open next spring.",
            "Shares in the bank fell after it warned profits."]
    truth, targets, anchors = minilm.embed(texts), victim.embed(texts), victim.embed(near)
    mapped = (a(targets) * truth).sum(1)
    anchored = (inv.anchored_guides(targets, near, anchors) * truth).sum(1)
    assert (anchored > mapped + 0.2).all() and anchored.min() > 0.9
    # anchored at the target's own text, the guide is exactly that text's minilm vector
    assert np.allclose(inv.anchored_guides(targets, texts, targets), truth, atol=1e-5)


def test_local_guide_blends_many_found_candidates(minilm):
    """Anchored at several candidates at once (each missing a different three words), the guide lands nearer
    the target's true minilm vector than from the best of them alone; with the target's own text
    first among them, it is exactly that text's vector."""
    from unembed.invert.align import local_weights

    victim, a, inv = _secret_alignment(minilm)
    text = "The minister said the new railway line would open next spring."
    words = text.split()
    cands = [" ".join(words[:i] + words[i + 3:]) for i in range(len(words) - 2)]
    truth, target, ys = minilm.embed([text])[0], victim.embed([text]), victim.embed(cands)
    order = np.argsort(-(ys @ target[0]))
    cands, ys = [cands[i] for i in order], ys[order]
    single = float(inv.anchored_guides(target, cands[:1], ys[:1])[0] @ truth)
    local = float(inv.anchored_guides(target, cands[:1], ys[:1], near=[(cands, ys)])[0] @ truth)
    assert local > single + 0.01, (single, local)
    w = local_weights(target[0], ys)
    assert abs(w.sum() - 1) < 1e-5
    own = inv.anchored_guides(target, [text], target, near=[([text] + cands, np.concatenate([target, ys]))])
    assert np.allclose(own, truth, atol=1e-5)
