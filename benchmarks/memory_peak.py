"""Peak memory of `unembed invert --vectors` on many vectors: the lookup inverter on 10k and 20k
vectors, and the default inverter on a few blocks (its working set is one block's, whatever N is).

    python benchmarks/memory_peak.py [--lookup 10000,20000] [--default 48] [--json OUT]

Each run is a fresh `unembed invert` process; its peak resident set (ru_maxrss) is read by a
parent made for that run alone. The vectors are random unit vectors: memory does not depend on
what they say. Needs the corpus (`unembed data build`) for the reference set.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signature import signed  # noqa: E402

_MEASURE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak(vectors: Path, inverter: str | None) -> dict:
    cmd = [sys.executable, "-m", "unembed.cli", "invert", "--vectors", str(vectors)]
    cmd += ["--inverter", inverter] if inverter else []
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True).stdout
    code, kib = map(int, out.split())
    if code:
        raise SystemExit(f"{' '.join(cmd)} exited {code}")
    return {"peak_rss_mb": round(kib / 1024), "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lookup", default="10000,20000", help="vector counts for the lookup inverter")
    ap.add_argument("--default", type=int, default=48, help="vector count for the default inverter (0: skip)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        def vecs(n):
            f = Path(tmp) / f"v{n}.npy"
            v = rng.standard_normal((n, 384)).astype(np.float32)
            np.save(f, v / np.linalg.norm(v, axis=1, keepdims=True))
            return f
        for n in [int(x) for x in a.lookup.split(",") if x]:
            rows.append({"inverter": "lookup", "n": n, **peak(vecs(n), "lookup")})
            print(json.dumps(rows[-1]), flush=True)
        if a.default:
            rows.append({"inverter": "default", "n": a.default, **peak(vecs(a.default), None)})
            print(json.dumps(rows[-1]), flush=True)
    result = signed({"rows": rows, "note": "peak resident set of one `unembed invert` process; random unit vectors"},
                    split="random unit vectors", n=sum(r["n"] for r in rows), seed=0)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
