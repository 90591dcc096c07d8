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


def invert_in_blocks(inverter, vectors: np.ndarray, steps: int, beam: int, block: int = 32,
                     progress: bool = True, desc: str = "inverting") -> list[str]:
    """`inverter.invert` on `block` rows at a time with a progress bar: the search's working set
    grows with the rows it holds at once, so a block bounds memory on any number of vectors."""
    from tqdm import tqdm

    texts: list[str] = []
    with tqdm(total=len(vectors), desc=desc, unit=" vec", disable=not progress or len(vectors) <= block) as bar:
        for i in range(0, len(vectors), block):
            texts += inverter.invert(vectors[i:i + block], steps=steps, beam=beam)
            bar.update(min(block, len(vectors) - i))
    return texts
