"""Concept blends: does the inverted blend sit between its parents, closer than they are to each other?

For each pair (A, B) in benchmarks/concepts/pairs.tsv: blend = mean(A, B) (slerp's midpoint is the
same direction), invert it with the default inverter, re-embed the text, and compare against the
baseline of returning the nearer parent's text unchanged.

    python benchmarks/concepts_blend.py [--steps S --beam B] [--json benchmarks/results/archive/concepts_blend.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from unembed.concepts import ConceptSpace
from unembed.embed import load_embedder
from unembed.invert.registry import load_inverter, resolve_settings

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=Path, default=HERE / "concepts" / "pairs.tsv")
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--inverter", default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--beam", type=int, default=None)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "concepts_blend.json")
    args = ap.parse_args()

    pairs = [ln.split("\t") for ln in args.pairs.read_text(encoding="utf-8").splitlines() if ln.strip()]
    emb = load_embedder(args.embedder)
    inv = load_inverter(args.inverter, emb)
    steps, beam = resolve_settings(inv, args.steps, args.beam)
    space = ConceptSpace(emb, inv, steps, beam)
    rows, t0 = [], time.perf_counter()
    for a, b in tqdm(pairs, desc="blends"):
        r = space.blend([a, b])
        ca, cb = r["cosine_to_parents"]
        near = r["nearest_parent"]
        rows.append({
            "a": a, "b": b, "blend_text": r["text"],
            "blend_cosine_to_blend": r["cosine_to_blend"], "blend_cosine_to_a": ca, "blend_cosine_to_b": cb,
            "parents_cosine": r["parents_cosine"],
            # baseline: the nearer parent's own text, unchanged
            "baseline_cosine_to_blend": r["nearest_parent_cosine_to_blend"],
            "baseline_min_cosine_to_parents": r["parents_cosine"],  # 1 to itself, parents_cosine to the other
            "closer_than_parents": r["closer_than_parents"],
            "baseline_parent": "a" if near == 0 else "b",
        })
    secs = (time.perf_counter() - t0) / len(pairs)
    mean = lambda k: float(np.mean([r[k] for r in rows]))
    summary = {
        "pairs": len(rows), "embedder": emb.name, "inverter": inv.name, "steps": steps, "beam": beam,
        "blend_cosine_to_blend": mean("blend_cosine_to_blend"),
        "baseline_cosine_to_blend": mean("baseline_cosine_to_blend"),
        "blend_min_cosine_to_parents": float(np.mean([min(r["blend_cosine_to_a"], r["blend_cosine_to_b"]) for r in rows])),
        "blend_mean_cosine_to_parents": float(np.mean([(r["blend_cosine_to_a"] + r["blend_cosine_to_b"]) / 2 for r in rows])),
        "baseline_min_cosine_to_parents": mean("baseline_min_cosine_to_parents"),
        "baseline_mean_cosine_to_parents": float(np.mean([(1 + r["parents_cosine"]) / 2 for r in rows])),
        "parents_cosine": mean("parents_cosine"),
        "closer_than_parents": mean("closer_than_parents"),
        "seconds_per_blend": secs,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
