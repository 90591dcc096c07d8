"""One benchmark runner: named configurations whose rows are inverter config overrides, results signed.

    python benchmarks/run.py prose            # the shipped inverter, fast and default, on prose, news, glosses
    python benchmarks/run.py everyday         # the 12 shipped everyday sentences (no corpus needed)
    python benchmarks/run.py ablation         # the default with one stage left out at a time, on prose
    python benchmarks/run.py artifact         # the shipped folder against the recipe it was built from
    python benchmarks/run.py --index          # benchmarks/results/INDEX.md from the signed results
    python benchmarks/run.py --readme         # the README's results table, from prose.json

Each configuration writes benchmarks/results/NAME.json (or --json OUT): rows of the `unembed eval`
report per (row, split), with a signature (command, commit, date, packages, CPU, split, n, seed).
Splits come from the built corpus (`unembed data build`): test_prose (Brown, nlp-corpus), ood (BBC
news, held out whole), test_gloss (WordNet, GCIDE). Readability (nll_ratio) needs the [gemma] extra.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signature import signed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

# name -> (splits, default n, rows); a row is a label, an inverter spec and InverterConfig overrides
CONFIGS = {
    "prose": (("test_prose", "ood", "test_gloss"), 50, [
        ("fast (hypothesis alone)", "default", {"steps": 0}),
        ("default (hypothesis + feedback)", "default", {}),
    ]),
    "readable": (("test_prose", "ood", "test_gloss"), 50, [
        ("readable (search + corrector)", "readable", {}),
    ]),
    "everyday": (("everyday",), 12, [
        ("fast (hypothesis alone)", "default", {"steps": 0}),
        ("readable (search + corrector)", "readable", {}),
        ("default (hypothesis + feedback)", "default", {}),
    ]),
    "ablation": (("test_prose", "ood"), 25, [
        ("default", "default", {}),
        ("no fluency", "default", {"drop": "fluency"}),
        ("no pieces", "default", {"drop": "pieces"}),
        ("no decoder", "default", {"drop": "decoder"}),
        ("no extrapolation", "default", {"extrapolate": 0.0}),
        ("no casing", "default", {"drop": "casing"}),
    ]),
    # tuning on prose val (never test): which feedback keeps the decoder's text readable
    "feedback": (("val_prose",), 30, [
        ("fast (hypothesis alone)", "default", {"steps": 0}),
        ("default (word edits)", "default", {}),
        ("decoder rewrites only (no word edits)", "default", {"edits": False, "drop": ("pieces",)}),
        ("word edits ranked with the decoder's vote 0.05", "default", {"decoder_weight": 0.05}),
        ("word edits ranked with the decoder's vote 0.2", "default", {"decoder_weight": 0.2}),
    ]),
    # the decoder-rewrite feedback (no word edits), tuned on prose val
    "rewrite": (("val_prose",), 30, [
        ("rewrites, decoder beam 8, 8 steps", "default", {"edits": False, "drop": ("pieces",)}),
        ("rewrites, decoder beam 16", "default", {"edits": False, "drop": ("pieces",), "decoder_beam": 16}),
        ("rewrites, 16 steps", "default", {"edits": False, "drop": ("pieces",), "steps": 16}),
        ("rewrites, extrapolate 2", "default", {"edits": False, "drop": ("pieces",), "extrapolate": 2.0}),
        ("rewrites, no fluency polish", "default", {"edits": False, "drop": ("pieces", "fluency")}),
    ]),
    "artifact": (("test_prose", "ood"), 25, [
        ("shipped folder", "default", {}),
        ("recipe from the corpus (search:50000)", "search:50000", {}),
    ]),
}
KEYS = ("n", "bleu", "token_f1", "exact_match", "cosine", "seconds_per_text", "nll", "nll_reference", "nll_ratio")


def texts_of(split: str) -> list[str]:
    if split == "everyday":
        from importlib.resources import files
        return [t for t in files("unembed").joinpath("assets/everyday.txt").read_text().splitlines() if t.strip()]
    from unembed.data.corpus import read_split
    return read_split(split)


def inverter_for(spec: str, overrides: dict, emb):
    from unembed.invert.registry import load_inverter
    inv = load_inverter(spec, emb)
    overrides = dict(overrides)
    drop = overrides.pop("drop", ())
    drop = (drop,) if isinstance(drop, str) else tuple(drop)
    if drop:
        overrides["stages"] = tuple(s for s in inv.config.stages if s not in drop)
    return inv.with_config(**overrides) if overrides else inv


def run(name: str, n: int | None, readability: bool, out: Path | None) -> dict:
    from unembed.embed import load_embedder
    from unembed.evaluate import evaluate
    splits, default_n, rows = CONFIGS[name]
    n = n or default_n
    emb = load_embedder("minilm")
    nll = None
    if readability:
        from unembed.generate.gemma import LocalGemma
        nll = LocalGemma().nll
    results = []
    for label, spec, overrides in rows:
        inv = inverter_for(spec, overrides, emb)
        for split in splits:
            texts = texts_of(split)[:n]
            rep = evaluate(texts, emb, inv, inv.config.steps if hasattr(inv, "config") else 8,
                           inv.config.beam if hasattr(inv, "config") else 4, nll=nll, progress=False)
            row = {"row": label, "inverter": spec, "overrides": overrides, "split": split,
                   "steps": rep["steps"], "beam": rep["beam"]} | {k: rep[k] for k in KEYS if k in rep}
            row["examples"] = [(s["text"], s["reconstruction"]) for s in rep["samples"][:4]]
            results.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("examples", "overrides")}), flush=True)
    result = signed({"config": name, "rows": results}, split=",".join(splits), n=n, seed=0)
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def index() -> str:
    lines = ["# Benchmark results", "", "Generated by `python benchmarks/run.py --index` from the signed files here;",
             "unsigned and superseded results are in `archive/`.", "",
             "| file | command | commit | date | split | n |", "|---|---|---|---|---|---|"]
    for f in sorted(RESULTS.glob("*.json")):
        try:
            sig = json.loads(f.read_text()).get("signature")
        except (ValueError, AttributeError):
            sig = None
        if not isinstance(sig, dict):
            continue
        lines.append(f"| {f.name} | `{sig.get('command', '')}` | {sig.get('commit', '')}{'+' if sig.get('dirty') else ''} "
                     f"| {sig.get('date', '')[:10]} | {sig.get('split', '')} | {sig.get('n', '')} |")
    return "\n".join(lines) + "\n"


def readme_table(path: Path = RESULTS / "prose.json", more: tuple = (RESULTS / "readable.json",)) -> str:
    res = json.loads(path.read_text())
    sig = res["signature"]
    for extra in more:  # rows measured in another run on the same splits and n
        if extra.exists():
            other = json.loads(extra.read_text())
            res["rows"] = [r for r in res["rows"] if r["row"].startswith("fast")] + other["rows"] + \
                [r for r in res["rows"] if not r["row"].startswith("fast")]
            sig["commit"] += f", {extra.name}: {other['signature']['commit']}"
    names = {"test_prose": "prose test (Brown, nlp-corpus)", "ood": "BBC news (out of domain)",
             "test_gloss": "glosses (WordNet, GCIDE)", "everyday": "everyday sentences (shipped)"}
    out = [f"minilm, 2-core CPU, first {sig['n']} texts per split; commit {sig['commit']}, {sig['date'][:10]} "
           f"(`{path.relative_to(ROOT)}`).", "",
           "| split | preset | BLEU | token F1 | exact | cosine | nll_ratio | s/text |", "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        ratio = f"{r['nll_ratio']:.2f}" if "nll_ratio" in r else "–"
        out.append(f"| {names.get(r['split'], r['split'])} | {r['row'].split(' ')[0]} | {r['bleu']:.1f} | {r['token_f1']:.3f} "
                   f"| {r['exact_match']:.2f} | {r['cosine']:.3f} | {ratio} | {r['seconds_per_text']:.2f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", choices=sorted(CONFIGS))
    ap.add_argument("--n", type=int, help="texts per split (default: the configuration's)")
    ap.add_argument("--no-readability", action="store_true", help="skip the Gemma readability score")
    ap.add_argument("--json", type=Path, help="write here instead of benchmarks/results/CONFIG.json")
    ap.add_argument("--index", action="store_true", help="write benchmarks/results/INDEX.md")
    ap.add_argument("--readme", action="store_true", help="print the README results table from prose.json")
    a = ap.parse_args()
    if a.config:
        run(a.config, a.n, not a.no_readability, a.json)
    if a.index:
        (RESULTS / "INDEX.md").write_text(index())
    if a.readme:
        print(readme_table())
    if not (a.config or a.index or a.readme):
        ap.print_help()


if __name__ == "__main__":
    main()
