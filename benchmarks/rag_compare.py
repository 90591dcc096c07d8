"""`unembed rag compare`, signed: lossless against lossy stores (encodings × part vectors a chunk) on a
shipped QA set, with the default inverter unless told otherwise.

    python benchmarks/rag_compare.py --qa benchmarks/rag_qa --encodings int8 --parts 1,4 \
        --json benchmarks/results/rag_compare_qa.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signature import signed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qa", type=Path, default=Path("benchmarks/rag_qa"))
    ap.add_argument("--encodings", default="int8")
    ap.add_argument("--parts", default="1,4")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--preset", default=None)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    from unembed.api import load_inverter
    from unembed.embed import load_embedder
    from unembed.rag.compare import compare

    emb = load_embedder("minilm")
    inv = load_inverter(None, emb, preset=a.preset)
    res = compare([a.qa / "docs"], a.qa / "questions.tsv", emb, inv,
                  encodings=a.encodings.split(","), parts=[int(p) for p in a.parts.split(",")], k=a.k)
    for r in res["rows"]:
        r.pop("results", None)  # per-question contexts: the text of the documents, not needed for the figures
        print(json.dumps({k: r[k] for k in ("mode", "encoding", "parts", "answer_in_context", "bytes_per_chunk",
                                            "seconds_per_question", "reconstruction_bleu")}))
    res["preset"] = a.preset or "default"
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(signed(res, split=a.qa.name, n=res["questions"]), indent=1) + "\n")


if __name__ == "__main__":
    main()
