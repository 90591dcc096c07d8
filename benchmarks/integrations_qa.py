"""Lossy RAG through LangChain and LlamaIndex against `unembed rag ask`, on one store and one QA set:
answer-in-context (the gold answer appears in a retrieved, read-back chunk) for each framework.

Each framework reads the store through its own adapter and its own retriever (LlamaIndex: a
VectorStoreIndex; LangChain: a VectorStore's retriever), in this one process, with the store's
inverter reading back every chunk it retrieves anew (no sharing of read-backs between frameworks).

    python benchmarks/integrations_qa.py --qa benchmarks/rag_qa --json benchmarks/results/integrations_qa.json
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signature import signed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qa", type=Path, default=Path("benchmarks/rag_qa"))
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--limit", type=int, default=None, help="first N questions only")
    ap.add_argument("--preset", default=None, help="the inverter's preset (default: the store's default)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    from tqdm import tqdm

    from unembed.api import load_inverter
    from unembed.embed import load_embedder
    from unembed.rag import RAG, open_or_create
    from unembed.rag.compare import contains_answer, read_qa
    from unembed.rag.ingest import ingest

    qa = read_qa(a.qa / "questions.tsv")[:a.limit]
    emb = load_embedder("minilm")
    work = Path(tempfile.mkdtemp(prefix="unembed-integrations-"))
    try:
        where = work / "kb"
        store = open_or_create(where, emb, "default", mode="lossy", encoding="int8")
        ingest([a.qa / "docs"], store, emb, progress=False)
        documents, chunks = len(store.documents()), store.count()

        def rag_ask(q):
            rag = rag_ask.rag
            return [c["text"] for c in rag.ask([q], k=a.k, generate=False)[0]["contexts"]]
        rag_ask.rag = RAG(store, emb, load_inverter(None, emb, preset=a.preset))

        from unembed.integrations.langchain import LossyVectorStore as LCStore
        lc = LCStore(where, preset=a.preset).as_retriever(search_kwargs={"k": a.k})

        from llama_index.core import StorageContext, VectorStoreIndex

        from unembed.integrations.llamaindex import LossyVectorStore as LIStore
        from unembed.integrations.llamaindex import UnembedEmbedding
        li_store = LIStore(where, preset=a.preset)
        li = VectorStoreIndex.from_vector_store(li_store, embed_model=UnembedEmbedding()).as_retriever(similarity_top_k=a.k)

        frameworks = {
            "unembed rag ask": rag_ask,
            "LangChain retriever": lambda q: [d.page_content for d in lc.invoke(q)],
            "LlamaIndex VectorStoreIndex retriever": lambda q: [n.node.get_content() for n in li.retrieve(q)],
        }
        rows, contexts = [], {}
        for name, fn in frameworks.items():
            t0 = time.perf_counter()
            ctx = [fn(q) for q, _ in tqdm(qa, desc=name, unit=" question")]
            hits = [any(contains_answer(c, ans) for c in cs) for cs, (_, ans) in zip(ctx, qa)]
            contexts[name] = ctx
            rows.append({"framework": name, "answer_in_context": round(sum(hits) / len(qa), 4),
                         "seconds_per_question": round((time.perf_counter() - t0) / len(qa), 2)})
            print(json.dumps(rows[-1]), flush=True)
        base = rows[0]["answer_in_context"]
        for r, name in zip(rows, frameworks):
            r["points_vs_rag_ask"] = round(100 * (r["answer_in_context"] - base), 1)
            r["same_contexts_as_rag_ask"] = sum(x == y for x, y in zip(contexts[name], contexts["unembed rag ask"])) / len(qa)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"qa": str(a.qa), "questions": len(qa), "documents": documents, "chunks": chunks, "k": a.k, "preset": a.preset or "default",
              "store": "lossy, int8, 4 part vectors a chunk (the defaults)", "rows": rows}
    print(json.dumps(result, indent=1))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(signed(result, split=a.qa.name, n=len(qa)), indent=1) + "\n")


if __name__ == "__main__":
    main()
