"""Consolidation: how much smaller a memory gets at each threshold, and what the merge costs.

Two memories: (1) every chunk of benchmarks/rag_qa/docs plus the texts of
benchmarks/concepts/pairs.tsv; (2) the first --news N sentences of the out-of-domain BBC split
(news repeats itself, so it has real near-duplicates). Per threshold (dry runs): concepts left,
the reduction, and each item's cosine to the concept that now stands for it (1.0 = nothing lost).
Draws the map of memory (1) at --map-threshold.

    python benchmarks/concepts_memory.py [--json benchmarks/results/archive/concepts_memory.json]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from unembed.concepts import ConceptMemory, ConceptSpace
from unembed.concepts.plot import memory_map, to_label
from unembed.embed import load_embedder
from unembed.invert.registry import load_inverter, resolve_settings
from unembed.rag.chunk import chunk_text, find_files

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--thresholds", default="0.95,0.9,0.8,0.7,0.6,0.5")
    ap.add_argument("--news", type=int, default=3000)
    ap.add_argument("--map-threshold", type=float, default=0.6)
    ap.add_argument("--labels", type=int, default=14)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "concepts_memory.json")
    ap.add_argument("--map", type=Path, default=HERE / "results" / "memory_map.png")
    args = ap.parse_args()

    emb = load_embedder("minilm")
    count = lambda s: emb.count_tokens([s])[0]
    texts, sources = [], []
    for f in find_files([str(HERE / "rag_qa" / "docs")]):
        for piece in chunk_text(Path(f).read_text(encoding="utf-8"), count, 32, markdown=Path(f).suffix == ".md"):
            texts.append(piece.text)
            sources.append(Path(f).name)
    for ln in (HERE / "concepts" / "pairs.tsv").read_text(encoding="utf-8").splitlines():
        for t in ln.split("\t"):
            texts.append(t)
            sources.append("pairs.tsv")
    from unembed.data.corpus import read_split
    news = read_split("ood")[: args.news]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, items, srcs in (("bbc_news", news, ["bbc"] * len(news)), ("rag_qa+pairs", texts, sources)):
            vecs = emb.embed(items)
            mem = ConceptMemory.open_or_create(Path(tmp) / name, emb.name, emb.dim)
            report = mem.add(vecs, srcs)
            item_row = {r["concept"]: i for i, r in enumerate(report)}
            for th in [float(x) for x in args.thresholds.split(",")]:
                rep, after = mem.consolidate(th, dry_run=True)
                holder = {}
                for c in after:  # every item of a concept: which row of `vecs` was it?
                    members = [c.id] + next((x["absorbed"] for x in rep.clusters if x["id"] == c.id), [])
                    for m in members:
                        holder[item_row[m]] = c.vector
                cos = np.array([float(vecs[i] @ holder[i]) for i in range(len(vecs))])
                rows.append({"memory": name, "threshold": th, "items": len(vecs), "concepts": rep.after,
                             "reduction": rep.reduction, "clusters": len(rep.clusters),
                             "largest_cluster": max([x["count"] for x in rep.clusters] or [1]),
                             "item_cosine_mean": float(cos.mean()), "item_cosine_min": float(cos.min())})
                print(json.dumps(rows[-1]))
        rep, after = mem.consolidate(args.map_threshold, dry_run=True)
        before = mem.concepts()
        inv = load_inverter(None, emb)
        space = ConceptSpace(emb, inv, *resolve_settings(inv, None, None))
        chosen = to_label(before, after, rep.clusters, args.labels)
        labels, _ = space.read(np.stack([c.vector for c in chosen]))
        memory_map(before, after, {(c.id, c.count): t for c, t in zip(chosen, labels)}, args.map,
                   args.map_threshold, {x["id"] for x in rep.clusters})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows, "map": str(args.map.relative_to(HERE.parent))}, indent=2) + "\n")


if __name__ == "__main__":
    main()
