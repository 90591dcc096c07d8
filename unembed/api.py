"""The public surface: embed, load an inverter, invert (and a vec2text-shaped pair).

    import unembed
    vecs = unembed.embed(["The cat sat on the mat."])
    texts = unembed.invert(vecs)
"""
from __future__ import annotations

_inverters: dict = {}


def embed(texts, embedder: str = "minilm"):
    """Unit-length float32 embeddings, one row per text."""
    from .embed.registry import load_embedder

    return load_embedder(embedder).embed(texts)


def load_inverter(spec: str | None = None, embedder: str = "minilm"):
    """An inverter for `embedder`, by spec (see `unembed invert --help`; None: the best shipped
    one), loaded once per process and reused."""
    from .embed.registry import load_embedder
    from .invert.registry import load_inverter as load

    emb = load_embedder(embedder) if isinstance(embedder, str) else embedder
    key = (spec, emb.name)
    if key not in _inverters:
        _inverters[key] = load(spec, emb)
    return _inverters[key]


def invert(vectors, steps: int | None = None, beam: int | None = None, embedder: str = "minilm",
           inverter=None) -> list[str]:
    """One reconstruction per row of `vectors` (N×d). `inverter`: an inverter object, a spec, or
    None for the best shipped for `embedder`."""
    from .invert.registry import resolve_settings

    inv = inverter if hasattr(inverter, "invert") else load_inverter(inverter, embedder)
    steps, beam = resolve_settings(inv, steps, beam)
    return inv.invert(vectors, steps=steps, beam=beam)


def invert_embeddings(embeddings, inverter=None, num_steps: int | None = None,
                      sequence_beam_width: int | None = None, embedder: str = "minilm") -> list[str]:
    """The same as `invert`, named and shaped as vec2text's, for code arriving from it."""
    return invert(embeddings, steps=num_steps, beam=sequence_beam_width, embedder=embedder, inverter=inverter)
