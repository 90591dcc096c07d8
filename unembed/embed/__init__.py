"""text -> vector."""
from .base import Embedder, check_vectors, l2_normalise
from .http import HTTPEmbedder
from .registry import DEFAULT_EMBEDDER, KNOWN, load_embedder
from .sbert import SentenceTransformerEmbedder

__all__ = ["Embedder", "SentenceTransformerEmbedder", "HTTPEmbedder", "load_embedder",
           "DEFAULT_EMBEDDER", "KNOWN", "check_vectors", "l2_normalise"]
