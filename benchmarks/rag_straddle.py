"""How many QA answers a chunk's part cuts split in two (an answer cut across two part vectors is read
back from neither whole). For each question, the first lossless top-k context that holds the answer
is cut as ingest cuts it, with even cuts and with the phrase-aware ones. No inversion: exact, seconds.

    python benchmarks/rag_straddle.py   # reads the lossless contexts of the rag compare results
"""
from __future__ import annotations

import json
from pathlib import Path

from unembed.rag.chunk import PART_MIN_WORDS, split_words
from unembed.rag.compare import contains_answer, read_qa
from unembed.rag.ingest import DEFAULT_PARTS

HERE = Path(__file__).resolve().parent
SETS = {"rag_qa": "rag_compare_rare.json", "rag_qa_b": "rag_compare_b.json"}


def main() -> None:
    out = {}
    for qa, result in SETS.items():
        questions = read_qa(HERE / qa / "questions.tsv")
        lossless = json.loads((HERE / "results" / result).read_text())["rows"][0]["results"]
        found, split = 0, {"even": [], "phrase_aware": []}
        for (_, answer), r in zip(questions, lossless):
            text = next((c["text"] for c in r["contexts"] if contains_answer(c["text"], answer)), None)
            if text is None:
                continue
            found += 1
            for name, reach in (("even", 0), ("phrase_aware", 2)):
                runs = split_words(text, DEFAULT_PARTS, PART_MIN_WORDS, reach=reach)
                if not any(contains_answer(run, answer) for run in runs):
                    split[name].append(" | ".join(runs))
        out[qa] = {"answers_in_lossless_context": found, **{f"split_{k}": len(v) for k, v in split.items()},
                   "examples": split}
        print(qa, json.dumps({k: v for k, v in out[qa].items() if k != "examples"}))
    (HERE / "results" / "rag_straddle.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
