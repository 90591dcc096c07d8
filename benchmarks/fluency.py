"""Does a trigram word-order prior raise BLEU on the search inverter's output without losing cosine?

Inverts held-out test sentences with the search inverter *without* its polish stage once (cached),
then polishes the same outputs at several tolerances and scores each against the originals.

    python benchmarks/fluency.py [--n 100] [--json benchmarks/results/archive/fluency.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from unembed import metrics
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.invert.fluency import FluencyPolisher, TrigramLM
from unembed.invert.registry import load_inverter, resolve_settings

HERE = Path(__file__).resolve().parent


def score(hyps, refs, targets, emb) -> dict:
    return {"bleu": round(metrics.bleu(hyps, refs), 2), "token_f1": round(metrics.token_f1(hyps, refs), 4),
            "exact_match": metrics.exact_match(hyps, refs),
            "cosine": round(float(np.mean((emb.embed(hyps) * targets).sum(1))), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--split", default="test")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/fluency_search.json"))
    ap.add_argument("--json", type=Path, default=HERE / "results" / "fluency.json")
    args = ap.parse_args()

    emb = load_embedder("minilm")
    refs = read_split(args.split)[:args.n]
    targets = emb.embed(refs)
    if args.cache.exists() and json.loads(args.cache.read_text())["refs"] == refs:
        cached = json.loads(args.cache.read_text())
    else:
        inv = load_inverter("search", emb)
        inv.polisher = None  # the raw search output: this benchmark applies the polish itself
        steps, beam = resolve_settings(inv, None, None)
        t = time.perf_counter()
        hyps = []
        for i in range(0, len(refs), 8):
            hyps += inv.invert(targets[i:i + 8], steps=steps, beam=beam)
            print(f"{len(hyps)}/{len(refs)}", flush=True)
        cached = {"refs": refs, "hyps": hyps, "steps": steps, "beam": beam,
                  "seconds_per_text": (time.perf_counter() - t) / len(refs)}
        args.cache.write_text(json.dumps(cached))
    t = time.perf_counter()
    lm = TrigramLM.for_texts(read_split("train"))
    print(f"trigram LM ready in {time.perf_counter() - t:.1f} s ({len(lm.c3):,} trigrams)", flush=True)
    rows = [{"variant": "search", "steps": cached["steps"], "beam": cached["beam"],
             "seconds_per_text": round(cached["seconds_per_text"], 2), **score(cached["hyps"], refs, targets, emb)}]
    print(rows[-1], flush=True)
    for tol in (0.0, 0.005, 0.01, 0.02, 0.05):
        pol = FluencyPolisher(emb, lm, tolerance=tol)
        t = time.perf_counter()
        out, _ = pol.polish(cached["hyps"], targets)
        rows.append({"variant": f"search + fluency (tolerance {tol})", "tolerance": tol,
                     "extra_seconds_per_text": round((time.perf_counter() - t) / len(refs), 3),
                     **score(out, refs, targets, emb)})
        print(rows[-1], flush=True)
        if tol == 0.01:
            examples = [{"text": r, "search": h, "polished": o} for r, h, o in zip(refs[:8], cached["hyps"], out)]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"n": len(refs), "split": args.split, "results": rows, "examples": examples},
                                    indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
