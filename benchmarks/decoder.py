"""The learned inverter of issue 3, measured the way the vec2text paper measures: the bag decoder's
hypothesis alone (no embedder feedback), then corrected by the embedding-guided search.

1. Main table, in-domain test split and out-of-domain (BBC) split, one run: lookup; the decoder's
   hypothesis alone (steps 0: the feedback ablation); the search without the decoder (the
   previous default); the search seeded by the decoder without re-guiding; the same with the decoder
   re-aimed at each step (the shipped default), also with every proposal embedded in float32
   rather than screened by a draft, with the bfloat16 draft in the int8 one's place, without spelling variants (variants.py), without
   the word probe's rare dictionary words, and without piece edits (pieces.py); with 1.5x the search's
   budget (12 steps, 64 proposals per hypothesis, decoder beam 16); with the whole train split (467k sentences, not the first
   50k) as the reference set that lookup and the search's seeds come from; and with the decoder's
   vote on each step's closest proposals. Issue 3's architecture (b), a trained Gemma prefix inverter
   (`--prefix DIR`, from `unembed train --model prefix`), in the bag decoder's place: its hypothesis
   alone (beam 8, as the decoder's) and corrected by the search without re-guiding (Gemma writes
   too slowly on a CPU to write again at every step).
2. Grid on the test split: steps 0/1/5/20 × beam 1/4/8 with the decoder.
3. Fidelity against length: test texts of about 16 and 32 tokens, and 64-token texts made by
   joining consecutive test sentences (the decoder was trained on texts of at most 40 tokens).

    python benchmarks/decoder.py [--n 100] [--n-ood 50] [--n-grid 20] [--n-length 20]
                                 [--rows lookup,lookupfull,hypothesis,nodecoder,noreguide,nodraft,bf16draft,novariants,norare,nopieces,nocase,default,budget,fullref,vote,prefixhyp,prefix]
                                 [--prefix runs/minilm-prefix]
                                 [--split test|val] [--start 0]
                                 [--json benchmarks/results/archive/decoder.json]
"""
from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

from unembed import metrics
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.evaluate import evaluate
from unembed.invert.lookup import ReferenceIndex
from unembed.invert.registry import load_inverter, resolve_settings

HERE = Path(__file__).resolve().parent


def run(inv, texts, steps, beam, label, on=None, **settings) -> dict:
    """One row; `settings` are attributes of `on` (the inverter unless given, e.g. its probe) changed
    for this row alone: decoder=None runs it without the decoder."""
    on = inv if on is None else on
    keep = {k: getattr(on, k) for k in settings}
    for k, v in settings.items():
        setattr(on, k, v)
    try:
        r = evaluate(texts, inv.embedder, inv, steps, beam, batch=8, progress=False)
    finally:
        for k, v in keep.items():
            setattr(on, k, v)
    row = {"run": label, "steps": steps, "beam": beam, "n": len(texts), "bleu": round(r["bleu"], 2),
           "token_f1": round(r["token_f1"], 4), "exact_match": r["exact_match"], "cosine": round(r["cosine"], 4),
           "seconds_per_text": round(r["seconds_per_text"], 3),
           "samples": [{"text": x["text"], "reconstruction": x["reconstruction"]} for x in r["samples"][:4]]}
    print(json.dumps({k: v for k, v in row.items() if k != "samples"}), flush=True)
    return row


def by_length(texts: list[str], n: int) -> dict[int, list[str]]:
    size = lambda t: len(metrics.words(t))  # noqa: E731
    out = {16: [t for t in texts if 14 <= size(t) <= 18][:n], 32: [t for t in texts if 28 <= size(t) <= 36][:n]}
    joined, cur = [], []
    for t in texts:  # consecutive test sentences, joined until about 64 tokens
        cur.append(t)
        if sum(map(size, cur)) >= 56:
            if sum(map(size, cur)) <= 72:
                joined.append(" ".join(cur))
            cur = []
        if len(joined) == n:
            break
    out[64] = joined
    return out


ROWS = ("lookup", "lookupfull", "hypothesis", "nodecoder", "noreguide", "nodraft", "bf16draft", "novariants", "norare", "nopieces", "nocase", "default",
        "budget", "fullref", "vote", "prefixhyp", "prefix")
DEFAULT_ROWS = ROWS[:-2]  # the Gemma rows need a trained prefix inverter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--n-ood", type=int, default=50)
    ap.add_argument("--n-grid", type=int, default=20)
    ap.add_argument("--n-length", type=int, default=20)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "decoder.json")
    ap.add_argument("--rows", default=",".join(DEFAULT_ROWS), help="main-table rows to run; lookup and nodecoder do not "
                    "depend on the decoder, so a new decoder needs only hypothesis,default,vote")
    ap.add_argument("--prefix", type=Path, default=Path("runs/minilm-prefix"), help="the Gemma prefix inverter of rows prefixhyp, prefix")
    ap.add_argument("--seed", type=int, default=0, help="the search's random seed (its default is 0)")
    ap.add_argument("--start", type=int, default=0, help="skip this many texts of the first table's split")
    ap.add_argument("--split", default="test", choices=("test", "val", "ood"), help="the first table's split (val: for development)")
    args = ap.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    if unknown := set(rows) - set(ROWS):
        raise SystemExit(f"unknown rows {sorted(unknown)}: use {','.join(ROWS)}")

    emb = load_embedder("minilm")
    inv = load_inverter("search", emb)
    inv.seed = args.seed
    lookup = load_inverter("lookup", emb)
    if inv.decoder is None:
        raise SystemExit("no bag decoder shipped for minilm (models/minilm-decoder)")
    steps, beam = resolve_settings(inv, None, None)
    result = {"embedder": emb.name, "default": {"steps": steps, "beam": beam, "seed": args.seed}, "main": {}, "grid": [], "length": [],
              "command": f"python benchmarks/decoder.py --n {args.n} --n-ood {args.n_ood} --n-grid {args.n_grid} "
                         f"--n-length {args.n_length} --rows {','.join(rows)} --seed {args.seed} --split {args.split} --start {args.start}"
                         + (f" --prefix {args.prefix}" if {"prefixhyp", "prefix"} & set(rows) else "")}

    def save():
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")

    @functools.cache
    def whole_train() -> ReferenceIndex:
        """The whole train split's reference index: about 30 min to embed on 2 cores the first time, then cached."""
        return ReferenceIndex(emb, read_split("train"))

    @functools.cache
    def gemma():
        from unembed.invert.prefix import PrefixDecoder
        return PrefixDecoder.load(args.prefix, words=inv.words)

    test = read_split(args.split)
    for split, n in ((args.split, args.n), ("ood", args.n_ood)) if args.n_ood else ((args.split, args.n),):
        texts = test[args.start:args.start + n] if split == args.split else read_split("ood")[:n]
        todo = {"lookup": lambda: run(lookup, texts, 0, 1, "lookup"),
                "lookupfull": lambda: run(lookup, texts, 0, 1, "lookup in the whole train split", index=whole_train()),
                "hypothesis": lambda: run(inv, texts, 0, 1, "hypothesis alone (decoder, no feedback)"),
                "nodecoder": lambda: run(inv, texts, steps, beam, "search without decoder", decoder=None),
                "noreguide": lambda: run(inv, texts, steps, beam, "decoder + search, no re-guiding", extrapolate=0.0),
                "default": lambda: run(inv, texts, steps, beam, "decoder + search + re-guiding (default)"),
                "budget": lambda: run(inv, texts, 12, beam, "default with 1.5x the search budget: 12 steps, 64 proposals, "
                                      "decoder beam 16", proposals=64, decoder_beam=16),
                "fullref": lambda: run(inv, texts, steps, beam, "default, reference set: the whole train split",
                                       index=whole_train()),
                "vote": lambda: run(inv, texts, steps, beam, "decoder + search + decoder vote (decoder_weight 0.01)",
                                    decoder_weight=0.01),
                "nodraft": lambda: run(inv, texts, steps, beam, "default, every proposal embedded in float32", draft=False),
                "bf16draft": lambda: run(inv, texts, steps, beam, "default, proposals ranked by the bfloat16 draft (not int8)",
                                         on=inv.embedder, draft_kind="bfloat16"),
                "novariants": lambda: run(inv, texts, steps, beam, "default without spelling variants", variants=False),
                "nopieces": lambda: run(inv, texts, steps, beam, "default without piece edits", pieces=None),
                "nocase": lambda: run(inv, texts, steps, beam, "default, the opening letter's case left as the search found it",
                                      casing=None),
                "norare": lambda: run(inv, texts, steps, beam, "default without the probe's rare words", on=inv.probe, rare_count=0),
                "prefixhyp": lambda: run(inv, texts, 0, 1, "hypothesis alone (Gemma prefix, no feedback)", decoder=gemma()),
                "prefix": lambda: run(inv, texts, steps, beam, "Gemma prefix + search, no re-guiding", decoder=gemma(),
                                      extrapolate=0.0)}
        result["main"][split] = [todo[r]() for r in ROWS if r in rows]
        save()
    for s in (0, 1, 5, 20) if args.n_grid else ():
        for b in ((1,) if s == 0 else (1, 4, 8)):
            result["grid"].append(run(inv, test[:args.n_grid], s, b, "decoder + search"))
            save()
    for length, texts in by_length(test, args.n_length).items() if args.n_length else ():
        for s, label in ((0, "hypothesis alone"), (steps, "decoder + search (default)")):
            row = run(inv, texts, s, beam, label)
            result["length"].append(row | {"tokens": length})
            save()


if __name__ == "__main__":
    main()
