"""A fast draft of a sentence-transformers embedder for ranking many candidates.

The search embeds hundreds of proposals per text per step only to pick the few closest, which it
then embeds exactly; most of its time goes there. This draft is the same transformer exported once
to ONNX with its weights quantised to int8 (per channel) and run by onnxruntime, whose int8 kernels
use the CPU's VNNI instructions. On the 2-core dev machine (one run alone, benchmarks/draft.py) it
embeds 1.39x faster than the bfloat16 draft it replaces and 2.53x faster than float32, at cosine
0.992 to the exact vector on average (0.98 at worst) over 1,024 val texts. It ranks them a little
less alike, which the search pays for by embedding more of the closest exactly (search.py's
exact_top). The export is cached under the home directory, keyed by the model's files, so it is
paid once per model (a few seconds).

Not every model survives int8: all-mpnet-base-v2's draft gives cosine 0.87 to its float32 vector
(0.73 at worst) on val texts, against 1.0000 for the same export left in float32, so the export is
checked on fixed probe texts and a draft that strays (mean cosine under 0.98 or any under 0.95) is
refused, with its figures kept beside it; that model keeps the bfloat16 draft. So does any model not
of the common shape exported here: a transformer, mean pooling, optional normalisation (not CLS
pooling, dense layers or a remote model).
"""
from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..paths import home

log = logging.getLogger(__name__)


def _exportable(model) -> bool:
    """A transformer, mean pooling and optionally normalisation: the shape exported below."""
    kinds = [type(m).__name__ for m in model]
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
        return False
    pool = model[1]
    return getattr(pool, "pooling_mode", None) == "mean" or getattr(pool, "pooling_mode_mean_tokens", False) is True


def _key(path: Path, name: str) -> str:
    """Changes with the model's files, the exporter and the runtime, so a stale draft is never read."""
    import onnxruntime
    import torch

    h = hashlib.sha1(f"{name}|{path.resolve()}|{torch.__version__}|{onnxruntime.__version__}".encode())
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json"):
            st = f.stat()
            h.update(f"{f.relative_to(path)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


# varied in length and register, so a draft that strays on any kind of text shows it
PROBES = [
    "The bank raised interest rates again.",
    "A cat sat on the mat.",
    "Shares in the company fell sharply after the chief executive resigned on Tuesday.",
    "She said she would come back tomorrow, but nobody believed her.",
    "The committee will meet in March to review the proposal and report to the board.",
    "Rain.",
    "an instrument for measuring the pressure of the atmosphere",
    "He had never seen so many people in one place before, and it frightened him.",
    "The new model costs $499 and ships in 12 countries from 3 June.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Why did the old man leave the village without telling anyone?",
    "United beat Chelsea 2-1 at Old Trafford to go top of the league.",
    "a person who writes poems",
    "The government has promised to cut taxes for small businesses next year.",
    "Mix the flour and butter, then add the eggs one at a time.",
    "They walked along the river until the sun went down behind the hills.",
    "Contact John Smith at john.smith@example.com or call 555-0142.",
    "The film won three awards, including best director and best actress.",
    "the quality of being honest and having strong moral principles",
    "Scientists warn that sea levels could rise by a metre by the end of the century.",
    "I don't think that's what she meant at all.",
    "Broadband prices are expected to fall as competition between providers increases.",
    "The patient was given antibiotics and discharged after two days in hospital.",
    "In 1865, the war ended and the long work of rebuilding began across the South.",
]
MIN_MEAN, MIN_WORST = 0.98, 0.95


def _session(file: Path):
    import onnxruntime as ort
    import torch

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(str(file), opts, providers=["CPUExecutionProvider"])


def _run(session, tokenizer, texts: Sequence[str], max_tokens: int) -> np.ndarray:
    f = tokenizer(list(texts), padding=True, truncation=True, max_length=max_tokens, return_tensors="np")
    return session.run(None, {n: f[n].astype(np.int64) for n in _input_names(tokenizer)})[0]


def _export(model, tokenizer, out: Path, max_tokens: int) -> dict:
    """Write the int8 draft to `out` and return its agreement with the float32 export on PROBES."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    transformer = model[0].auto_model

    class MeanPooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, *rest):
            extra = {"token_type_ids": rest[0]} if rest else {}
            h = self.transformer(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)

    names = _input_names(tokenizer)
    sample = tokenizer(["a draft", "of two texts"], padding=True, return_tensors="pt")
    dynamic = {n: {0: "batch", 1: "tokens"} for n in names} | {"vectors": {0: "batch"}}
    out.parent.mkdir(parents=True, exist_ok=True)
    plain, tmp = out.with_suffix(".f32.partial"), out.with_suffix(".partial")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on its own deprecation and traced branches
        torch.onnx.export(MeanPooled().eval(), tuple(sample[n] for n in names), str(plain), input_names=names,
                          output_names=["vectors"], dynamic_axes=dynamic, opset_version=17, dynamo=False)
    logging.disable(logging.WARNING)  # the quantiser advises pre-processing on the root logger, every time
    try:
        quantize_dynamic(str(plain), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.disable(logging.NOTSET)
    exact, draft = (_run(_session(f), tokenizer, PROBES, max_tokens) for f in (plain, tmp))
    cos = (exact * draft).sum(1)
    verdict = {"probe_texts": len(PROBES), "cosine_mean": round(float(cos.mean()), 5),
               "cosine_min": round(float(cos.min()), 5)}
    plain.unlink()
    tmp.replace(out)
    out.with_suffix(".json").write_text(json.dumps(verdict))
    return verdict


def _input_names(tokenizer) -> list[str]:
    names = ["input_ids", "attention_mask"]
    return names + (["token_type_ids"] if "token_type_ids" in tokenizer.model_input_names else [])


def draft_available(st_model) -> bool:
    """Whether `onnx_draft` can serve this model: onnxruntime is installed and the model exports."""
    import importlib.util
    return importlib.util.find_spec("onnxruntime") is not None and _exportable(st_model)


def onnx_draft(st_model, tokenizer, path: Path, name: str, max_tokens: int,
               check: bool = True) -> Callable[[Sequence[str], int], np.ndarray] | None:
    """An int8 onnxruntime encoder for `st_model` (texts, batch size → unit rows, float32), or None
    where onnxruntime is missing, the model is not of the exportable shape, or (with `check`) its int8
    draft strays from float32 on the probe texts."""
    if not draft_available(st_model):
        return None
    file = home() / "drafts" / f"{Path(name).name}-{_key(path, name)}.int8.onnx"
    verdict_file = file.with_suffix(".json")
    if file.exists() and verdict_file.exists():
        verdict = json.loads(verdict_file.read_text())
    else:
        try:
            verdict = _export(st_model, tokenizer, file, max_tokens)
        except Exception as e:  # a draft is an optimisation: without it the bfloat16 one serves
            log.warning("could not export an int8 draft of %s (%s); using the bfloat16 draft where the hardware has one",
                        name, e.__class__.__name__)
            return None
    if check and (verdict["cosine_mean"] < MIN_MEAN or verdict["cosine_min"] < MIN_WORST):
        log.info("the int8 draft of %s strays from float32 (cosine %.3f mean, %.3f worst on %d probe texts); "
                 "using the bfloat16 draft where the hardware has one", name, verdict["cosine_mean"], verdict["cosine_min"], verdict["probe_texts"])
        return None
    session = _session(file)

    def encode(texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        texts = list(texts)
        order = np.argsort([len(t) for t in texts], kind="stable")  # batches of like length pad least
        out = None
        for s in range(0, len(texts), batch_size):
            idx = order[s:s + batch_size]
            v = _run(session, tokenizer, [texts[i] for i in idx], max_tokens)
            out = np.zeros((len(texts), v.shape[1]), np.float32) if out is None else out
            out[idx] = v
        return out

    return encode
