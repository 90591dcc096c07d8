"""Chunk length against what lossy RAG keeps: the QA set's documents chunked at each --max-tokens,
every chunk inverted once (default inverter and settings, 16 chunks a call), then for k = 3 … 15
the share of questions whose answer string is in the top-k chunks: the real text (lossless) and
the inverted text (lossy). Shorter chunks invert better but retrieve worse. With --parts P > 1,
retrieval still ranks the chunks' own vectors, but each chunk is read back from the vectors of
up to P word runs of at least PART_MIN_WORDS words (rag.ingest.embed_parts), each inverted alone
and joined: what a store built with `rag ingest --parts P` reads back.

    python benchmarks/rag_chunks.py [--max-tokens 32,16] [--parts 1,2]   # → benchmarks/results/archive/rag_chunks.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from unembed import metrics
from unembed.embed import load_embedder
from unembed.invert.registry import load_inverter, resolve_settings
from unembed.rag.compare import contains_answer, read_qa
from unembed.rag.ingest import embed_files, embed_parts
from unembed.store.base import regroup

HERE = Path(__file__).resolve().parent
KS = (3, 5, 8, 10, 15)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-tokens", default="32,16")
    ap.add_argument("--parts", default="1", help="read each chunk back from this many part vectors (1: its own)")
    ap.add_argument("--docs", type=Path, default=HERE / "rag_qa" / "docs")
    ap.add_argument("--questions", type=Path, default=HERE / "rag_qa" / "questions.tsv")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "rag_chunks.json")
    args = ap.parse_args()

    emb = load_embedder("minilm")
    inv = load_inverter("search", emb)
    steps, beam = resolve_settings(inv, None, None)
    qa = read_qa(args.questions)
    qv = emb.embed([q for q, _ in qa])
    result = {"embedder": emb.name, "inverter": inv.name, "steps": steps, "beam": beam, "questions": len(qa), "rows": []}
    for m in [int(x) for x in args.max_tokens.split(",")]:
        chunks, vecs = embed_files([str(args.docs)], emb, m)
        truth = [c.text for c in chunks]
        order = np.argsort(-(qv @ vecs.T), 1)
        for parts in [int(x) for x in args.parts.split(",")]:
            # what a store built with --parts reads back: a chunk's part vectors, else its own vector
            read = [p if p is not None else vecs[i:i + 1] for i, p in enumerate(embed_parts(chunks, emb, parts))]
            pvecs = np.concatenate(read)
            t, out = time.perf_counter(), []
            for i in range(0, len(pvecs), 16):
                out += inv.invert(pvecs[i:i + 16], steps=steps, beam=beam)
                print(f"≤{m} tokens, {parts} part(s): {len(out)}/{len(pvecs)} vectors inverted", flush=True)
            rec = [" ".join(g) for g in regroup(out, [len(r) for r in read])]
            stored = sum(len(r) + (len(r) > 1) for r in read)  # a split chunk keeps its own vector too
            row = {"max_tokens": m, "parts": parts, "chunks": len(chunks), "vectors_per_chunk": round(stored / len(chunks), 2),
                   "seconds_per_chunk": round((time.perf_counter() - t) / len(chunks), 3),
                   "reconstruction_bleu": round(metrics.bleu(rec, truth), 2),
                   "reconstruction_token_f1": round(metrics.token_f1(rec, truth), 4)}
            for k in KS:
                for mode, texts in (("lossless", truth), ("lossy", rec)):
                    hit = [any(contains_answer(texts[j], a) for j in order[i, :k]) for i, (_, a) in enumerate(qa)]
                    row[f"{mode}_answer_in_context@{k}"] = round(float(np.mean(hit)), 4)
            row["samples"] = [{"text": a, "reconstruction": b} for a, b in zip(truth[:5], rec[:5])]
            result["rows"].append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "samples"}), flush=True)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
