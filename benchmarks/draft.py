"""The search's draft embedder: int8 under onnxruntime (unembed/embed/draft.py) against the bfloat16
draft it replaced and float32, on minilm, in one run.

1. Speed and agreement: N val texts embedded each way (texts/s, and each draft's cosine to the
   float32 vector).
2. Ranking where the search ranks: for M val texts, every one-word deletion and 60 random one-word
   substitutions and insertions (words from the other texts); how many of the 8 closest to the
   text by float32 are among the draft's 8 closest (the search embeds those exactly, `exact_top`).
3. End to end: the default search on the first --n val texts with each draft (BLEU, token F1,
   exact, cosine, s/text).

    python benchmarks/draft.py [--n 80] [--texts 1024] [--rank 100] [--json benchmarks/results/archive/draft.json]
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.evaluate import evaluate
from unembed.invert.registry import load_inverter

HERE = Path(__file__).resolve().parent


def timed(fn, texts) -> tuple[np.ndarray, float]:
    fn(texts[:64])  # warm: the int8 draft is exported or loaded on first use
    t0 = time.perf_counter()
    out = fn(texts)
    return out, len(texts) / (time.perf_counter() - t0)


def one_word_edits(words: list[str], pool: list[str], rng: random.Random, n: int = 60) -> list[str]:
    out = {" ".join(words[:i] + words[i + 1:]) for i in range(len(words))}
    while len(out) < len(words) + n:
        i = rng.randrange(len(words) + 1)
        w = rng.choice(pool)
        out.add(" ".join(words[:i] + [w] + words[i + 1:] if rng.random() < 0.5 and i < len(words) else words[:i] + [w] + words[i:]))
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=80, help="val texts the search inverts with each draft (0: skip)")
    ap.add_argument("--texts", type=int, default=1024, help="val texts for speed and agreement")
    ap.add_argument("--rank", type=int, default=100, help="val texts whose one-word edits are ranked")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "draft.json")
    args = ap.parse_args()

    emb = load_embedder("minilm")
    val = read_split("val")
    texts = val[:args.texts]
    kinds = ("int8", "bfloat16")
    result = {"embedder": emb.name, "command": f"python benchmarks/draft.py --n {args.n} --texts {args.texts} --rank {args.rank}"}

    def draft(kind):
        emb.draft_kind = kind
        return lambda x: emb.embed_draft(x, batch_size=128)

    exact, speed = timed(lambda x: emb.embed(x, batch_size=128), texts)
    rows = {"float32": {"texts_per_s": round(speed, 1)}}
    for kind in kinds:
        v, speed = timed(draft(kind), texts)
        cos = (v * exact).sum(1)
        rows[kind] = {"texts_per_s": round(speed, 1), "cosine_to_float32_mean": round(float(cos.mean()), 5),
                      "cosine_to_float32_min": round(float(cos.min()), 5)}
    for kind in ("float32",) + kinds:
        rows[kind]["speed_vs_float32"] = round(rows[kind]["texts_per_s"] / rows["float32"]["texts_per_s"], 2)
    print(json.dumps(rows), flush=True)

    rng, pool = random.Random(0), [w for t in val[:2000] for w in t.split()]
    recall = {k: [] for k in kinds}
    for text in val[2000:2000 + args.rank]:
        cands = one_word_edits(text.split(), pool, rng)
        target = emb.embed([text])[0]
        best = set(np.argsort(-(emb.embed(cands) @ target))[:8])
        for kind in kinds:
            recall[kind].append(len(best & set(np.argsort(-(draft(kind)(cands) @ target))[:8])) / 8)
    for kind in kinds:
        rows[kind]["one_word_edits_top8_recall"] = round(float(np.mean(recall[kind])), 4)
    result["drafts"] = rows
    print(json.dumps({k: v.get("one_word_edits_top8_recall") for k, v in rows.items()}), flush=True)

    result["search"] = []
    if args.n:
        inv = load_inverter("search", emb)
        for kind in kinds:
            emb.draft_kind = kind
            r = evaluate(val[:args.n], emb, inv, 8, 4, batch=8, progress=False)
            row = {"draft": kind, "n": args.n, "steps": 8, "beam": 4, "bleu": round(r["bleu"], 2), "token_f1": round(r["token_f1"], 4),
                   "exact_match": r["exact_match"], "cosine": round(r["cosine"], 4), "seconds_per_text": round(r["seconds_per_text"], 3)}
            print(json.dumps(row), flush=True)
            result["search"].append(row)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
