"""Add a trained corrector run to a shipped inverter folder as its `corrector` stage (the `readable` preset's).

    UNEMBED_DATA=~/.cache/unembed/prose unembed train --model prefix --embedder minilm --draft \
        --init runs/minilm-prefix-prose --out runs/minilm-corrector --eval-every 300 --seed 5 --lr 3e-4
    python tools/ship_corrector.py runs/minilm-corrector models/minilm

Copies the fp16 weights and the sub-vocabulary, keeps the run's config and validation history but
not its local paths, and lists the stage in inverter.json (the default config leaves it out). Run it
after tools/ship_minilm.py, which rewrites inverter.json.
"""
import json
import shutil
import sys
from pathlib import Path

LOCAL = ("out", "word_head", "device", "threads", "max_minutes")


def main(run: Path, folder: Path) -> None:
    meta = json.loads((run / "config.json").read_text())
    if meta.get("kind") != "gemma-prefix" or not meta["model"].get("draft"):
        sys.exit(f"{run} is not a corrector run (unembed train --model prefix --draft)")
    dst = folder / "corrector"
    dst.mkdir(exist_ok=True)
    meta["word_head"] = "../../minilm-words"  # where the shipped word head sits beside the folder
    meta["train"] = {k: v for k, v in meta.get("train", {}).items() if k not in LOCAL}
    if meta["train"].get("init"):  # the run it started from, by name: never a path on this machine
        meta["train"]["init"] = Path(meta["train"]["init"]).name
    meta["history"] = [{k: v for k, v in r.items() if k != "examples"} for r in meta.get("history", [])]
    (dst / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    for f in ("weights.pt", "tokens.txt"):
        shutil.copyfile(run / f, dst / f)
    inv = json.loads((folder / "inverter.json").read_text())
    if not any(s["name"] == "corrector" for s in inv["stages"]):
        inv["stages"].append({"name": "corrector", "path": "corrector"})
    last = meta["history"][-1] if meta["history"] else {}
    inv["card"]["corrector"] = {"kind": "gemma-prefix corrector (prefix MLP + rank-16 LoRA on Gemma-3-270M, fp16)",
                                "train": meta["train"], "sentences_seen": last.get("sentences"),
                                "cpu_hours": last.get("cpu_hours"), "used_by": "the readable preset (not the default)"}
    (folder / "inverter.json").write_text(json.dumps(inv, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
