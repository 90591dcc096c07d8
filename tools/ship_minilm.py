"""Assemble the shipped minilm inverter (models/minilm) from a built inverter folder.

    unembed data build
    unembed train --model inverter --embedder minilm --word-head models/minilm-words \
        --decoder models/minilm-decoder --out runs/minilm-shipped
    python tools/ship_minilm.py runs/minilm-shipped models/minilm

The word head and the bag decoder stay in their own folders beside it (models/minilm-words,
models/minilm-decoder, with their cards); inverter.json points its `words` and `decoder` stages
there. The probe ships its common words only: the 152k rare words would add 30 MB at int4
(`--rare` in the train command builds them; `benchmarks/run.py artifact` measures the difference).
"""
import json
import shutil
import sys
from pathlib import Path

from unembed.invert.inverter import ProbeStage, FORMAT
from unembed.invert.probe import WordProbe
from unembed.embed import load_embedder


def main(src: Path, dst: Path) -> None:
    meta = json.loads((src / "inverter.json").read_text())
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "inverter.json").unlink(missing_ok=True)
    stages = []
    for entry in meta["stages"]:
        name = entry["name"]
        if name in ("words", "decoder"):
            stages.append({"name": name, "path": f"../minilm-{name}"})
            continue
        shutil.rmtree(dst / name, ignore_errors=True)
        if name == "probe":
            full = ProbeStage.load(src / name, load_embedder("minilm"), {}).probe
            (dst / name).mkdir()
            ProbeStage(WordProbe.from_vectors(full.vocab[:full.common], full.vectors[:full.common], full.common)).save(dst / name)
        else:
            shutil.copytree(src / name, dst / name)
        stages.append({"name": name, "path": name})
    assert meta["format"] == FORMAT
    meta["stages"] = stages
    (dst / "inverter.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
