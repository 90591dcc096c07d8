"""Is one vector per chunk the best way to keep a chunk readable? Invert each text whole, and
from the vectors of its halves (or thirds), joined back in order.

Shorter texts invert better (decoder.py's length table), so a lossy store that kept a vector per
part beside the chunk's own (retrieval stays on the chunk's vector) would read back more of the
chunk, at 2–3× the vector bytes. This measures the reading-back side alone, on the test split's
texts of --min-words to --max-words words, with the default inverter at its default settings.

    python benchmarks/invert_parts.py [--parts 1,2,3] [--pieces on,off] [--drafts bfloat16,int8]   # → benchmarks/results/archive/invert_parts.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tqdm import tqdm

from unembed import metrics
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.invert.registry import load_inverter, resolve_settings
from unembed.rag.chunk import split_words

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--min-words", type=int, default=14)
    ap.add_argument("--max-words", type=int, default=30)
    ap.add_argument("--parts", default="1,2,3", help="P or P:W, W the fewest words a part may keep (default 1)")
    ap.add_argument("--pieces", default="on", help="on, off or on,off: with and without the search's piece edits")
    ap.add_argument("--drafts", default="", help="int8, bfloat16 or both: the search's draft embedder (default: the embedder's own)")
    ap.add_argument("--split", default="test", choices=("test", "val"), help="val: for development")
    ap.add_argument("--steps", type=int, default=None, help="search steps (default: the inverter's)")
    ap.add_argument("--beam", type=int, default=None, help="search beam (default: the inverter's)")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "invert_parts.json")
    args = ap.parse_args()
    if set(args.pieces.split(",")) - {"on", "off"}:
        ap.error(f"--pieces takes on, off or on,off, not {args.pieces!r}")

    embedder = load_embedder("minilm")
    inverter = load_inverter(None, embedder)
    steps, beam = resolve_settings(inverter, args.steps, args.beam)
    texts = [t for t in read_split(args.split) if args.min_words <= len(t.split()) <= args.max_words][: args.n]
    truth = embedder.embed(texts)
    rows = []
    refiner = inverter.pieces
    drafts = args.drafts.split(",") if args.drafts else [embedder.draft_kind]
    for spec, pieces_on, draft in [(s, p, d) for s in args.parts.split(",") for p in args.pieces.split(",") for d in drafts]:
        parts, _, least = spec.partition(":")
        parts, least = int(parts), int(least or 1)
        inverter.pieces = refiner if pieces_on == "on" else None
        embedder.draft_kind = draft
        t0, joined, vectors = time.perf_counter(), [], 0
        for text in tqdm(texts, desc=f"{parts} part(s)", unit=" text"):
            pieces = split_words(text, parts, least)
            vectors += len(pieces) + (len(pieces) > 1)  # the parts', and the text's own for retrieval
            # one call per piece, as a store would read them: no piece sees another's search
            joined.append(" ".join(inverter.invert(embedder.embed([p]), steps=steps, beam=beam)[0] for p in pieces))
        row = {"parts": parts, "part_min_words": least, "piece_edits": inverter.pieces is not None, "draft": draft, "vectors_per_text": round(vectors / len(texts), 2),
               "bleu": round(metrics.bleu(joined, texts), 2),
               "token_f1": round(metrics.token_f1(joined, texts), 4),
               "exact_match": metrics.exact_match(joined, texts),
               "cosine": round(metrics.cosine(truth, embedder.embed(joined)), 4),
               "seconds_per_text": round((time.perf_counter() - t0) / len(texts), 2), "example": joined[0]}
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "example"}), flush=True)
    result = {"embedder": embedder.name, "inverter": inverter.name, "steps": steps, "beam": beam, "n": len(texts),
              "words": [args.min_words, args.max_words], "first_text": texts[0], "rows": rows,
              "command": f"python benchmarks/invert_parts.py --parts {args.parts} --pieces {args.pieces}" + (f" --drafts {args.drafts}" if args.drafts else "") + f" --steps {steps} --beam {beam} --n {args.n} --split {args.split}"}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
