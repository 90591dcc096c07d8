"""unembed: turn text embeddings back into text.

    import unembed
    vecs = unembed.embed(["The cat sat on the mat."])
    texts = unembed.invert(vecs)
"""
from __future__ import annotations

from .errors import InputError, MismatchError, MissingPackageError, StoreError, UnembedError, UnknownModelError

__version__ = "0.1.0"


def embed(texts, embedder: str = "minilm"):
    """Unit-length float32 embeddings, one row per text."""
    from .embed import load_embedder

    return load_embedder(embedder).embed(texts)


def invert(vectors, steps: int | None = None, beam: int | None = None, embedder: str = "minilm",
           inverter: str | None = None) -> list[str]:
    """One reconstruction per row of `vectors` (N×d), with the best inverter shipped for `embedder`."""
    from .embed import load_embedder
    from .invert.registry import resolve_settings

    emb = load_embedder(embedder)
    inv = _cached_inverter(inverter, emb)
    steps, beam = resolve_settings(inv, steps, beam)
    return inv.invert(vectors, steps=steps, beam=beam)


_inverters: dict = {}


def _cached_inverter(spec, emb):
    from .invert.registry import load_inverter

    key = (spec, emb.name)
    if key not in _inverters:
        _inverters[key] = load_inverter(spec, emb)
    return _inverters[key]


__all__ = ["embed", "invert", "UnembedError", "InputError", "UnknownModelError", "MissingPackageError",
           "MismatchError", "StoreError"]
