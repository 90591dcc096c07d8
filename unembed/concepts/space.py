"""Concept arithmetic read back as text: blend, path, analogy.

Inputs are texts, or stored vectors named `id:STORE/ID` (a concept memory or a RAG store, whose
ids `unembed memory show` / `rag info` list). Every output text is re-embedded, so the cosines
reported say how well the words found actually carry the computed vector.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..embed.base import check_vectors
from ..errors import InputError, StoreError
from . import geometry

REF_PREFIX = "id:"


def _stored_vector(ref: str, embedder) -> np.ndarray:
    location, _, item = ref[len(REF_PREFIX):].rpartition("/")
    if not location or not item:
        raise InputError(f"{ref!r}: a stored vector is named id:STORE/ID")
    from .memory import INFO_FILE, ConceptMemory
    if (Path(location) / INFO_FILE).exists():
        memory = ConceptMemory.open(location)
        _check_space(memory.info.dim, memory.info.embedder, embedder, location)
        return memory.get(item).vector
    from ..store import open_store
    try:
        store = open_store(location)
    except StoreError:
        raise StoreError(f"{location}: neither a concept memory nor a RAG store") from None
    _check_space(store.info.dim, store.info.embedder, embedder, location)
    return store.get([item])[0].vector


def _check_space(dim: int, name: str, embedder, location: str) -> None:
    from ..errors import MismatchError
    if dim != embedder.dim:
        raise MismatchError(f"{location} holds {dim}-d vectors, but embedder {embedder.name!r} makes "
                            f"{embedder.dim}-d ones: blend them with --embedder {name}")
    if name != embedder.name:
        raise MismatchError(f"{location} was built with embedder {name!r}, not {embedder.name!r}")


class ConceptSpace:
    """One embedder and one inverter: turn inputs into vectors, combine them, read the result."""

    def __init__(self, embedder, inverter, steps: int, beam: int):
        self.embedder, self.inverter, self.steps, self.beam = embedder, inverter, steps, beam

    def vectors(self, inputs: list[str]) -> np.ndarray:
        if not inputs:
            raise InputError("no inputs: give texts or id:STORE/ID references")
        out = []
        for k, x in enumerate(inputs):
            if not isinstance(x, str) or not x.strip():
                raise InputError(f"input #{k + 1} is empty: a concept needs some text (or an id:STORE/ID)")
            out.append(_stored_vector(x, self.embedder) if x.startswith(REF_PREFIX)
                       else self.embedder.embed([x])[0])
        return check_vectors(np.stack(out), self.embedder.dim, what="inputs")

    def read(self, vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Invert each vector; return the texts and their re-embeddings."""
        texts = self.inverter.invert(vectors, steps=self.steps, beam=self.beam)
        return texts, self.embedder.embed(texts)

    def blend(self, inputs: list[str], weights=None, method: str = "mean") -> dict:
        if len(inputs) < 2:
            raise InputError("blend needs at least two inputs")
        parents = self.vectors(inputs)
        target = geometry.blend(parents, weights, method)
        [text], [back] = self.read(target[None])
        to_parents = parents @ back
        between = parents @ parents.T
        np.fill_diagonal(between, -np.inf)
        nearest = int(np.argmax(parents @ target))
        return {
            "text": text, "cosine_to_blend": float(back @ target),
            "cosine_to_parents": [float(c) for c in to_parents],
            "method": method, "weights": geometry.check_weights(len(parents), weights).tolist(),
            # the baseline: hand back the parent nearest the blend, unchanged
            "nearest_parent": nearest, "nearest_parent_cosine_to_blend": float(parents[nearest] @ target),
            "parents_cosine": float(between.max()),
            "closer_than_parents": bool(to_parents.min() > between.max()),
        }

    def path(self, a: str, b: str, points: int = 5, method: str = "slerp") -> list[dict]:
        va, vb = self.vectors([a, b])
        targets = geometry.interpolate(va, vb, points, method)
        texts, back = self.read(targets)
        return [{"t": float(t), "text": x, "cosine_to_point": float(r @ p), "cosine_to_a": float(r @ va),
                 "cosine_to_b": float(r @ vb)}
                for t, x, r, p in zip(np.linspace(0, 1, points), texts, back, targets)]

    def analogy(self, a: str, b: str, c: str) -> dict:
        vs = self.vectors([a, b, c])
        target = geometry.analogy(*vs)
        [text], [back] = self.read(target[None])
        return {"text": text, "cosine_to_target": float(back @ target),
                "cosine_to_inputs": [float(x) for x in vs @ back]}
