"""Batch ingest on a Ray cluster when one machine is too slow to embed a corpus.

Workers chunk and embed shards of files in parallel (the expensive part); the driver alone
writes, whole documents per commit, so the store keeps the guarantees of `ingest`: unchanged
files are skipped and a killed run leaves complete documents only. Run it against a cluster with
`RAY_ADDRESS=ray://head:10001 python -m unembed.rag.ray_ingest DOCS --store DIR --workers 32`,
or on one machine (Ray starts a local cluster) to check it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..data.corpus import MAX_TOKENS
from ..errors import MissingPackageError
from .chunk import file_hash, find_files
from .ingest import _count_fn, _is_current, chunk_file, doc_id, embed_chunks


def _embed_shard(embedder_spec: str, files: list[str], max_tokens: int, info):
    from ..embed import load_embedder
    emb = load_embedder(embedder_spec)
    count = _count_fn(emb)
    out = []
    for f in map(Path, files):
        chunks = chunk_file(f, f.read_bytes(), count, max_tokens)
        out.append((chunks, *(embed_chunks(chunks, emb, info) if chunks else (None, None))))
    return out


def ray_ingest(paths, store, embedder_spec: str, workers: int = 4, max_tokens: int = MAX_TOKENS) -> dict:
    try:
        import ray
    except ImportError:
        raise MissingPackageError("batch ingest on Ray needs ray: pip install 'ray[default]'") from None
    existing = store.documents()
    todo, summary = [], {"added": 0, "replaced": 0, "unchanged": 0, "chunks_added": 0}
    for f in find_files(paths):
        if _is_current(existing.get(doc_id(f)), file_hash(f.read_bytes())):
            summary["unchanged"] += 1
        else:
            todo.append(str(f))
    ray.init(ignore_reinit_error=True, log_to_driver=False)
    task = ray.remote(_embed_shard)
    shards = [todo[i::workers] for i in range(workers) if todo[i::workers]]
    pending = [task.remote(embedder_spec, s, max_tokens, store.info) for s in shards]
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for chunks, vectors, parts in ray.get(ready[0]):
            if not chunks:
                continue
            doc = chunks[0].doc
            summary["replaced" if doc in existing else "added"] += 1
            store.replace([doc], chunks, vectors, parts)  # old rows out, new in: one commit
            summary["chunks_added"] += len(chunks)
    summary["store_chunks"] = store.count()
    return summary


def main() -> None:
    from ..embed import load_embedder
    from ..invert.registry import default_inverter
    from .ingest import open_or_create

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--store", required=True)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--mode")
    ap.add_argument("--encoding")
    ap.add_argument("--parts", type=int)
    ap.add_argument("--workers", type=int, default=4)
    a = ap.parse_args()
    emb = load_embedder(a.embedder)
    store = open_or_create(a.store, emb, default_inverter(emb.name), a.mode, a.encoding, parts=a.parts)
    print(ray_ingest(a.paths, store, a.embedder, a.workers))


if __name__ == "__main__":
    main()
