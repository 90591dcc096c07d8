"""How near each held-out split's sentences come to the train split's: the corpus is deduplicated
by whole sentence only (case and spacing aside), so dictionary glosses and lyrics can have near twins across splits.

For the first N sentences of val, test and ood, the train sentence nearest in minilm's space (the
whole split, as `lookup` would find it) and its token F1 to the held-out sentence.

    python benchmarks/split_overlap.py [--n 100] [--json benchmarks/results/archive/split_overlap.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from unembed import metrics
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.invert.lookup import ReferenceIndex

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "split_overlap.json")
    args = ap.parse_args()
    emb, train = load_embedder("minilm"), read_split("train")
    index = ReferenceIndex(emb, train)  # about 30 min to embed on 2 cores the first time, then cached
    result = {"command": f"python benchmarks/split_overlap.py --n {args.n}", "train": len(train), "splits": {}}
    for split in ("val", "test", "ood"):
        texts = read_split(split)[:args.n]
        _, idx = index.search(emb.embed(texts), k=1)
        f1 = np.array([metrics.token_f1_pair(train[i], t) for i, t in zip(idx[:, 0], texts)])
        top = np.argsort(-f1)[:3]
        result["splits"][split] = {"n": len(texts), "mean_token_f1": round(float(f1.mean()), 4),
                                   "share_f1_at_least_0.5": round(float((f1 >= 0.5).mean()), 4),
                                   "share_f1_at_least_0.8": round(float((f1 >= 0.8).mean()), 4),
                                   "closest": [{"text": texts[j], "train": train[idx[j, 0]], "token_f1": round(float(f1[j]), 3)}
                                               for j in top]}
        print(split, json.dumps({k: v for k, v in result["splits"][split].items() if k != "closest"}), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
