"""A training run's learning curve: its validation scores (greedy BLEU, token F1, cosine) against
sentences seen and CPU-hours, signed, with a plot.

    python benchmarks/learning_curve.py runs/minilm-prefix-prose --split "prose val" \
        --json benchmarks/results/prefix_prose_curve.json --png docs/img/prefix_prose_curve.png

Rows carry `cpu_hours` where the trainer recorded it. For runs from before it did, `--cpu-log`
takes lines of `unix-time cpu-seconds | step/total` sampled from the trainer's process, and the CPU
time at each evaluated step is interpolated from them.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signature import signed  # noqa: E402


def cpu_at_steps(log: Path) -> list[tuple[int, float]]:
    points = []
    for line in log.read_text().splitlines():
        m = re.match(r"\s*\d+\s+(\d+)\s+\|\s*(\d+)/\d+", line)
        if m:
            points.append((int(m.group(2)), float(m.group(1))))
    return points


def interpolate(points: list[tuple[int, float]], step: int) -> float | None:
    for (s0, c0), (s1, c1) in zip(points, points[1:]):
        if s0 <= step <= s1:
            return c0 if s1 == s0 else c0 + (c1 - c0) * (step - s0) / (s1 - s0)
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--split", default="val")
    ap.add_argument("--cpu-log", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    a = ap.parse_args()

    history = json.loads((a.run / "metrics.json").read_text())
    meta = json.loads((a.run / "config.json").read_text()) if (a.run / "config.json").exists() else {}
    train = meta.get("train", {})
    points = cpu_at_steps(a.cpu_log) if a.cpu_log else []
    rows = []
    for h in history:
        cpu_h = h.get("cpu_hours")
        if cpu_h is None and points:
            c = interpolate(points, h["step"])
            cpu_h = round(c / 3600, 4) if c is not None else None
        rows.append({"step": h["step"], "sentences": h.get("sentences", h["step"] * train.get("batch_size", 16)),
                     "cpu_hours": cpu_h, "train_loss": round(h["train_loss"], 4),
                     **{k: h[k] for k in ("val_bleu", "val_token_f1", "val_cosine") if k in h}})
    for r in rows:
        print(json.dumps(r))
    result = {"run": str(a.run), "training": {k: v for k, v in train.items() if k not in ("out", "word_head")}, "curve": rows}
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(signed(result, split=a.split, n=train.get("val_limit")), indent=1) + "\n")
    if a.png and rows:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
        for ax, key, label in zip(axes, ("val_bleu", "val_token_f1", "val_cosine"), ("BLEU", "token F1", "cosine")):
            ax.plot([r["sentences"] / 1000 for r in rows], [r.get(key) for r in rows], "o-")
            ax.set_xlabel("training sentences seen (thousands)")
            ax.set_title(f"{a.split}: greedy {label}")
            ax.grid(alpha=0.3)
            if any(r["cpu_hours"] for r in rows):
                top = ax.secondary_xaxis("top")
                top.set_xticks([r["sentences"] / 1000 for r in rows], [f"{r['cpu_hours']:.2f}" if r["cpu_hours"] else "" for r in rows])
                top.set_xlabel("CPU-hours", fontsize=8)
        fig.tight_layout()
        a.png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(a.png, dpi=110)


if __name__ == "__main__":
    main()
