"""Baseline inverters on the in-domain test split and the out-of-domain (BBC) split.

    python benchmarks/invert_baselines.py            # writes benchmarks/results/archive/baselines.json

Needs `unembed data build` first. lookup is cheap, so it gets more texts than search.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.evaluate import evaluate
from unembed.invert.registry import load_inverter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--n-lookup", type=int, default=500)
    ap.add_argument("--n-search", type=int, default=100)
    ap.add_argument("--runs", default="lookup:0:1,search:4:2,search:8:4", help="spec:steps:beam,...")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "baselines.json")
    args = ap.parse_args()

    emb = load_embedder(args.embedder)
    results = []
    for run in args.runs.split(","):
        spec, steps, beam = run.rsplit(":", 2)
        inv = load_inverter(spec, emb)
        n = args.n_lookup if spec.startswith("lookup") else args.n_search
        for split in ("test", "ood"):
            report = evaluate(read_split(split)[:n], emb, inv, int(steps), int(beam))
            report["split"] = split
            report["samples"] = report["samples"][:5]
            print(json.dumps({k: v for k, v in report.items() if k != "samples"}), flush=True)
            results.append(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/invert_baselines.py",
        "results": results,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
