"""The default inverter on everyday prose and on out-of-domain news, with readability: the figures
we tune and report on first (the mixed split is three quarters dictionary glosses).

    python benchmarks/prose.py [--n 50] [--models DIR ...] [--json OUT]

Reads `test_prose.txt` and `ood.txt` of the built corpus (`unembed data build`). Each `--models`
folder holds `minilm-words` and `minilm-decoder` as `models/` does (default: the shipped ones), so a
newly trained decoder is compared with the shipped one in the same run. Rows per models folder:
the decoder's hypothesis alone (steps 0) and the default search (8 steps, beam 4).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signature import signed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--splits", default="test_prose,ood")
    ap.add_argument("--models", nargs="+", type=Path, default=[ROOT / "models"])
    ap.add_argument("--steps", default="0,8", help="search steps per row (beam 4; 0: the decoder alone)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    from unembed.data.corpus import read_split
    from unembed.embed import load_embedder
    from unembed.evaluate import evaluate
    from unembed.generate.gemma import LocalGemma
    from unembed.invert.registry import load_inverter

    emb, nll = load_embedder("minilm"), LocalGemma().nll
    rows = []
    for models in a.models:
        os.environ["UNEMBED_MODELS"] = str(models.resolve())
        inv = load_inverter(None, emb)  # the default, built from this folder's word head and decoder
        for split in a.splits.split(","):
            texts = read_split(split)[:a.n]
            for steps in map(int, a.steps.split(",")):
                rep = evaluate(texts, emb, inv, steps, 4, nll=nll, progress=False)
                row = {"models": os.path.relpath(models.resolve(), ROOT), "split": split, "steps": steps, "beam": 4}
                row |= {k: rep[k] for k in ("n", "bleu", "token_f1", "exact_match", "cosine", "seconds_per_text",
                                            "nll", "nll_reference", "nll_ratio")}
                row["examples"] = [(s["text"], s["reconstruction"]) for s in rep["samples"][:4]]
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "examples"}), flush=True)
    from unembed.metrics import READABILITY
    result = signed({"rows": rows, "readability": READABILITY}, split=a.splits, n=a.n, seed=None)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
