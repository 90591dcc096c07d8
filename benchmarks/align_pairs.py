"""Which N texts make the best few-shot map? An attacker chooses what to embed with the unknown
embedder, so the choice of texts is free; this measures whether it matters.

Ridge maps mpnet → minilm from N texts chosen four ways, scored by held-out minilm cosine on 500
val sentences (as `unembed align` reports it), at three ridge strengths:
  first       the first N train sentences (what `unembed align` uses)
  farthest    greedy farthest-point picks in minilm's space from the first 20k (spread out)
  longest     the N longest of the first 20k
  words       N/2 sentences and N/2 single words

    python benchmarks/align_pairs.py [--pairs 1000] [--json benchmarks/results/archive/align_pairs.json]
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.embed.base import l2_normalise
from unembed.invert.align import ridge_map

HERE = Path(__file__).resolve().parent


def farthest(vectors: np.ndarray, n: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(len(vectors)))]
    nearest = vectors @ vectors[chosen[0]]
    for _ in range(n - 1):
        j = int(np.argmin(nearest))
        chosen.append(j)
        nearest = np.maximum(nearest, vectors @ vectors[j])
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "align_pairs.json")
    args = ap.parse_args()
    victim, known = load_embedder("mpnet"), load_embedder("minilm")
    train, held = read_split("train"), read_split("val")[:500]
    y_held, x_held = victim.embed(held), known.embed(held)
    n, pool = args.pairs, train[:20000]
    words = sorted({w.lower() for t in train[:5000] for w in t.split() if w.isalpha()})
    choices = {"first": train[:n],
               "farthest": [pool[i] for i in farthest(known.embed(pool), n)],
               "longest": sorted(pool, key=lambda t: -len(t.split()))[:n],
               "words": train[:n // 2] + random.Random(0).sample(words, n - n // 2)}
    result = {"command": f"python benchmarks/align_pairs.py --pairs {n}", "held_out": len(held), "rows": []}
    for name, texts in choices.items():
        s, t = victim.embed(texts), known.embed(texts)
        for alpha in (0.3, 1.0, 3.0):
            w = ridge_map(s, t, alpha)
            cos = float((l2_normalise(y_held @ w) * x_held).sum(1).mean())
            result["rows"].append({"texts": name, "pairs": len(texts), "alpha": alpha, "held_out_cosine": round(cos, 4)})
            print(json.dumps(result["rows"][-1]), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
