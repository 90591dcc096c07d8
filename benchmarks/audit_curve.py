"""Privacy/utility curve of every defence, against a plain and an adaptive attacker.

Victim store: the 300 synthetic PII sentences of benchmarks/audit/pii.txt plus --docs BBC news
sentences (out-of-domain split). Utility: recall@10 of --queries other BBC sentences, defended
store against undefended. Privacy: the first --n PII sentences inverted by the default `search`
inverter (--steps/--beam) from the defended vectors, plain and adaptive (see unembed/audit/curve.py).
The attacker's own texts and leaked pairs come from the corpus's val split, never the test split.

    python benchmarks/audit_curve.py   # → benchmarks/results/audit_curve.{json,png}, audit_report.html
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from unembed import metrics
from unembed.audit.curve import keyed_attack, public_attack, recall_at_k, undo
from unembed.audit.defences import load_defence
from unembed.data.corpus import read_split
from unembed.embed import load_embedder
from unembed.invert.registry import load_inverter

HERE = Path(__file__).resolve().parent
SPECS = ["none", "noise:0.01", "noise:0.03", "noise:0.05", "noise:0.1", "int8", "binary", "pq:48", "pq:16",
         "pq:8", "rotate", "rotate+scale", "rotate+noise:0.05"]
KEY = b"benchmark key: not a secret, only fixed for reproducibility"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--beam", type=int, default=2)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--own", type=int, default=3000, help="attacker's own texts (val split)")
    ap.add_argument("--k", type=int, default=400, help="leaked pairs for the keyed rows of the main table")
    ap.add_argument("--ks", default="5,10,20,50,100,200,300,400,1000,3000")
    ap.add_argument("--ks-invert", default="50,200,400")
    ap.add_argument("--specs", default=",".join(SPECS))
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--plot-only", action="store_true", help="redraw the PNG from the saved JSON")
    args = ap.parse_args()
    if args.plot_only:
        plot(json.loads((args.out / "audit_curve.json").read_text()), args.out / "audit_curve.png")
        return

    emb = load_embedder("minilm")
    inv = load_inverter(None, emb)
    pii = (HERE / "audit" / "pii.txt").read_text(encoding="utf-8").splitlines()
    news = read_split("ood")
    docs, queries = pii + news[: args.docs], news[args.docs: args.docs + args.queries]
    truth = pii[: args.n]
    own_texts = read_split("val")[: args.own]
    clean_docs, clean_q, own = emb.embed(docs), emb.embed(queries), emb.embed(own_texts)
    clean_eval = clean_docs[: args.n]

    def attack(vectors: np.ndarray) -> dict:
        t0 = time.perf_counter()
        recon = inv.invert(vectors, steps=args.steps, beam=args.beam)
        secs = (time.perf_counter() - t0) / len(recon)
        s = metrics.score(recon, truth)
        s["cosine_to_truth"] = float(np.mean((emb.embed(recon) * clean_eval).sum(1)))
        s["seconds_per_text"] = secs
        s["example"] = recon[0]
        return s

    rows = []
    for spec in args.specs.split(","):
        d = None if spec == "none" else load_defence(spec, key=KEY, seed=0)
        dd, dq = (clean_docs, clean_q) if d is None else (d.apply(clean_docs), d.query(clean_q))
        row = {"defence": spec, "recall_at_10": recall_at_k(clean_docs, dd, clean_q, dq),
               "stored_cosine_to_clean": float(np.mean((dd[: args.n] * clean_eval).sum(1)))}
        row["plain"] = attack(dd[: args.n])
        if d is None:
            row["adaptive"], row["adaptive_map"] = row["plain"], "none"
        else:
            w, how = keyed_attack(d, own[: args.k]) if d.keyed else public_attack(d, own)
            row["adaptive_map"] = how + (f" from {args.k} leaked pairs" if d.keyed else " fitted on the attacker's own texts")
            est = undo(dd[: args.n], w)
            row["adaptive_vector_cosine_to_clean"] = float(np.mean((est * clean_eval).sum(1)))
            row["adaptive"] = row["plain"] if how.startswith("none") else attack(est)
        rows.append(row)
        print(json.dumps({k: (v if not isinstance(v, dict) else {x: v[x] for x in ("bleu", "token_f1", "names_recovered")})
                          for k, v in row.items()}), flush=True)

    # how many leaked pairs break the keyed rotation
    sweep = []
    rot = load_defence("rotate", key=KEY)
    stored = rot.apply(clean_eval)
    for k in [int(x) for x in args.ks.split(",")]:
        w, how = keyed_attack(rot, own[:k])
        est = undo(stored, w)
        entry = {"k": k, "map": how, "vector_cosine_to_clean": float(np.mean((est * clean_eval).sum(1)))}
        if str(k) in args.ks_invert.split(","):
            entry["attack"] = attack(est)
        sweep.append(entry)
        print(json.dumps({x: entry[x] for x in ("k", "map", "vector_cosine_to_clean")}), flush=True)

    result = {"n": args.n, "embedder": emb.name, "inverter": inv.name, "steps": args.steps, "beam": args.beam,
              "docs": len(docs), "queries": len(queries), "attacker_own_texts": len(own), "k": args.k,
              "rows": rows, "rotation_k_sweep": sweep}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "audit_curve.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    plot(result, args.out / "audit_curve.png")

    # the plain audit of the undefended store, with the curve, as the report a security team reads
    from unembed.audit.leak import audit
    from unembed.audit.report import render
    report = audit(clean_docs[: args.n], emb, inv, args.steps, args.beam, truth=truth, progress=False)
    render(report, args.out / "audit_report.html",
           [("Privacy against utility for every defence (benchmarks/audit_curve.py)", args.out / "audit_curve.png")])


def plot(result: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, cx, bx) = plt.subplots(1, 3, figsize=(20, 6.5))
    colours = plt.cm.tab20(np.linspace(0, 1, len(result["rows"])))
    plain_cos = lambda r: r["stored_cosine_to_clean"]
    adapt_cos = lambda r: r.get("adaptive_vector_cosine_to_clean", r["stored_cosine_to_clean"])
    for panel, px, qx, label in ((ax, lambda r: r["plain"]["token_f1"], lambda r: r["adaptive"]["token_f1"],
                                  "inversion token F1 on the PII sentences"),
                                 (cx, plain_cos, adapt_cos, "cosine of the attacker's vector to the true embedding")):
        for r, c in zip(result["rows"], colours):
            y = r["recall_at_10"]
            panel.plot([px(r), qx(r)], [y, y], color=c, lw=1)
            panel.scatter([px(r)], [y], facecolors="none", edgecolors=[c], s=60)
            panel.scatter([qx(r)], [y], color=c, s=60, label=r["defence"])
        panel.axhline(0.95, ls="--", color="0.5", lw=1)
        panel.text(0.01, 0.95, " recall@10 = 95%", color="0.4", fontsize=8, va="bottom",
                   transform=panel.get_yaxis_transform())
        panel.set_xlabel(label + "\n(hollow: plain attacker, filled: adaptive)")
        panel.set_ylabel("retrieval recall@10 against the undefended store")
        panel.grid(alpha=0.3)
    ax.set_title("What the attacker reads back (left is safer) against utility (up)", fontsize=10)
    cx.set_title("How much of the vector the attacker gets back: any inverter's ceiling", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ks = [e["k"] for e in result["rotation_k_sweep"]]
    bx.plot(ks, [e["vector_cosine_to_clean"] for e in result["rotation_k_sweep"]], "o-",
            label="cosine of the undone vector to the true one")
    inv = [e for e in result["rotation_k_sweep"] if "attack" in e]
    bx.plot([e["k"] for e in inv], [e["attack"]["token_f1"] for e in inv], "s--", label="inversion token F1")
    bx.plot([e["k"] for e in inv], [e["attack"]["names_recovered"] or 0 for e in inv], "^--", label="names recovered")
    none = next((r for r in result["rows"] if r["defence"] == "none"), None)
    if none:
        bx.axhline(none["plain"]["token_f1"], color="tab:orange", lw=0.8, ls=":", label="token F1 with no defence")
    bx.set_xscale("log")
    bx.set_xlabel("leaked (text, stored vector) pairs k")
    bx.set_title("Keyed rotation: how many leaked pairs undo it", fontsize=10)
    bx.legend(fontsize=8)
    bx.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
