"""Lossless RAG against lossy RAG in every encoding, on the same documents and questions.

Per configuration (lossless, then each lossy encoding with each count of part vectors per
chunk): bytes per stored vector and on disk, how often lossy retrieval agrees with
lossless top-k, how close the reconstructed contexts are to the real chunks, how often the
answer string survives into the contexts (and into a generated answer), and time per question.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

from tqdm import tqdm

from .. import metrics
from ..data.corpus import MAX_TOKENS
from ..errors import InputError
from ..store import StoreInfo, bytes_per_vector, create_store
from .ask import RAG, build_prompt
from .ingest import embed_files, embed_parts


def read_qa(path) -> list[tuple[str, str]]:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such questions file")
    pairs = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
            raise InputError(f"{p}:{n}: expected 'question<TAB>answer'")
        pairs.append((cols[0].strip(), cols[1].strip()))
    if not pairs:
        raise InputError(f"{p}: no question/answer pairs")
    return pairs


def contains_answer(text: str, answer: str) -> bool:
    """Case-insensitive, on word boundaries: '79' is not found inside '1979'."""
    return re.search(r"(?<!\w)" + re.escape(answer.lower()) + r"(?!\w)", text.lower()) is not None


def contains_answer_words(text: str, answer: str) -> bool:
    """Looser: every word of the answer somewhere in the text, in any order."""
    return all(contains_answer(text, w) for w in answer.split())


def compare(docs: Sequence, questions, embedder, inverter, encodings: Sequence[str] = ("f32", "f16", "int8", "binary"),
            parts: Sequence[int] = (1,), k: int = 5, generator=None, steps: Optional[int] = None, beam: Optional[int] = None,
            work: Optional[Path] = None, progress: bool = True, max_tokens: int = MAX_TOKENS, hints: bool = False) -> dict:
    qa = read_qa(questions)
    qs = [q for q, _ in qa]
    tmp = None
    if work is None:
        tmp = Path(tempfile.mkdtemp(prefix="unembed-compare-"))
        work = tmp
    work = Path(work)
    configs = [("lossless", "f32", 1)] + [("lossy", e, p) for e in encodings for p in parts]
    rows, reference = [], None
    chunks, vectors = embed_files(docs, embedder, max_tokens)  # once: every store gets the same vectors
    part_vectors = {p: embed_parts(chunks, embedder, p) for p in sorted(set(parts))}
    truth = {c.id: c.text for c in chunks}
    try:
        for mode, enc, p in configs:
            where = work / f"{mode}-{enc}" if p == 1 else work / f"{mode}-{enc}-{p}parts"
            if where.exists():
                shutil.rmtree(where)
            store = create_store(where, StoreInfo(embedder.name, embedder.dim, inverter.name, mode=mode, encoding=enc, parts=p))
            store.add(chunks, vectors, part_vectors.get(p) if mode == "lossy" else None)
            store.compact()  # as ingest does, so bytes on disk match a store built by `rag ingest`
            rag = RAG(store, embedder, inverter, generator, steps, beam, hints=hints)
            t0 = time.perf_counter()
            hits = rag.retrieve(qs, k)
            retrieve_s = (time.perf_counter() - t0) / len(qs)
            results, seconds = [], []
            label = f"{mode} {enc}" + (f" {p} parts" if p > 1 else "")
            for (q, _), h in tqdm(list(zip(qa, hits)), desc=label, unit=" question", disable=not progress):
                ctx = rag.contexts(h, q)
                t = time.perf_counter()
                answer = generator.generate(build_prompt(q, [c["text"] for c in ctx])) if generator is not None else None
                gen_s = time.perf_counter() - t
                # what this question would cost alone: retrieval, inverting its chunks, generating
                seconds.append(retrieve_s + rag.read_back_seconds(h, q) + gen_s)
                results.append({"question": q, "answer": answer, "contexts": ctx})
            if reference is None:  # the lossless run comes first: its top-k is the truth
                reference = [[x.id for x in h] for h in hits]
            agree = [len(set(x.id for x in h) & set(ref)) / max(len(ref), 1) for h, ref in zip(hits, reference)]
            recon = [(c["text"], truth[x.id]) for r, h in zip(results, hits)
                     for c, x in zip(r["contexts"], h) if c["reconstructed"]]
            in_ctx = [any(contains_answer(c["text"], a) for c in r["contexts"]) for r, (_, a) in zip(results, qa)]
            words_in_ctx = [any(contains_answer_words(c["text"], a) for c in r["contexts"]) for r, (_, a) in zip(results, qa)]
            size = store.disk_bytes()
            n_parts = sum(len(v) for v in part_vectors.get(p, []) if v is not None) if mode == "lossy" else 0
            row = {
                "mode": mode, "encoding": enc, "parts": p, "chunks": store.count(),
                "vectors_per_chunk": round((len(chunks) + n_parts) / max(len(chunks), 1), 3),
                "bytes_per_vector": bytes_per_vector(enc, embedder.dim),
                "store_bytes": size,
                "bytes_per_chunk": round(size / max(store.count(), 1)),
                "retrieval_agreement": round(sum(agree) / len(agree), 4),
                "reconstruction_bleu": round(metrics.bleu([a for a, _ in recon], [b for _, b in recon]), 2) if recon else None,
                "reconstruction_token_f1": round(metrics.token_f1([a for a, _ in recon], [b for _, b in recon]), 4) if recon else None,
                "answer_in_context": round(sum(in_ctx) / len(in_ctx), 4),
                "answer_words_in_context": round(sum(words_in_ctx) / len(words_in_ctx), 4),
                "answer_accuracy": round(sum(contains_answer(r["answer"], a) for r, (_, a) in zip(results, qa)) / len(qa), 4)
                if generator is not None else None,
                "seconds_per_question": round(sum(seconds) / len(seconds), 3),
                "results": [dict(r, gold=a, answer_in_context=ok) for r, (_, a), ok in zip(results, qa, in_ctx)],
            }
            rows.append(row)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    base = rows[0]["answer_in_context"] or 1e-9
    for r in rows:
        r["answer_in_context_vs_lossless"] = round(r["answer_in_context"] / base, 4)
    return {"embedder": embedder.name, "inverter": inverter.name, "k": k, "max_tokens": max_tokens, "questions": len(qa), "hints": hints,
            "generator": getattr(generator, "name", None), "rows": rows}

