"""The public surface: embed, load an inverter, invert (and a vec2text-shaped pair).

    import unembed
    vecs = unembed.embed(["The cat sat on the mat."])
    inv = unembed.load_inverter("minilm")            # the shipped inverter; or a folder; preset="fast"
    results = unembed.invert(vecs, inverter=inv)     # [Inversion]: a str with .cosine, .trace, .queries
"""
from __future__ import annotations

import os
import threading

from .errors import InputError

_inverters: dict = {}
_lock = threading.Lock()


def embed(texts, embedder: str = "minilm"):
    """Unit-length float32 embeddings, one row per text."""
    from .embed.registry import load_embedder

    return load_embedder(embedder).embed(texts)


def _embedder_of(spec: str | None, embedder) -> str:
    """The embedder an inverter spec reads: given, or an inverter folder's own, or minilm."""
    if embedder is not None:
        return embedder
    from .invert.inverter import read_meta
    meta = read_meta(spec) if spec else None
    # an unreadable folder falls through: Inverter.load names the problem
    return (meta or {}).get("config", {}).get("embedder", "minilm")


def _spec_and_embedder(name_or_path: str | None, embedder):
    """(the inverter spec to load, the embedder it reads): an embedder's name means its shipped inverter."""
    from .embed.registry import KNOWN
    spec = name_or_path
    if spec in KNOWN and not os.path.isdir(spec):
        embedder, spec = embedder or spec, None
    return spec, _embedder_of(spec, embedder)


def inverter_dim(name_or_path: str | None = None, embedder: str | None = None) -> int:
    """The width of the vectors an inverter reads, without loading the inverter (only its embedder)."""
    from .embed.registry import load_embedder
    emb = _spec_and_embedder(name_or_path, embedder)[1]
    return (load_embedder(emb) if isinstance(emb, str) else emb).dim


def load_inverter(name_or_path: str | None = None, embedder: str | None = None, preset: str | None = None):
    """An inverter, loaded once per process and reused.

    `name_or_path`: None or an embedder's name ("minilm") for the inverter shipped for it, a preset of it
    ("fast", "readable"), a saved inverter folder, or a research spec (see `unembed invert --help`).
    `preset`: "default", "fast" or "readable", applied to the shipped inverter or a folder."""
    from .embed.registry import load_embedder
    from .invert.registry import load_inverter as load

    spec, emb_name = _spec_and_embedder(name_or_path, embedder)
    emb = load_embedder(emb_name) if isinstance(emb_name, str) else emb_name
    # saved folders are cached (they cannot change under us); the corpus recipes read the current corpus each time
    from .invert.inverter import PRESETS
    if not (spec is None or spec in PRESETS or spec == "search" or os.path.isdir(spec)):
        return load(spec, emb, preset=preset)
    key = (os.path.abspath(spec) if spec and os.path.isdir(spec) else spec, emb.name, id(emb), preset,
           os.environ.get("UNEMBED_MODELS"))
    with _lock:
        if key not in _inverters:
            _inverters[key] = load(spec, emb, preset=preset)
        return _inverters[key]


def invert(vectors, inverter=None, steps: int | None = None, beam: int | None = None, embedder: str | None = None,
           hints=None) -> list:
    """One reconstruction per row of `vectors` (N×d): `Inversion`s (str with .cosine, .trace, .queries)
    from the shipped inverter, or `inverter` (an inverter object, a name, a folder or a spec)."""
    from .invert.registry import resolve_settings

    inv = inverter if hasattr(inverter, "invert") else load_inverter(inverter, embedder)
    steps, beam = resolve_settings(inv, steps, beam)
    if hints is not None:
        if not getattr(inv, "accepts_hints", False):
            raise InputError(f"inverter {inv.name} takes no hints")
        return inv.invert(vectors, steps=steps, beam=beam, hints=hints)
    return inv.invert(vectors, steps=steps, beam=beam)


def invert_embeddings(embeddings, inverter=None, num_steps: int | None = None,
                      sequence_beam_width: int | None = None, embedder: str | None = None) -> list:
    """The same as `invert`, named and shaped as vec2text's, for code arriving from it."""
    return invert(embeddings, inverter=inverter, steps=num_steps, beam=sequence_beam_width, embedder=embedder)
