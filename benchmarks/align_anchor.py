"""Why anchored re-guiding works: a few-shot map's error grows with the distance it spans.

For --n val texts, the ridge map from --pairs train pairs (mpnet → minilm) is compared with the
anchored guide minilm(c) + W·(mpnet(x) − mpnet(c)), where the anchor c is the text itself with a
share of its words dropped (closer anchors: smaller shares). Reports each anchor's mpnet cosine
to the truth and the guides' minilm cosine to it.

    python benchmarks/align_anchor.py   # → benchmarks/results/archive/align_anchor.json (about 2 min)
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from unembed import metrics
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.invert.align import Alignment

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "align_anchor.json")
    args = ap.parse_args()

    victim, known = load_embedder("mpnet"), load_embedder("minilm")
    train, texts = read_split("train")[: args.pairs], read_split("val")[: args.n]
    a = Alignment.from_texts(victim, known, train)
    y, x = victim.embed(texts), known.embed(texts)
    result = {"victim": victim.name, "known": known.name, "pairs": args.pairs, "n": len(texts),
              "map_cosine": metrics.cosine(a(y), x), "anchors": []}
    rng = random.Random(0)
    for drop in (0.5, 0.3, 0.15):
        near = [" ".join(w for w in t.split() if rng.random() > drop) or t for t in texts]
        y_c, x_c = victim.embed(near), known.embed(near)
        anchored = x_c + a.project(y) - a.project(y_c)
        row = {"words_dropped": drop, "anchor_victim_cosine": metrics.cosine(y_c, y), "anchor_known_cosine": metrics.cosine(x_c, x),
               "anchored_cosine": metrics.cosine(anchored, x)}
        result["anchors"].append(row)
        print(json.dumps(row), flush=True)
    print(f"map alone: {result['map_cosine']:.3f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
