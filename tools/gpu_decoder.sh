#!/usr/bin/env bash
# More bag-decoder epochs on a lent GPU in one `run` call, once the parts are staged in /tmp/stage
# (tools/gpu_carry.py; steps in models/minilm-decoder/README.md). Unpacks (once per warm machine),
# trains from the shipped decoder, and writes the run's config, metrics and weights (in ≤ 15 MiB
# parts, for $OUT) to $OUT/RUN. Run it again with the same arguments to resume on a warm machine.
#
#   bash tools/gpu_decoder.sh RUN MINUTES [unembed train options, e.g. --spans 2 --epochs 3 --batch-size 256 --lr 4e-4]
#
# Here: cat OUT/RUN/weights.pt.part* > runs/RUN/weights.pt, with OUT/RUN/config.json beside it, its
# "word_head" set to the word head folder (../minilm-words once copied into models/).
set -euo pipefail
run=${1:?usage: gpu_decoder.sh RUN MINUTES [train options]}
minutes=${2:?usage: gpu_decoder.sh RUN MINUTES [train options]}
shift 2
stage=${STAGE:-/tmp/stage}
site=${SITE:-/tmp/site}
runs=${RUNS:-/tmp/runs}
data=${UNEMBED_DATA:-/tmp/unembed-data}
home=${UNEMBED_HOME:-/tmp/unembed-home}
out=${OUT:?OUT: the folder whose files come back}/$run
[ -d "$site" ] || python3 tools/gpu_carry.py unpack "$stage" --site "$site" --data "$data" --home "$home"
export PYTHONPATH=$site:$PWD UNEMBED_DATA=$data UNEMBED_HOME=$home
# eval at each epoch's end only: that is also when weights.pt is exported
python3 -m unembed.cli train --model decoder --embedder minilm --init models/minilm-decoder --out "$runs/$run" \
    --eval-every 0 --max-minutes "$minutes" "$@" || echo "train exited with $?"
mkdir -p "$out"
for f in config.json metrics.json; do
    if [ -f "$runs/$run/$f" ]; then cp "$runs/$run/$f" "$out/"; fi
done
if [ -f "$runs/$run/weights.pt" ]; then
    split -b 15M "$runs/$run/weights.pt" "$out/weights.pt.part"
fi
ls -la "$out"
