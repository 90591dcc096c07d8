"""How much a set of stored vectors gives away: invert a sample, score it, name what leaked.

Every aggregate is computed from the per-sample fields the report carries, with the same rules
(`metrics.entities` finds them in the originals; `metrics.LEAK_RULES` says when a reconstruction
gives one away, and the report carries those rules), so a reader can re-derive each figure from
`samples`.
"""
from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from .. import metrics
from ..embed.base import check_vectors
from ..errors import InputError
from ..store.base import regroup

KINDS = metrics.LEAK_KINDS  # names (whole), name_parts (any word of a name), emails, phones, numbers


def _entities(text: str) -> dict[str, list[str]]:
    return {k: sorted(v) for k, v in metrics.entities(text).items()}


def verdict(report: dict) -> tuple[str, str]:
    """(level, one plain sentence). LOW never means safe: it is a floor set by our attacker."""
    if "token_f1" not in report:
        c = report["cosine"]
        level = "HIGH" if c >= 0.85 else "MEDIUM" if c >= 0.7 else "LOW"
        return level, (f"Without the original texts we cannot score the reconstructions, but their embeddings "
                       f"match the stored vectors at mean cosine {c:.2f}: the vectors carry the gist of the text, "
                       f"and the entities listed below were read out of them.")
    rate = lambda k: report.get(f"{k}_recovered") or 0.0
    direct = rate("emails") > 0 or rate("phones") > 0
    if direct or rate("names") >= 0.2 or rate("name_parts") >= 0.3 or report["token_f1"] >= 0.5:
        level = "HIGH"
    elif rate("name_parts") >= 0.05 or rate("numbers") >= 0.1 or report["token_f1"] >= 0.3:
        level = "MEDIUM"
    else:
        level = "LOW"
    parts = [f"{report['token_f1']:.0%} of the words (token F1) came back from vectors alone"]
    for k in KINDS:
        r = report.get(f"{k}_recovered")
        if r is not None:
            parts.append(f"{r:.0%} of " + ("names in part (a surname alone counts)" if k == "name_parts"
                                           else "full names" if k == "names" else k))
    return level, (", ".join(parts) + ". " + ("Treat this store as being as sensitive as its source text."
                                              if level != "LOW" else
                                              "Little leaked to this attacker; a stronger inverter would recover more, "
                                              "so this is not proof of safety."))


def audit(vectors, embedder, inverter, steps: int, beam: int, truth: list[str] | None = None,
          sample: int | None = None, seed: int = 0, batch: int = 8, progress: bool = True,
          parts: list[np.ndarray | None] | None = None) -> dict:
    """`parts`, per vector, the part vectors a store keeps beside it: the attacker reads those
    back and joins them, as the store's own reader does, since they give away more."""
    v = check_vectors(vectors, embedder.dim, what="audited vectors")
    if parts is not None and len(parts) != len(v):
        raise InputError(f"part vectors for {len(parts)} rows but there are {len(v)} vectors")
    if truth is not None and len(truth) != len(v):
        raise InputError(f"--truth has {len(truth)} texts but there are {len(v)} vectors: one line per vector, same order")
    if sample is not None and sample < 1:
        raise InputError(f"--sample must be at least 1, got {sample}")
    idx = np.arange(len(v))
    if sample is not None and sample < len(v):
        idx = np.sort(np.random.default_rng(seed).choice(len(v), sample, replace=False))
    targets = v[idx]
    recon: list[str] = []
    start = time.perf_counter()
    for i in tqdm(range(0, len(idx), batch), desc="inverting", unit=" batch", disable=not progress):
        read = [parts[j] if parts is not None and parts[j] is not None else v[j:j + 1] for j in idx[i:i + batch]]
        texts = inverter.invert(np.concatenate(read), steps=steps, beam=beam)
        recon += [" ".join(t) for t in regroup(texts, [len(r) for r in read])]
    seconds = (time.perf_counter() - start) / len(idx)
    cos = metrics.cosines(targets, embedder.embed(recon))
    samples = []
    for i, r, c in zip(idx, recon, cos):
        s = {"index": int(i), "reconstruction": r, "cosine": float(c), "entities_found": _entities(r)}
        if truth is not None:
            t = truth[i]
            want = _entities(t)
            s.update(text=t, token_f1=metrics.token_f1_pair(r, t), entities_in_text=want,
                     leaked=metrics.leaked(r, t))
        samples.append(s)
    report = {"n": len(idx), "of": len(v), "embedder": embedder.name, "inverter": inverter.name,
              "steps": steps, "beam": beam, "cosine": float(np.mean(cos)), "seconds_per_text": seconds}
    if truth is not None:
        refs = [s["text"] for s in samples]
        report.update(bleu=metrics.bleu(recon, refs), token_f1=metrics.token_f1(recon, refs),
                      exact_match=metrics.exact_match(recon, refs))
        for k in KINDS:
            report[f"{k}_recovered"] = metrics.recovery(recon, refs, k)
            report[f"{k}_in_texts"] = sum(len(s["entities_in_text"]["names" if k == "name_parts" else k])
                                          for s in samples)
        report["leak_rules"] = dict(metrics.LEAK_RULES)
        samples.sort(key=lambda s: (-sum(len(x) for x in s["leaked"].values()), -s["token_f1"], s["index"]))
    else:
        for k in metrics.ENTITY_KINDS:
            report[f"{k}_found"] = sum(len(s["entities_found"][k]) for s in samples)
        samples.sort(key=lambda s: (-s["cosine"], s["index"]))
    report["verdict"], report["verdict_text"] = verdict(report)
    report["samples"] = samples
    return report


def store_vectors(store) -> tuple[np.ndarray, list[str] | None, list[np.ndarray | None] | None]:
    """A store's vectors in document order, its texts when it keeps them all (its own truth),
    and its part vectors per row when it keeps any."""
    rows = store.rows()
    if not rows:
        raise InputError(f"{store.path} holds no vectors")
    texts = [h.text for h in rows] if all(h.text is not None for h in rows) else None
    parts = [h.parts for h in rows] if any(h.parts is not None for h in rows) else None
    return np.stack([h.vector for h in rows]), texts, parts
