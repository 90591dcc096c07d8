"""How much of align+search's shortfall is the map? The same search on mpnet vectors, guided two
ways over the first --n test texts: by the ridge map from 1,000 pairs (what ships), and by the
true minilm vector of each text (a perfect map, which no attacker has). It also reports how close
two cheap guide repairs get to the truth: minilm's embedding of round 1's text, and that plus
the map of what mpnet says is still missing (x₁ + W(y − y₁)).

    python benchmarks/align_guide.py [--n 20 --steps 4 --beam 2]   # → benchmarks/results/align_guide.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from unembed import metrics
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.embed.base import l2_normalise
from unembed.invert.align import Alignment
from unembed.invert.registry import load_inverter

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--beam", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "align_guide.json")
    args = ap.parse_args()

    victim, known = load_embedder("mpnet"), load_embedder("minilm")
    train, test = read_split("train")[: args.pairs], read_split("test")[: args.n]
    a = Alignment.from_texts(victim, known, train)
    y, x = victim.embed(test), known.embed(test)
    with tempfile.TemporaryDirectory() as tmp:
        search = load_inverter(f"align+search:{a.save(Path(tmp) / 'map.npz')}", victim).refiner
    result = {"victim": victim.name, "known": known.name, "pairs": args.pairs, "n": args.n, "steps": args.steps,
              "beam": args.beam, "guide_cosine": {}, "runs": {}}

    def run(name, guides) -> list[str]:
        recon = search.invert(y, steps=args.steps, beam=args.beam, guides=guides)
        result["runs"][name] = {"bleu": metrics.bleu(recon, test), "token_f1": metrics.token_f1(recon, test),
                                "cosine_in_victim": metrics.cosine(y, victim.embed(recon)),
                                "example": recon[0]}
        print(name, json.dumps(result["runs"][name]), flush=True)
        return recon

    g = a(y)
    result["guide_cosine"]["ridge map"] = metrics.cosine(x, g)
    first = run("ridge map guide", g)
    x1, y1 = known.embed(first), victim.embed(first)
    repaired = l2_normalise(x1 + (y - y1) @ a.weights["linear"])
    result["guide_cosine"]["minilm of round 1's text"] = metrics.cosine(x, x1)
    result["guide_cosine"]["that + W(y − y₁)"] = metrics.cosine(x, repaired)
    print(json.dumps(result["guide_cosine"]), flush=True)
    run("true minilm vector as guide (perfect map)", x)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
