"""Is the default search limited by how it picks its answer, or by which texts it ever tries?

Inverts val texts with the default inverter and keeps every text it embedded exactly on the way
(the seeds' rescoring, each step's closest proposals, piece edits, polish orders). Then, on that
pool alone:
- its best by cosine (what the search returns, before the opening case), with the opening case;
- a language prior picks among the texts within `eps` cosine of the best: the trigram model of the
  training split, or Gemma-3-270M (total log-probability), each weighted by `lam`;
- an oracle, which knows the reference, picks the text of highest token F1 within `eps` of the best:
  the most any re-ranking of what the search tried could give.

    python benchmarks/search_pool.py [--split val] [--n 100] [--gemma] [--json benchmarks/results/archive/search_pool_val.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from unembed import metrics
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.invert.registry import load_inverter, resolve_settings

HERE = Path(__file__).resolve().parent
GEMMA_POOL = (0.02, 24)  # Gemma scores at most the 24 closest texts within 0.02 of the best: about 20 per text


def pools(inv, texts: list[str], vectors: np.ndarray, steps: int, beam: int) -> tuple[list[str], list[dict[str, float]]]:
    """The inverter's answers, and per text every text embedded exactly during its search, with its cosine."""
    emb, logged = inv.embedder, []
    plain = emb.embed

    def recording(batch, *a, **kw):
        out = plain(batch, *a, **kw)
        logged.append((list(batch), out))
        return out

    emb.embed = recording
    answers, found = [], []
    try:
        for i in range(0, len(texts), 8):  # 8 a call, as the eval does
            logged.clear()
            answers += inv.invert(vectors[i:i + 8], steps, beam)
            words = [t for batch, _ in logged for t in batch]
            vecs = np.concatenate([v for _, v in logged])
            for v in vectors[i:i + 8]:  # a call's texts are far apart: another text's proposals score low here
                sims = vecs @ v
                found.append({t: float(c) for t, c in zip(words, sims) if c > 0.8})
    finally:
        emb.embed = plain
    return answers, found


def gemma_scorer():
    import torch

    from unembed.generate.gemma import LocalGemma
    g = LocalGemma()
    g.tokenizer.padding_side = "right"

    def logprob(texts: list[str]) -> list[float]:
        enc = g.tokenizer(texts, return_tensors="pt", padding=True)  # opens with <bos>
        with torch.no_grad():
            logits = g.model(**enc).logits.float()
        lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, enc["input_ids"][:, 1:, None])[..., 0]
        return (lp * enc["attention_mask"][:, 1:]).sum(1).tolist()
    return logprob


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="val", choices=("val", "test", "ood"))
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--gemma", action="store_true", help="also re-rank with Gemma-3-270M (about 90 s for 100 texts)")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "search_pool_val.json")
    args = ap.parse_args()

    emb = load_embedder("minilm")
    inv = load_inverter("search", emb)
    steps, beam = resolve_settings(inv, None, None)
    refs = read_split(args.split)[:args.n]
    vectors = emb.embed(refs)
    answers, found = pools(inv, refs, vectors, steps, beam)

    def row(label: str, texts: list[str], cos: list[float] | None = None, **extra) -> dict:
        r = {"run": label, **extra, "bleu": round(metrics.bleu(texts, refs), 2), "token_f1": round(metrics.token_f1(texts, refs), 4),
             "exact_match": metrics.exact_match(texts, refs)}
        if cos is not None:
            r["cosine"] = round(float(np.mean(cos)), 4)
        print(json.dumps(r), flush=True)
        return r

    def cased(texts: list[str], at: np.ndarray = vectors) -> list[str]:
        """The texts with the opening case read from `at`, their targets (one per text)."""
        return inv.casing.apply(texts, at) if inv.casing is not None else texts

    ranked = [sorted(f.items(), key=lambda tc: -tc[1]) for f in found]
    rows = [row("the inverter's answers", answers),
            row("the pool's best by cosine, opening case read from the vector", cased([r[0][0] for r in ranked]), [r[0][1] for r in ranked])]
    lm = inv.polisher.lm
    for eps in (0.005, 0.01):
        for lam in (0.005, 0.01):
            picks = [max((tc for tc in r if tc[1] >= r[0][1] - eps),
                         key=lambda tc: tc[1] + lam * lm.score(tc[0].split()) / (len(tc[0].split()) + 1)) for r in ranked]
            rows.append(row("trigram pick: cosine + lam * log10 P per word", cased([t for t, _ in picks]), [c for _, c in picks], eps=eps, lam=lam))
    if args.gemma:
        logprob, near, width = gemma_scorer(), [], GEMMA_POOL
        for r, v in zip(ranked, vectors):
            c = [tc for tc in r if tc[1] >= r[0][1] - width[0]][:width[1]]
            texts = cased([t for t, _ in c], np.repeat(v[None], len(c), 0))
            near.append(list(zip(texts, [k for _, k in c], logprob(texts))))
        for eps in (0.005, 0.01):
            for lam in (0.001, 0.003, 0.01):
                picks = [max((x for x in r if x[1] >= r[0][1] - eps), key=lambda x: x[1] + lam * x[2] / 10) for r in near]
                rows.append(row("Gemma pick: cosine + lam * log P / 10", [t for t, *_ in picks], [c for _, c, _ in picks], eps=eps, lam=lam))
    for eps in (0.01, 0.05, 1.0):
        picks = []
        for r, ref in zip(ranked, refs):
            c = [tc for tc in r if tc[1] >= r[0][1] - eps]
            picks.append(max(c, key=lambda tc: metrics.token_f1_pair(tc[0].lower(), ref.lower())))  # case: read after
        rows.append(row("oracle: highest token F1 to the reference, opening case read from the vector", cased([t for t, _ in picks]), [c for _, c in picks], eps=eps,
                        pool=round(float(np.mean([len([1 for tc in r if tc[1] >= r[0][1] - eps]) for r in ranked])), 1)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"embedder": emb.name, "split": args.split, "n": len(refs), "steps": steps, "beam": beam,
                                     "command": f"python benchmarks/search_pool.py --split {args.split} --n {args.n}"
                                                + (" --gemma" if args.gemma else ""), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
