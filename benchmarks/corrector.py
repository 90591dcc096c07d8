"""Embedding feedback that keeps text fluent, measured on one split in one run: the default search,
then what a Gemma writer does with the vector (and with the search's result as its draft), with and
without cosine guidance. Every row is scored on the same texts: BLEU, token F1, exact match, cosine,
readability (nll_ratio under Gemma-3-270M) and seconds per text.

    python benchmarks/corrector.py --corrector runs/minilm-corrector --prefix runs/minilm-prefix-prose \
        --split val_prose --n 60 --json benchmarks/results/corrector_val.json

Rows:
- `search`: the default inverter (8 steps, beam 4) as shipped;
- `prefix`: the Gemma prefix generator alone (the word head's words, beam 4), and `prefix+guided`: its
  beam ranked by mean token log-probability + w × cosine of each re-embedded partial text;
- `corrector`: the corrector's best-scored rewrite of the search's result; `corrector+guided`: the
  same with cosine guidance; `corrector, margin m`: its closest rewrite replaces the search's
  result where within m cosine of it (what the inverter's `corrector` stage does).
The corrector and guided rows' seconds include the search's.
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
    from unembed.invert.prefix import PrefixDecoder
    from unembed.invert.registry import load_inverter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corrector", type=Path, help="a corrector folder (unembed train --model prefix --draft)")
    ap.add_argument("--prefix", type=Path, help="a Gemma prefix generator folder (unembed train --model prefix)")
    ap.add_argument("--split", default="val_prose")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--guide", type=float, default=20.0, help="w: the cosine's weight in guided decoding")
    ap.add_argument("--margins", default="0,0.01,0.02,0.05")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    texts = read_split(a.split)[:a.n]
    emb = load_embedder("minilm")
    x = emb.embed(texts)
    nll = LocalGemma().nll
    ref_nll = float(np.mean(nll(texts)))
    rows = []

    def row(name: str, hyps: list[str], seconds: float) -> None:
        r = {"row": name, "n": len(hyps), "bleu": metrics.bleu(hyps, texts), "token_f1": metrics.token_f1(hyps, texts),
             "exact_match": metrics.exact_match(hyps, texts), "cosine": metrics.cosine(x, emb.embed(hyps)),
             "nll_ratio": float(np.mean(nll(hyps))) / ref_nll, "seconds_per_text": seconds / len(hyps),
             "examples": [[t, h] for t, h in zip(texts[:4], hyps[:4])]}
        rows.append(r)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "examples"}),
              flush=True)

    def timed(fn):
        t0 = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t0

    inv = load_inverter(None, emb)
    search, t_search = timed(lambda: [str(inv.invert(x[i:i + 1])[0]) for i in range(len(x))])
    row("search", search, t_search)
    cos_search = np.sum(emb.embed(search) * x, 1)

    if a.prefix:
        gen = PrefixDecoder.load(a.prefix)
        out, t = timed(lambda: gen.generate(x, beam=4))
        row("prefix", [o[0][1] if o else "" for o in out], t)
        out, t = timed(lambda: gen.guided(x, emb, beam=4, weight=a.guide))
        row(f"prefix+guided w={a.guide:g}", [o[0][1] if o else "" for o in out], t)
        del gen

    if a.corrector:
        cor = PrefixDecoder.load(a.corrector)
        written, t = timed(lambda: cor.generate(x, beam=4, drafts=search))
        row("corrector", [o[0][1] if o else s for o, s in zip(written, search)], t_search + t)
        cands = [[c for _, c in o] for o in written]
        cos = [emb.embed(c) @ x[i] if c else np.zeros(0) for i, c in enumerate(cands)]
        for m in map(float, a.margins.split(",")):
            hyps = [c[int(np.argmax(k))] if len(c) and k.max() >= s - m else h
                    for c, k, s, h in zip(cands, cos, cos_search, search)]
            row(f"corrector, margin {m:g}", hyps, t_search + t)
        out, t = timed(lambda: cor.guided(x, emb, beam=4, weight=a.guide, drafts=search))
        row(f"corrector+guided w={a.guide:g}", [o[0][1] if o else s for o, s in zip(out, search)], t_search + t)

    from unembed.metrics import READABILITY
    result = signed({"rows": rows, "readability": READABILITY, "corrector": str(a.corrector), "prefix": str(a.prefix),
                     "corrector_history": _history(a.corrector), "prefix_history": _history(a.prefix)},
                    split=a.split, n=len(texts), seed=None)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=2) + "\n")


def _history(folder: Path | None) -> list | None:
    """The run's validation rows (step, sentences seen, CPU-hours): how much training the folder had."""
    if folder is None or not (folder / "metrics.json").exists():
        return None
    return [{k: r.get(k) for k in ("step", "sentences", "cpu_hours", "val_bleu")} for r in
            json.loads((folder / "metrics.json").read_text())]


if __name__ == "__main__":
    main()
