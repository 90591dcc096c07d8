"""The Inverter interface: unit vectors of one embedder's space -> texts."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Inverter(Protocol):
    name: str
    embedder_name: str  # the space it reads; a vector from another embedder is meaningless to it
    dim: int

    def invert(self, vectors: np.ndarray, steps: int = 0, beam: int = 1) -> list[str]:
        """One text per row. `steps`: rounds of re-embed-and-correct; `beam`: candidates kept."""
        ...
