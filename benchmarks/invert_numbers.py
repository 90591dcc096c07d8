"""Do numbers survive inversion? The default inverter on texts that hold a number (a numeral or a
quantity word), with and without the search offering each number's neighbouring values
(variants.number_values: "six" for "eight", 1988 for 1989). Numbers matter out of proportion to
their share of words: they are what many RAG answers are, and the embedder barely tells them
apart ("lives six weeks" and "lives eight weeks": cosine 0.997).

    python benchmarks/invert_numbers.py [--split val] [--n 40]   # → benchmarks/results/archive/invert_numbers.json
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from unembed import metrics
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.invert.registry import load_inverter, resolve_settings
from unembed.invert.variants import QUANTITIES, core

HERE = Path(__file__).resolve().parent


def number_tokens(text: str) -> Counter:
    cores = (core(t) for t in text.split())
    return Counter(c for c in cores if c in QUANTITIES or (c.isdigit() and len(c) <= 4))


def number_recall(hyps: list[str], refs: list[str]) -> float:
    """Of the number tokens in the references, the share found in their reconstructions (as multisets)."""
    found = total = 0
    for h, r in zip(hyps, refs):
        want = number_tokens(r)
        found += sum((want & number_tokens(h)).values())
        total += sum(want.values())
    return found / max(total, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="val", help="val to develop on; test once, to report")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--min-words", type=int, default=6)
    ap.add_argument("--max-words", type=int, default=24)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "invert_numbers.json")
    args = ap.parse_args()

    embedder = load_embedder("minilm")
    inverter = load_inverter(None, embedder)
    steps, beam = resolve_settings(inverter, None, None)
    texts = [t for t in read_split(args.split)
             if args.min_words <= len(t.split()) <= args.max_words and number_tokens(t)][: args.n]
    truth = embedder.embed(texts)
    rows = []
    for numbers in (False, True):
        inverter.numbers = numbers
        t0, out, queries = time.perf_counter(), [], 0
        for text, vec in tqdm(list(zip(texts, truth)), desc=f"numbers {'on' if numbers else 'off'}", unit=" text"):
            out += inverter.invert(vec[None], steps=steps, beam=beam)  # one at a time, as a store reads them
            queries += inverter.queries_per_text[0]
        row = {"number_values": numbers, "number_recall": round(number_recall(out, texts), 4),
               "bleu": round(metrics.bleu(out, texts), 2), "token_f1": round(metrics.token_f1(out, texts), 4),
               "cosine": round(metrics.cosine(truth, embedder.embed(out)), 4),
               "queries_per_text": round(queries / len(texts)),
               "seconds_per_text": round((time.perf_counter() - t0) / len(texts), 2),
               "samples": [{"text": t, "reconstruction": o} for t, o in zip(texts, out)]}
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "samples"}), flush=True)
    result = {"embedder": embedder.name, "inverter": inverter.name, "steps": steps, "beam": beam, "split": args.split,
              "n": len(texts), "words": [args.min_words, args.max_words], "rows": rows,
              "command": f"python benchmarks/invert_numbers.py --split {args.split} --n {args.n}"}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
