"""Word head: a trained embedding → bag-of-words model (which words, not their order).

Song & Raghunathan ("Information Leakage in Embedding Models", CCS 2020) showed that a small
classifier reads most of a sentence's words straight out of its embedding. That is the half of
inversion a CPU can learn in minutes: an MLP from the embedder's width to one logit per
vocabulary word, trained on the training split's embeddings to put its softmax mass on the
sentence's words. The search inverter draws its proposals from the predicted words, so it spends
its queries on words the text probably holds instead of on a neighbour's or the word probe's guesses.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..embed.base import check_vectors
from ..errors import UnknownModelError
from .probe import best_words


BAG_THRESHOLD = 0.02  # best bag F1 on the validation split


def save_model_folder(path: Path, model: nn.Module, meta: dict) -> None:
    """A trained part on disk (the word head, the bag decoder): weights.pt, the fp16 state dict,
    and config.json, whose "kind" names the part."""
    path.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().half().cpu() for k, v in model.state_dict().items()}, path / "weights.pt")
    (path / "config.json").write_text(json.dumps(meta, indent=2))


def read_model_folder(path: Path, kind: str, what: str, files: tuple[str, ...] = ()) -> tuple[dict, dict, list[str]]:
    """(config.json, fp32 state dict, the texts of `files`) of a folder save_model_folder wrote for
    `kind`; any other folder is an UnknownModelError naming `what` was expected."""
    try:
        meta = json.loads((path / "config.json").read_text())
        if meta.get("kind") != kind:
            raise ValueError(f"config.json does not say kind: {kind}")
        texts = [(path / f).read_text(encoding="utf-8") for f in files]
        state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise UnknownModelError(f"{path} is not a {what} folder ({e.__class__.__name__}: {e})") from None
    return meta, {k: v.float() for k, v in state.items()}, texts


@dataclass
class WordHeadConfig:
    dim: int  # the embedder's width: read from the embedder, never assumed
    vocab_size: int
    hidden: int = 1024
    bottleneck: int = 512  # the output layer (bottleneck × vocab) holds most of the weights
    dropout: float = 0.1


class WordHead(nn.Module):
    def __init__(self, config: WordHeadConfig):
        super().__init__()
        c = self.config = config
        self.net = nn.Sequential(
            nn.Linear(c.dim, c.hidden), nn.GELU(), nn.LayerNorm(c.hidden), nn.Dropout(c.dropout),
            nn.Linear(c.hidden, c.bottleneck), nn.GELU(), nn.LayerNorm(c.bottleneck), nn.Dropout(c.dropout),
            nn.Linear(c.bottleneck, c.vocab_size),
        )

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """Unit vectors (n, dim) → one logit per vocabulary word (n, vocab_size)."""
        return self.net(vectors * self.config.dim ** 0.5)  # unit rows have entries ~1/√dim: lift them to ~1


class WordPredictor:
    """A trained word head with its vocabulary, loaded from a folder written by `unembed train`:
    config.json (model config, embedder, metrics) + vocab.txt + weights.pt (fp16 state dict)."""

    def __init__(self, model: WordHead, vocab: list[str], embedder_name: str, path: Path | None = None):
        self.model = model.eval()
        self.vocab = vocab
        self.embedder_name = embedder_name
        self.dim = model.config.dim
        self.path = path

    @classmethod
    def load(cls, path: str | Path) -> "WordPredictor":
        path = Path(path)
        meta, state, (vocab_text,) = read_model_folder(path, "word-head", "word head", ("vocab.txt",))
        vocab = vocab_text.split("\n")
        model = WordHead(WordHeadConfig(**meta["model"]))
        model.load_state_dict(state)
        if len(vocab) != model.config.vocab_size:
            raise UnknownModelError(f"{path}: vocab.txt has {len(vocab)} words, the model {model.config.vocab_size}")
        return cls(model, vocab, meta["embedder"]["name"], path)

    def save(self, path: str | Path, extra: dict | None = None) -> None:
        path = Path(path)
        meta = {"kind": "word-head", "embedder": {"name": self.embedder_name, "dim": self.dim},
                "model": asdict(self.model.config)}
        save_model_folder(path, self.model, meta | (extra or {}))
        (path / "vocab.txt").write_text("\n".join(self.vocab), encoding="utf-8")

    @torch.no_grad()
    def probabilities(self, vectors: np.ndarray, batch: int = 1024) -> np.ndarray:
        """(n, vocab) softmax: how the head spreads each vector over the vocabulary (rows sum to 1)."""
        v = check_vectors(vectors, self.dim)
        out = [torch.softmax(self.model(torch.from_numpy(v[i:i + batch])), -1).numpy() for i in range(0, len(v), batch)]
        return np.concatenate(out) if out else np.zeros((0, len(self.vocab)), np.float32)

    def top(self, vectors: np.ndarray, m: int = 64) -> list[list[tuple[str, float]]]:
        """For each vector, its m most probable words with their probabilities, best first
        (the same shape as WordProbe.top, so the search takes either)."""
        return best_words(self.probabilities(vectors), self.vocab, m)

    def bags(self, vectors: np.ndarray, threshold: float = BAG_THRESHOLD) -> list[set[str]]:
        """The predicted word set of each vector (lower-cased): the words whose share of the
        softmax is at least `threshold`."""
        p = self.probabilities(vectors)
        return [{self.vocab[i].lower() for i in np.flatnonzero(row >= threshold)} for row in p]
