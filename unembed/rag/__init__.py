"""Lossy RAG: ingest documents as vectors only, retrieve, invert, answer; compare with lossless."""
from .ask import RAG
from .compare import compare
from .ingest import ingest, open_or_create

__all__ = ["RAG", "compare", "ingest", "open_or_create"]
