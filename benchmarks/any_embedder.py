"""Inverting mpnet (768-d), an embedder no inverter here was built for.

- alignment: N train-split texts embedded by mpnet and minilm → map (ridge / Procrustes / MLP);
  held-out cosine of mapped vectors to the true minilm vectors (500 val texts) for every N and
  method, and inversion quality of the best method per N (map, then minilm's search inverter);
- align+search: the N=1000 map only guides the search; mpnet scores every candidate;
- zero-shot: the search inverter run on mpnet directly (10k seeds + 10k probe words embedded by
  mpnet once), at several query budgets per text.
All on the first --n texts of the test split, at --steps/--beam.

    python benchmarks/any_embedder.py   # → benchmarks/results/archive/any_embedder.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from unembed import metrics
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.invert.align import Alignment
from unembed.invert.registry import load_inverter, own_word_probe

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--split", choices=("test", "val"), default="test", help="val: the n val texts after the 500 "
                    "that score the map, for choosing settings without looking at the test texts")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--beam", type=int, default=2)
    ap.add_argument("--pairs", default="10,100,1000,10000")
    ap.add_argument("--budgets", default="500,2000")
    ap.add_argument("--victim", default="mpnet")
    ap.add_argument("--extrapolate", default="0", help="align+search runs, one per value of AlignedInverter.extrapolate")
    ap.add_argument("--denoise", default="0", help="align+search runs, one per value of AlignedInverter.denoise "
                    "(crossed with --extrapolate)")
    ap.add_argument("--own-probe", default="0", help="align+search runs with (1) and without (0) the victim's own "
                    "word probe read at the true vector (crossed with the above)")
    ap.add_argument("--own-residual", type=int, default=None, help="1/0: also read the victim's probe past the "
                    "target, away from each step's best text (default: the inverter's own setting)")
    ap.add_argument("--local", default="0.1", help="align+search runs, one per value of AlignedInverter.local "
                    "(0: anchor at the best candidate alone; crossed with the above)")
    ap.add_argument("--pieces", default="1", help="0, 1 or 0,1: align+search rows without and with (the default for a "
                    "torch victim) piece edits on the victim (white-box: its tokenizer and gradients)")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "any_embedder.json")
    args = ap.parse_args()

    victim, known = load_embedder(args.victim), load_embedder("minilm")
    ns = [int(x) for x in args.pairs.split(",")]
    train, held = read_split("train")[: max(ns)], read_split("val")[:500]
    test = read_split("test")[: args.n] if args.split == "test" else read_split("val")[500:500 + args.n]
    t0 = time.perf_counter()
    v_train, k_train = victim.embed(train), known.embed(train)
    v_held, k_held = victim.embed(held), known.embed(held)
    v_test = victim.embed(test)
    print(f"embedded {len(train) + len(held) + len(test)} texts in {time.perf_counter() - t0:.0f} s", flush=True)
    inner = load_inverter(None, known)

    def score(recon: list[str], seconds: float, queries=None) -> dict:
        back = victim.embed(recon)
        out = {"bleu": metrics.bleu(recon, test), "token_f1": metrics.token_f1(recon, test),
               "exact_match": metrics.exact_match(recon, test), "cosine": metrics.cosine(v_test, back),
               "seconds_per_text": seconds, "example": recon[0]}
        if queries is not None:
            out["victim_queries_per_text"] = queries
        return out

    alignment, maps = [], {}
    for n in ns:
        fits = {}
        for method in ("ridge", "procrustes") + (("mlp",) if n in (100, 1000) else ()):
            a = Alignment.fit(v_train[:n], k_train[:n], method, (victim.name, victim.dim), (known.name, known.dim))
            fits[method] = (metrics.cosine(k_held, a(v_held)), a)
        best = max(fits, key=lambda m: fits[m][0])
        maps[n] = fits[best][1]
        t = time.perf_counter()
        recon = inner.invert(maps[n](v_test), steps=args.steps, beam=args.beam)
        row = {"pairs": n, "held_out_cosine": {m: c for m, (c, _) in fits.items()}, "best": best,
               "inversion": score(recon, (time.perf_counter() - t) / len(test))}
        alignment.append(row)
        print(json.dumps({"pairs": n, "best": best, "cos": row["held_out_cosine"],
                          "token_f1": row["inversion"]["token_f1"], "bleu": row["inversion"]["bleu"]}), flush=True)

    result = {"victim": victim.name, "known": known.name, "split": args.split, "n": len(test), "steps": args.steps, "beam": args.beam,
              "alignment": alignment}
    with tempfile.TemporaryDirectory() as tmp:
        n = 1000 if 1000 in maps else max(maps)
        path = maps[n].save(Path(tmp) / "map.npz")
        inv = load_inverter(f"align+search:{path}", victim)
        result["align_search"] = []
        own = None
        # piece edits (on by default for a torch victim) are the search's last stage: run here on its results,
        # so that one search gives the rows without and with them (+1 query a text: the result's own cosine)
        pieces, inv.refiner.pieces = inv.refiner.pieces if "1" in args.pieces.split(",") else None, None
        if "1" in args.own_probe.split(","):  # the victim's own word probe: 10k words it embeds once
            own = own_word_probe(victim)
        if args.own_residual is not None:
            inv.refiner.own_residual = bool(args.own_residual)
        for x, dn, op, lo in [(float(x), float(d), int(o), float(lo)) for x in args.extrapolate.split(",")
                              for d in args.denoise.split(",") for o in args.own_probe.split(",") for lo in args.local.split(",")]:
            inv.extrapolate, inv.denoise, inv.refiner.own_probe, inv.local = x, dn, own if op else None, lo
            t = time.perf_counter()
            recon = inv.invert(v_test, steps=args.steps, beam=args.beam)
            seconds, queries = time.perf_counter() - t, np.array(inv.queries_per_text, dtype=float)
            settings = {"pairs": n, "extrapolate": x, "denoise": dn, "own_probe": bool(op), "local": lo,
                        "own_residual": bool(op and inv.refiner.own_residual), "setup_queries": len(own.vocab) if op else 0}
            rows = []
            if "0" in args.pieces.split(",") or pieces is None:  # a victim with no gradients: the search alone
                rows.append({**settings, "pieces": False, **score(recon, seconds / len(test), float(queries.mean())),
                             "texts": list(recon)})
            if pieces is not None:
                t = time.perf_counter()
                for i, (text, y) in enumerate(zip(recon, v_test)):
                    recon[i], _, used = pieces.refine_one(text, y)
                    queries[i] += used + 1
                seconds += time.perf_counter() - t
                rows.append({**settings, "pieces": True, **score(recon, seconds / len(test), float(queries.mean())),
                             "texts": list(recon)})
            for row in rows:
                result["align_search"].append(row)
                print(json.dumps({k: v for k, v in row.items() if k not in ("example", "texts")}), flush=True)

    result["zero_shot"] = []
    for budget in [int(x) for x in args.budgets.split(",") if x]:
        t = time.perf_counter()
        inv = load_inverter(f"zero-shot:{budget}", victim)
        setup = time.perf_counter() - t
        t = time.perf_counter()
        recon = inv.invert(v_test, steps=args.steps * 2, beam=args.beam * 2)  # the budget binds, not the steps
        row = {"budget": budget, "setup_queries": inv.setup_queries, "setup_seconds_first_run": setup,
               **score(recon, (time.perf_counter() - t) / len(test), float(np.mean(inv.queries_per_text)))}
        result["zero_shot"].append(row)
        print(json.dumps({"zero-shot": budget, "token_f1": row["token_f1"], "q": row["victim_queries_per_text"]}), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
