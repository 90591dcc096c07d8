"""Concept memory: blend, interpolate and consolidate ideas as vectors; read them as text on demand."""
from .geometry import analogy, blend, interpolate, lerp, slerp, spherical_mean
from .memory import ConceptMemory
from .space import ConceptSpace

__all__ = ["ConceptSpace", "ConceptMemory", "blend", "interpolate", "analogy", "lerp", "slerp", "spherical_mean"]
