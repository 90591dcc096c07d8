"""The signature every benchmark result carries: what ran, on what, when.

`signed(result, split=..., n=..., seed=...)` returns the result with a `signature` block: the
command line, the commit (and whether the tree had changes), the UTC date, package versions, the
CPU model and core count. A figure without one is not a figure we quote.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata

PACKAGES = ("unembed", "torch", "numpy", "sentence-transformers", "transformers", "lancedb", "onnxruntime")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=os.getcwd()).stdout.strip()  # the checkout being measured: run from its root
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def signature(split: str | None = None, n: int | None = None, seed: int | None = None) -> dict:
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "commit": _git("rev-parse", "--short=12", "HEAD"),
        # results written earlier in the same chain of runs do not make the measured code dirty
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results")),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "packages": versions,
        "cpu": _cpu(), "cores": os.cpu_count(), "split": split, "n": n, "seed": seed,
    }


def signed(result: dict, split: str | None = None, n: int | None = None, seed: int | None = None) -> dict:
    return {"signature": signature(split, n, seed), **result}
