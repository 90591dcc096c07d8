"""The memory map: concepts projected to 2-D, before and after a consolidation, labelled by inversion."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MissingPackageError


def project(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA to two axes: returns the mean and the 2×d projection, fitted on `vectors`."""
    centre = vectors.mean(0)
    x = vectors - centre
    if len(vectors) < 2:
        return centre, np.eye(2, vectors.shape[1], dtype=np.float32)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:2] if len(vt) >= 2 else np.vstack([vt, np.zeros_like(vt)])
    return centre, axes


def to_label(before, after, clusters: list[dict], n: int) -> list:
    """The concepts worth a label, at most n per panel: those a consolidation touches, then the
    heaviest. Deduplicated by (id, count), which names one vector: a concept keeps its id when it
    absorbs others but gains items."""
    touched = {x["id"] for x in clusters} | {a for x in clusters for a in x["absorbed"]}
    rank = lambda cs: sorted(cs, key=lambda c: (c.id not in touched, -c.count, c.id))[:n]
    return list({(c.id, c.count): c for c in rank(before) + rank(after)}.values())


def _short(text: str, width: int = 38) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def memory_map(before, after, labels: dict[tuple[str, int], str], out: Path, threshold: float,
               merged: set[str]) -> Path:
    """Two panels sharing axes; point area grows with how many items a concept stands for.

    `before`/`after` are lists of Concept; `labels` maps (concept id, count) -> inverted text
    (a panel labels only the concepts it has one for); `merged` holds the ids of the
    concepts that absorbed others."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingPackageError("the memory map needs matplotlib: pip install matplotlib") from None
    vb = np.stack([c.vector for c in before])
    centre, axes = project(vb)
    fig, panels = plt.subplots(1, 2, figsize=(15, 7), sharex=True, sharey=True)
    after_ids = {c.id for c in after}
    for ax, concepts, title in ((panels[0], before, f"before: {len(before)} concepts"),
                                (panels[1], after, f"after consolidation at cosine ≥ {threshold:g}: "
                                                   f"{len(after)} concepts")):
        xy = (np.stack([c.vector for c in concepts]) - centre) @ axes.T
        counts = np.array([c.count for c in concepts])
        if concepts is before:  # grey: the concepts that consolidation would absorb
            colours = ["tab:blue" if c.id in after_ids else "0.6" for c in concepts]
        else:
            colours = ["tab:red" if c.id in merged else "tab:blue" for c in concepts]
        ax.scatter(xy[:, 0], xy[:, 1], s=30 + 25 * np.sqrt(counts), c=colours, alpha=0.7, edgecolors="white")
        for c, (x, y) in zip(concepts, xy):
            if (c.id, c.count) in labels:
                ax.annotate(_short(labels[c.id, c.count]) + (f" ×{c.count}" if c.count > 1 else ""), (x, y),
                            xytext=(4, 4), textcoords="offset points", fontsize=7)
        ax.margins(x=0.35, y=0.1)  # room for labels at the edges
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("principal axis 1")
        ax.grid(alpha=0.2)
    panels[0].set_ylabel("principal axis 2")
    fig.suptitle("Concept memory: 2-D PCA of the unit vectors; labels are inversions, not stored text\n"
                 "grey: absorbed by consolidation · red: a merged concept · area: items it stands for", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
