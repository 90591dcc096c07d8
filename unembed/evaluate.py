"""`unembed eval`: embed each line, invert, score. Its JSON is a public contract (see README)."""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
from tqdm import tqdm

from . import metrics
from .errors import InputError

KEYS = ("n", "embedder", "inverter", "steps", "beam", "bleu", "token_f1", "exact_match", "cosine",
        "seconds_per_text", "samples")


def read_lines(path) -> list[str]:
    try:
        text = open(path, encoding="utf-8").read()
    except IsADirectoryError:
        raise InputError(f"{path} is a directory; give a text file, one text per line") from None
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except UnicodeDecodeError:
        raise InputError(f"input file is not UTF-8: {path}") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(f"input file has no non-blank lines: {path}")
    return lines


def evaluate(texts: Sequence[str], embedder, inverter, steps: int, beam: int, batch: int = 16,
             progress: bool = True, nll=None) -> dict:
    """`nll`, a per-text scorer (LocalGemma().nll), adds readability: nll, nll_reference, nll_ratio."""
    texts = list(texts)
    if not texts:
        raise InputError("nothing to evaluate: no texts")
    targets = embedder.embed(texts)
    recon: list[str] = []
    start = time.perf_counter()
    for i in tqdm(range(0, len(texts), batch), desc=f"inverting with {inverter.name}", unit=" batch",
                  disable=not progress):
        recon.extend(inverter.invert(targets[i:i + batch], steps=steps, beam=beam))
    seconds = (time.perf_counter() - start) / len(texts)
    reembedded = embedder.embed(recon)
    cos = metrics.cosines(targets, reembedded)
    return {
        "n": len(texts),
        "embedder": embedder.name,
        "inverter": inverter.name,
        "steps": steps,
        "beam": beam,
        "bleu": metrics.bleu(recon, texts),
        "token_f1": metrics.token_f1(recon, texts),
        "exact_match": metrics.exact_match(recon, texts),
        "cosine": float(np.mean(cos)),
        "seconds_per_text": seconds,
        "samples": [{"text": t, "reconstruction": r, "cosine": float(c)} for t, r, c in zip(texts, recon, cos)],
    } | (metrics.readability(recon, texts, nll) if nll is not None else {})
