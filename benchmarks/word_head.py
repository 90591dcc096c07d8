"""What the trained word head (models/minilm-words) reads out of a vector, and what it buys the search.

1. Bag of words on the whole test split: the head's predicted word set (softmax share ≥ 0.02)
   against the two training-free guesses the search had before it: the words of the nearest
   reference sentence (lookup) and the word probe's top words (as many as the head predicted).
   Also recall@64: the share of a sentence's words among the 64 best-ranked.
2. The default search inverter with and without the head, on the first --n test sentences, in one
   run: BLEU, token F1, exact match, cosine, seconds per text.

    python benchmarks/word_head.py [--n 100] [--json benchmarks/results/archive/word_head.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.evaluate import evaluate
from unembed.invert.probe import word_set
from unembed.invert.registry import load_inverter, resolve_settings
from unembed.invert.train import bag_f1

HERE = Path(__file__).resolve().parent


def recall_at(ranked: list[list[tuple[str, float]]], texts: list[str]) -> float:
    out = []
    for words, text in zip(ranked, texts):
        gold = word_set(text)
        out.append(len(gold & {w.lower() for w, _ in words}) / max(len(gold), 1))
    return round(float(np.mean(out)), 4)


def run_search(inv, refs, steps, beam) -> dict:
    r = evaluate(refs, inv.embedder, inv, steps, beam, batch=8)
    return {"word_head": inv.words is not None, "steps": steps, "beam": beam, "bleu": round(r["bleu"], 2),
            "token_f1": round(r["token_f1"], 4), "exact_match": r["exact_match"], "cosine": round(r["cosine"], 4),
            "seconds_per_text": round(r["seconds_per_text"], 2),
            "samples": [{"text": x["text"], "reconstruction": x["reconstruction"]} for x in r["samples"][:5]]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100, help="test sentences for the search comparison")
    ap.add_argument("--split", default="test")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "word_head.json")
    args = ap.parse_args()

    emb = load_embedder("minilm")
    inv = load_inverter("search", emb)
    if inv.words is None:
        raise SystemExit("no word head shipped for minilm (models/minilm-words)")
    texts = read_split(args.split)
    vecs = emb.embed(texts, batch_size=256)
    head = inv.words
    bags = head.bags(vecs)
    size = max(1, round(float(np.mean([len(b) for b in bags]))))
    _, nn = inv.index.search(vecs, k=1)
    lookup_bags = [word_set(inv.index.texts[i]) for i in nn[:, 0]]
    probe_top = inv.probe.top(vecs, 64)
    probe_bags = [{w.lower() for w, _ in row[:size]} for row in probe_top]
    bag = {"n": len(texts), "head_mean_words": round(float(np.mean([len(b) for b in bags])), 2),
           "gold_mean_words": round(float(np.mean([len(word_set(t)) for t in texts])), 2),
           "bag_f1": {"word_head": round(bag_f1(bags, texts), 4), "lookup_neighbour": round(bag_f1(lookup_bags, texts), 4),
                      f"word_probe_top{size}": round(bag_f1(probe_bags, texts), 4)},
           "recall_at_64": {"word_head": recall_at(head.top(vecs, 64), texts), "word_probe": recall_at(probe_top, texts)}}
    print(json.dumps(bag, indent=2), flush=True)

    refs = texts[:args.n]
    steps, beam = resolve_settings(inv, None, None)
    with_head = run_search(inv, refs, steps, beam)
    inv.words = None
    without = run_search(inv, refs, steps, beam)
    result = {"split": args.split, "embedder": emb.name, "model": str(head.path), "bag_of_words": bag,
              "search": [without, with_head],
              "command": "python benchmarks/word_head.py --n %d" % args.n}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["search"], indent=2))


if __name__ == "__main__":
    main()
