"""Batch inversion throughput: this process (one thread), then 1 and 2 Ray workers (one thread each),
the same vectors and settings; and a labelled projection of a larger cluster from the measured
per-worker rate. Also checks that every run gave the same texts.

    python benchmarks/ray_batch.py --n 16 --json benchmarks/results/ray_batch.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signature import signed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def sentences(n: int) -> tuple[str, list[str]]:
    from unembed.paths import data_dir
    f = data_dir() / "test_prose.txt"
    if f.exists():
        return "test_prose", f.read_text(encoding="utf-8").splitlines()[:n]
    every = (ROOT / "unembed" / "assets" / "everyday.txt").read_text(encoding="utf-8").splitlines()
    return "everyday", [t for t in every if t.strip()][:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--preset", default=None)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--cores-per-node", type=int, default=16, help="for the projection only")
    ap.add_argument("--nodes", type=int, default=100, help="for the projection only")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    import torch

    import unembed
    from unembed.invert.batch import BatchJob, Vectors, read_results, run_batch
    torch.set_num_threads(1)
    split, texts = sentences(a.n)
    data = Vectors([f"t{i:04d}" for i in range(len(texts))], unembed.embed(texts))
    job = BatchJob(preset=a.preset, batch_size=a.batch_size)
    work = Path(tempfile.mkdtemp(prefix="unembed-ray-bench-"))
    rows, outputs = [], {}
    try:
        for workers in [0] + [int(w) for w in a.workers.split(",")]:
            stamps = []
            t0 = time.perf_counter()
            s = run_batch(data, work / f"w{workers}", job, workers=workers, progress=False,
                          on_part=lambda u: stamps.append(time.perf_counter()))
            wall = time.perf_counter() - t0
            # steady state: from the first part written to the last (startup and model loading excluded)
            steady = (len(stamps) - 1) * a.batch_size / (stamps[-1] - stamps[0]) if len(stamps) > 1 else None
            outputs[workers] = [r["text"] for r in read_results(work / f"w{workers}")]
            rows.append({"workers": workers, "where": "this process, 1 thread" if workers == 0 else f"{workers} Ray workers, 1 thread each",
                         "vectors": s["rows"], "wall_seconds": round(wall, 1), "vectors_per_second": round(s["rows"] / wall, 4),
                         "steady_vectors_per_second": round(steady, 4) if steady else None})
            print(json.dumps(rows[-1]), flush=True)
            if workers:
                import ray
                ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    same = all(outputs[w] == outputs[0] for w in outputs)
    one = next(r for r in rows if r["workers"] == 1)
    per_worker = one["steady_vectors_per_second"] or one["vectors_per_second"]
    cluster = per_worker * a.cores_per_node * a.nodes
    result = {
        "preset": a.preset or "default", "batch_size": a.batch_size, "same_texts_everywhere": same, "rows": rows,
        "speedup_2_vs_1_workers": round(rows[-1]["vectors_per_second"] / one["vectors_per_second"], 3) if len(rows) > 2 else None,
        "projection": {
            "label": "a projection, not a measurement: the measured single-worker steady rate times one worker per core, "
                     "assuming linear scaling and no shared bottleneck (each worker needs only its vectors and a loaded inverter)",
            "nodes": a.nodes, "cores_per_node": a.cores_per_node, "vectors_per_second": round(cluster, 1),
            "hours_per_million_vectors": round(1e6 / cluster / 3600, 2)},
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(signed(result, split=split, n=len(texts)), indent=1) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
