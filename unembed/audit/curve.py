"""Privacy against utility, per defence and strength, for a plain and an adaptive attacker.

Utility is recall@10: the overlap of each query's top 10 in the defended store with its top 10
in the undefended one. Privacy is what an attacker inverts out of the defended vectors:

- plain: inverts the defended vectors as if they were clean;
- adaptive, public defences (noise, quantisation, PQ): the attacker applies the same defence to
  embeddings of texts of their own and fits a ridge map from defended back to clean vectors,
  keeping it only if it beats no map on a held-out part of their own data; then inverts. They
  need nothing from the victim;
- adaptive, keyed defences: the attacker knows k (text, stored vector) pairs — documents they
  planted or that are public — and fits orthogonal Procrustes or ridge, whichever validates
  better on a fifth of the pairs held out, refitted on all k.
"""
from __future__ import annotations

import numpy as np

from ..embed.base import l2_normalise
from ..invert.align import procrustes_map, ridge_map
from .defences import Defence, KeyedRotation, ProductQuantise, load_defence


def recall_at_k(docs_clean, docs_defended, queries_clean, queries_defended, k: int = 10) -> float:
    k = min(k, len(docs_clean))
    top = lambda q, d: np.argsort(-(q @ d.T), axis=1)[:, :k]
    a, b = top(queries_clean, docs_clean), top(queries_defended, docs_defended)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b)]))


def undo(defended: np.ndarray, w: np.ndarray) -> np.ndarray:
    return l2_normalise(defended @ w)


def _val_cosine(defended, clean, w) -> float:
    return float(np.mean((undo(defended, w) * clean).sum(1)))


def public_attack(defence: Defence, own_clean: np.ndarray, seed: int = 1) -> tuple[np.ndarray, str]:
    """The adaptive attacker's map for a public defence, fitted on vectors of their own."""
    mine = load_defence(defence.spec, seed=seed)
    if isinstance(mine, ProductQuantise):  # the attacker trains their own codebooks
        mine.codebook_from = own_clean
    defended = mine.apply(own_clean)
    cut = int(0.8 * len(own_clean))
    w = ridge_map(defended[:cut], own_clean[:cut])
    identity = np.eye(own_clean.shape[1], dtype=np.float32)
    if _val_cosine(defended[cut:], own_clean[cut:], w) <= _val_cosine(defended[cut:], own_clean[cut:], identity):
        return identity, "none (no map beat the raw vectors)"
    return ridge_map(defended, own_clean), "ridge"


def keyed_attack(defence: KeyedRotation, leaked_clean: np.ndarray) -> tuple[np.ndarray, str]:
    """The map from k leaked (clean, stored) pairs: Procrustes or ridge, chosen on held-out pairs."""
    leaked_defended = defence.apply(leaked_clean)
    fits = {"procrustes": procrustes_map, "ridge": ridge_map}
    if len(leaked_clean) < 5:
        return ridge_map(leaked_defended, leaked_clean), "ridge"
    cut = max(1, int(0.8 * len(leaked_clean)))
    scores = {name: _val_cosine(leaked_defended[cut:], leaked_clean[cut:], fit(leaked_defended[:cut], leaked_clean[:cut]))
              for name, fit in fits.items()}
    name = max(scores, key=scores.get)
    return fits[name](leaked_defended, leaked_clean), name
