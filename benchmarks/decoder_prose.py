"""A sentence writer's own sentences (greedy, no search) on a split, for one or more folders (bag
decoders, or Gemma prefix inverters from `unembed train --model prefix`) in one run: BLEU, token F1, cosine and readability. What a training run's learning curve is
compared against.

    UNEMBED_DATA=~/.cache/unembed/prose python benchmarks/decoder_prose.py models/minilm-decoder runs/prose-decoder \
        --split val --n 300 --json benchmarks/results/decoder_prose_val.json

With UNEMBED_DATA pointing at a prose-only build (`unembed data build --sources brown,nlp_corpus,bbc
--out DIR`), `val` is prose only; with the default build, `val_prose` is the same sentences.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signature import signed  # noqa: E402


def main() -> None:
    from unembed import metrics
    from unembed.data.corpus import read_split
    from unembed.embed import load_embedder
    from unembed.generate.gemma import LocalGemma
    from unembed.invert.decoder import SentenceDecoder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("decoders", nargs="+", type=Path)
    ap.add_argument("--split", default="val")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    texts = read_split(a.split)[:a.n]
    emb = load_embedder("minilm")
    x = emb.embed(texts)
    gemma = LocalGemma()
    rows = []
    for folder in a.decoders:
        kind = json.loads((folder / "config.json").read_text()).get("kind")
        if kind == "gemma-prefix":
            from unembed.invert.prefix import PrefixDecoder
            dec = PrefixDecoder.load(folder)
        else:
            dec = SentenceDecoder.load(folder)
        t0 = time.perf_counter()
        hyps = [h[0][1] if h else "" for h in dec.generate(x, beam=1)]
        seconds = (time.perf_counter() - t0) / len(texts)
        row = {"decoder": str(folder), "bleu": metrics.bleu(hyps, texts), "token_f1": metrics.token_f1(hyps, texts),
               "cosine": float(np.mean(np.sum(emb.embed(hyps) * x, 1))), "seconds_per_text": seconds,
               **metrics.readability(hyps, texts, gemma.nll), "examples": list(zip(texts[:5], hyps[:5]))}
        row.pop("readability")
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "examples"}), flush=True)
    result = signed({"rows": rows, "readability": metrics.READABILITY, "decoding": "greedy, the decoder alone"},
                    split=a.split, n=len(texts), seed=None)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
