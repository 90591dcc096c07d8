"""Nearest neighbour in a reference corpus: what a naive attacker does, and the floor to beat."""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
from tqdm import tqdm

from ..embed.base import check_vectors
from ..errors import InputError
from ..paths import home


def _cache_key(embedder, texts: list[str]) -> str:
    """Names this embedder's view of these texts: caches fitted on them (casing.py) are filed under it too."""
    digest = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:16]
    return f"{embedder.name.replace('/', '_')}-{embedder.dim}-{len(texts)}-{digest}"


class ReferenceIndex:
    """Texts and their embeddings (fp16 on disk, cached by embedder and text hash)."""

    def __init__(self, embedder, texts: Sequence[str], cache: bool = True, batch_size: int = 256):
        texts = list(texts)
        if not texts:
            raise InputError("the reference corpus is empty")
        self.embedder = embedder
        self.texts = texts
        self.cache_key = _cache_key(embedder, texts)
        path = home() / "index" / f"{self.cache_key}.npy"
        if cache and path.exists():
            self.vectors = np.load(path)
        else:
            parts = []
            for i in tqdm(range(0, len(texts), batch_size * 8), desc="embedding reference corpus",
                          unit=" batch", disable=len(texts) < batch_size * 16):
                parts.append(embedder.embed(texts[i:i + batch_size * 8], batch_size=batch_size).astype(np.float16))
            self.vectors = np.concatenate(parts)
            if cache:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".partial.npy")
                np.save(tmp, self.vectors)
                tmp.replace(path)  # atomic: a killed build never leaves a half index behind

    @classmethod
    def from_vectors(cls, embedder, texts, vectors: np.ndarray) -> "ReferenceIndex":
        """An index over texts already embedded (a saved inverter's reference stage): no embedding, no cache."""
        self = cls.__new__(cls)
        self.embedder, self.texts, self.vectors = embedder, list(texts), vectors
        self.cache_key = _cache_key(embedder, self.texts)
        return self

    def search(self, queries: np.ndarray, k: int = 1, chunk: int = 65536,
               rows: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, indices) by cosine for each unit query row. Works on blocks of `rows`
        queries × `chunk` references, so memory stays near rows × chunk × 12 bytes (~400 MB)
        whatever the number of queries."""
        q = np.asarray(queries, dtype=np.float32)
        if len(q) > rows:
            found = [self.search(q[i:i + rows], k, chunk, rows) for i in range(0, len(q), rows)]
            return np.concatenate([s for s, _ in found]), np.concatenate([i for _, i in found])
        k = min(k, len(self.texts))
        best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
        best_i = np.zeros((len(q), 0), dtype=np.int64)
        for start in range(0, len(self.texts), chunk):
            s = q @ self.vectors[start:start + chunk].astype(np.float32).T
            kk = min(k, s.shape[1])
            idx = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
            best_s = np.concatenate([best_s, np.take_along_axis(s, idx, 1)], 1)
            best_i = np.concatenate([best_i, idx + start], 1)
            keep = np.argsort(-best_s, axis=1)[:, :k]
            best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
        return best_s, best_i


class LookupInverter:
    """Returns the reference text whose embedding is closest. Ignores steps and beam."""

    def __init__(self, embedder, reference: Sequence[str] | ReferenceIndex, name: str = "lookup"):
        self.index = reference if isinstance(reference, ReferenceIndex) else ReferenceIndex(embedder, reference)
        self.embedder = embedder
        self.embedder_name = embedder.name
        self.dim = embedder.dim
        self.name = name

    def invert(self, vectors: np.ndarray, steps: int = 0, beam: int = 1) -> list[str]:
        v = check_vectors(vectors, self.dim)
        _, idx = self.index.search(v, k=1)
        return [self.index.texts[i] for i in idx[:, 0]]
