"""Load on the HTTP service: N concurrent clients against a real `unembed serve` process.

Starts the server as its own process (a fresh data directory, a random store key, the shipped
default inverter), warms it up, then for each endpoint and each client count fires a fixed number
of requests from N threads at once and records every latency and status. Reports p50/p95/max,
requests per second, requests shed (503: the inversion queue is full, by design) and errors (any
other 5xx or a transport error), plus ratios
against one client: absolute times on a shared 2-core machine are noisy, ratios less so.
The last scenario is abuse: one tenant floods invert past its rate limit while another works.

    python benchmarks/serve_load.py [--quick] [--json benchmarks/results/archive/serve_load.json]
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from unembed.serve import hash_key

HERE = Path(__file__).resolve().parent
DOCS = HERE / "rag_qa" / "docs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, inverter: str | None) -> tuple[subprocess.Popen, str]:
    keys = {"bench": "bench-key", "noisy": "noisy-key"}
    cfg = root / "server.toml"
    cfg.write_text(
        f'data_dir = "{root / "data"}"\nmax_batch = 64\n' + (f'inverter = "{inverter}"\n' if inverter else "")
        + f'[tenants.bench]\nkey_sha256 = "{hash_key(keys["bench"])}"\nembed_per_minute = 1000000\ninvert_per_minute = 1000000\n'
        + f'[tenants.noisy]\nkey_sha256 = "{hash_key(keys["noisy"])}"\ninvert_per_minute = 10\n')
    port = free_port()
    env = {**os.environ, "UNEMBED_STORE_KEY": secrets.token_hex(32)}
    proc = subprocess.Popen([sys.executable, "-m", "unembed.cli", "serve", "--config", str(cfg), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    raise SystemExit("server did not start in 120 s")


def statuses_ok(results) -> int:
    return sum(1 for _, s in results if s == 200)


def fire(base: str, key: str, path: str, bodies: list[dict], clients: int) -> dict:
    """Send `bodies` from `clients` threads started together; every latency and status recorded."""
    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    todo = iter(bodies)
    start_gate = threading.Barrier(clients + 1)

    def worker():
        with httpx.Client(base_url=base, timeout=600, headers={"Authorization": f"Bearer {key}"}) as c:
            start_gate.wait()
            while True:
                with lock:
                    body = next(todo, None)
                if body is None:
                    return
                t = time.perf_counter()
                try:
                    status = c.post(path, json=body).status_code
                except httpx.HTTPError:
                    status = -1
                with lock:
                    results.append((time.perf_counter() - t, status))

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    lat = np.array([r[0] for r in results])
    statuses: dict[str, int] = {}
    for _, s in results:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    return {"clients": clients, "requests": len(results), "wall_s": round(wall, 2),
            "requests_per_s": round(len(results) / wall, 2),
            "served_per_s": round(statuses_ok(results) / wall, 3),  # 200s only: shed requests are quick
            "p50_s": round(float(np.percentile(lat, 50)), 3), "p95_s": round(float(np.percentile(lat, 95)), 3),
            "max_s": round(float(lat.max()), 3), "statuses": statuses,
            "shed_503": statuses.get("503", 0),  # refused at once by the inversion queue cap: by design
            "errors": sum(n for s, n in statuses.items() if s == "-1" or (s.startswith("5") and s != "503"))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--inverter", default=None, help="the server's inverter (default: the shipped default)")
    ap.add_argument("--quick", action="store_true", help="fewer requests and client counts")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "serve_load.json")
    args = ap.parse_args()

    sentences = [s.strip() for f in sorted(DOCS.iterdir()) for s in f.read_text().replace("\n", " ").split(". ")
                 if len(s.split()) > 5]
    rng = np.random.default_rng(0)
    pick = lambda n: [sentences[i] for i in rng.choice(len(sentences), n)]  # noqa: E731
    levels = [1, 4, 16] if args.quick else [1, 4, 16, 64]
    scale = 0.5 if args.quick else 1.0

    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(Path(tmp), args.inverter)
        try:
            c = httpx.Client(base_url=base, timeout=600, headers={"Authorization": "Bearer bench-key"})
            vecs = [d["embedding"] for d in c.post("/v1/embed", json={"input": pick(64)}).json()["data"]]
            docs = [{"id": f.name, "text": f.read_text()} for f in sorted(DOCS.iterdir())]
            ing = c.post("/v1/rag/ingest", json={"store": "qa", "documents": docs}).json()
            warm = c.post("/v1/invert", json={"vectors": vecs[:1]}).json()  # loads the inverter
            report = {"inverter": args.inverter or "default", "steps": warm["steps"], "beam": warm["beam"],
                      "store_chunks": ing["store_chunks"], "cpu_count": os.cpu_count(), "scenarios": {}}

            plans = {
                "embed (8 texts)": ("/v1/embed", lambda n: [{"input": pick(8)} for _ in range(n)], levels, int(240 * scale)),
                "invert (1 vector)": ("/v1/invert", lambda n: [{"vectors": [vecs[i % 64]]} for i in range(n)],
                                      levels[:3], int(24 * scale)),
                "rag ask (k=3)": ("/v1/rag/ask", lambda n: [{"store": "qa", "questions": pick(1), "k": 3} for _ in range(n)],
                                  levels[:3], int(12 * scale)),
            }
            for name, (path, bodies, counts, total) in plans.items():
                rows = []
                for n in counts:
                    row = fire(base, "bench-key", path, bodies(max(total, n)), n)
                    print(f"{name:18} clients {n:3}: p50 {row['p50_s']:.3f}s p95 {row['p95_s']:.3f}s "
                          f"{row['requests_per_s']:.1f} req/s shed {row['shed_503']} errors {row['errors']} {row['statuses']}", flush=True)
                    rows.append(row)
                for row in rows:
                    row["p95_vs_1_client"] = round(row["p95_s"] / rows[0]["p95_s"], 2)
                    row["served_per_s_vs_1_client"] = round(row["served_per_s"] / rows[0]["served_per_s"], 2)
                report["scenarios"][name] = rows

            # abuse: a tenant floods invert (limit 10 per minute) while another embeds
            flood: dict = {}
            t = threading.Thread(target=lambda: flood.update(fire(base, "noisy-key", "/v1/invert",
                                                                  [{"vectors": [vecs[0]]}] * 60, 16)))
            t.start()
            during = fire(base, "bench-key", "/v1/embed", [{"input": pick(8)} for _ in range(40)], 4)
            t.join()
            report["abuse"] = {"flooding_tenant": flood, "other_tenant_embed_meanwhile": during,
                               "limited_share": round(flood["statuses"].get("429", 0) / flood["requests"], 3)}
            print(f"abuse: {flood['statuses']} for the flooder; the other tenant meanwhile: p95 {during['p95_s']}s, "
                  f"errors {during['errors']}", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    report["total_errors"] = sum(r["errors"] for rows in report["scenarios"].values() for r in rows) + \
        report["abuse"]["flooding_tenant"]["errors"] + report["abuse"]["other_tenant_embed_meanwhile"]["errors"]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json} · errors in all: {report['total_errors']}")


if __name__ == "__main__":
    main()
