"""Adapters for the frameworks users already run (optional extras): LangChain, LlamaIndex."""
from __future__ import annotations

from typing import Optional


def open_lossy_rag(path, embedder, preset: Optional[str] = None, steps: Optional[int] = None,
                   beam: Optional[int] = None, encoding: Optional[str] = None):
    """The RAG over the lossy store at `path` that every adapter reads through: created with int8
    rows where it is new, opened in its own encoding where it exists, read back by the shipped
    inverter (or a preset of it)."""
    from ..api import load_inverter
    from ..rag import RAG, open_or_create
    from ..store import store_exists
    if encoding is None:
        encoding = None if store_exists(path) else "int8"
    store = open_or_create(path, embedder, "default", mode="lossy", encoding=encoding)
    return RAG(store, embedder, load_inverter(None, embedder, preset=preset), steps=steps, beam=beam)
