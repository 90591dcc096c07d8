"""White-box speed-up: the zero-shot search with and without HotFlip gradient swaps, same query budget.

    python benchmarks/whitebox.py [--victim mpnet --budget 500]   # → benchmarks/results/archive/whitebox.json
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
from unembed.invert.registry import load_inverter

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--victim", default="mpnet")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--budget", type=int, default=500)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "whitebox.json")
    args = ap.parse_args()
    victim = load_embedder(args.victim)
    test = read_split("test")[: args.n]
    targets = victim.embed(test)
    rows = []
    for spec in (f"zero-shot:{args.budget}", f"zero-shot+grad:{args.budget}"):
        inv = load_inverter(spec, victim)
        t = time.perf_counter()
        recon = inv.invert(targets, steps=args.steps, beam=args.beam)
        secs = (time.perf_counter() - t) / len(test)
        rows.append({"inverter": spec, "bleu": metrics.bleu(recon, test), "token_f1": metrics.token_f1(recon, test),
                     "cosine": float(np.mean((victim.embed(recon) * targets).sum(1))), "seconds_per_text": secs,
                     "victim_queries_per_text": float(np.mean(inv.queries_per_text)),
                     "gradient_passes_per_text": (inv.gradient.passes / len(test)) if inv.gradient else 0})
        print(json.dumps(rows[-1]), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"victim": victim.name, "n": len(test), "steps": args.steps, "beam": args.beam,
                                     "budget": args.budget, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
