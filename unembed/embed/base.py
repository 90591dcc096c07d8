"""The Embedder interface every pillar meets at."""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import InputError


@runtime_checkable
class Embedder(Protocol):
    """text -> unit vectors. `name` and `dim` identify the space an inverter or store belongs to.

    Optional: `has_draft` and `embed_draft(texts)`, a cheaper approximation of `embed` (int8 or
    bfloat16, `draft_kind`) that the search uses to rank candidates before embedding the best of them exactly."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """float32 array of shape (len(texts), dim), each row L2-normalised."""
        ...


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("expected a list of texts, got a single string; wrap it in a list")
    texts = list(texts)
    if not texts:
        raise InputError("no texts to embed: the list is empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputError(f"text #{i} is {type(t).__name__}, not str")
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"text #{i} is not valid Unicode (a lone surrogate, or bytes that are not UTF-8)") from None
    return texts


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def check_vectors(vectors, dim: int | None = None, what: str = "vectors") -> np.ndarray:
    """Validate a batch of embeddings and return them float32, 2-D and unit length.

    Wrong width, NaN/inf and all-zero rows are errors (they have no direction to invert);
    unnormalised rows are normalised, since every model here works on the unit sphere.
    """
    try:
        raw = np.asarray(vectors)
    except ValueError:  # ragged nested lists
        raise InputError(f"{what}: every row must have the same length") from None
    if raw.dtype.kind not in "fiub":  # strings, objects: say what it is, never echo the content
        raise InputError(f"{what}: expected numbers, got an array of dtype {raw.dtype.name!r}")
    v = raw.astype(np.float32)
    if v.ndim == 1:
        v = v[None, :]
    if v.ndim != 2 or v.shape[0] == 0:
        raise InputError(f"{what}: expected an (N, d) array with N >= 1, got shape {tuple(v.shape)}")
    if dim is not None and v.shape[1] != dim:
        raise InputError(f"{what}: dimension {v.shape[1]} does not match the expected dimension {dim}")
    bad = ~np.isfinite(v).all(axis=1)
    if bad.any():
        raise InputError(f"{what}: rows {np.flatnonzero(bad)[:10].tolist()} contain NaN or inf")
    norms = np.linalg.norm(v, axis=1)
    zero = norms < 1e-12
    if zero.any():
        raise InputError(f"{what}: rows {np.flatnonzero(zero)[:10].tolist()} are all zero and have no direction")
    return v / norms[:, None]
