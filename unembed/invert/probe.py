"""Word probe: rank a vocabulary by how close each word's own embedding is to the target.

A sentence embedding sits near the embeddings of its content words, names and numbers included,
so the nearest single words are a cheap, training-free guess at what the text talks about
(on held-out minilm text the top 64 of 72k words hold about 44 % of its content words). The
search draws proposals from them, which lets it reach words no reference neighbour contains.
"""
from __future__ import annotations

import collections
import hashlib
import re
from typing import Sequence

import numpy as np
from tqdm import tqdm

from ..paths import home

WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]|\d+")


def word_set(text: str) -> set[str]:
    """The text's words, lower-cased: the unit the word probe and the word head are scored in."""
    return {w.lower() for w in WORD.findall(text)}


def build_vocab(texts: Sequence[str], min_count: int = 2, limit: int | None = None) -> list[str]:
    """Words seen at least `min_count` times (case-folded), each in its most common casing;
    with `limit`, only that many of the most frequent."""
    return split_vocab(texts, min_count, limit)[0]


def split_vocab(texts: Sequence[str], min_count: int = 2, limit: int | None = None) -> tuple[list[str], list[str]]:
    """build_vocab's words, and those it leaves out for being seen under `min_count` times, from one count."""
    counts = collections.Counter(w for t in texts for w in WORD.findall(t))
    form: dict[str, str] = {}
    total: collections.Counter = collections.Counter()
    for w, n in counts.items():
        k = w.lower()
        total[k] += n
        if k not in form or n > counts[form[k]]:
            form[k] = w
    rest = [form[k] for k, n in total.items() if n < min_count]
    if limit is not None:
        return [form[k] for k, n in total.most_common(limit) if n >= min_count], rest
    return [form[k] for k, n in total.items() if n >= min_count], rest


def rare_vocab(common: Sequence[str], lexicon: Sequence[str], seen_once: Sequence[str] = ()) -> list[str]:
    """Words of `lexicon`, then `seen_once` (split_vocab's leftovers), that `common` lacks,
    case-folded, each in its first casing: the probe's rare slots."""
    have = {w.lower() for w in common}
    out: dict[str, str] = {}
    for w in list(lexicon) + list(seen_once):
        k = w.lower()
        if k not in have and k not in out and WORD.fullmatch(w):
            out[k] = w
    return list(out.values())


def best_words(scores: np.ndarray, vocab: Sequence[str], m: int) -> list[list[tuple[str, float]]]:
    """Per row of an (n, len(vocab)) score matrix, the m best-scoring words with their scores, best first."""
    m = min(m, scores.shape[1])
    idx = np.argpartition(-scores, m - 1, axis=1)[:, :m]
    out = []
    for row, ids in zip(scores, idx):
        ids = ids[np.argsort(-row[ids])]
        out.append([(vocab[i], float(row[i])) for i in ids])
    return out


class WordProbe:
    """`vocab`: the common words, ranked for the top m. `rare`: a far longer list of rare words
    (dictionary headwords, names seen once), of which only the `rare_count` nearest join each
    answer. Ranked among the common words they crowd them out: on 400 val texts the top 64's
    recall of content words falls 0.444 → 0.398 with 152k rare words mixed in. Beside the 64,
    the 4 nearest raise it to 0.458, where 4 more common words give 0.449 (BBC: 0.271 → 0.281,
    against 0.275). In the search (benchmarks/results/probe_rare_*.json) that is token F1
    0.386 → 0.407 on 60 BBC texts and 0.696 → 0.692 on 80 val texts."""

    def __init__(self, embedder, vocab: Sequence[str], cache: bool = True, batch_size: int = 512,
                 rare: Sequence[str] = (), rare_count: int = 4):
        self.vocab = list(vocab) + list(rare)
        self.common = len(vocab)
        self.rare_count = rare_count if len(rare) else 0
        digest = hashlib.sha1("\n".join(self.vocab).encode()).hexdigest()[:16]
        path = home() / "index" / f"words-{embedder.name.replace('/', '_')}-{embedder.dim}-{len(self.vocab)}-{digest}.npy"
        if cache and path.exists():
            stored = np.load(path)
        else:
            parts = []
            step = batch_size * 8
            for i in tqdm(range(0, len(self.vocab), step), desc="embedding word probe", unit=" batch",
                          disable=len(self.vocab) < step * 2):
                parts.append(embedder.embed(self.vocab[i:i + step], batch_size=batch_size).astype(np.float16))
            stored = np.concatenate(parts)
            if cache:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".partial.npy")
                np.save(tmp, stored)
                tmp.replace(path)
        self.vectors = stored.astype(np.float32)  # cached in float16; numpy's float16 matmul is slow

    @classmethod
    def from_vectors(cls, vocab: Sequence[str], vectors: np.ndarray, common: int, rare_count: int = 4) -> "WordProbe":
        """A probe over words already embedded (a saved inverter's probe stage): the first `common` are ranked."""
        self = cls.__new__(cls)
        self.vocab, self.common = list(vocab), common
        self.rare_count = rare_count if len(self.vocab) > common else 0
        self.vectors = np.asarray(vectors, np.float32)
        return self

    def top(self, targets: np.ndarray, m: int = 64) -> list[list[tuple[str, float]]]:
        """For each unit target, its m nearest common words, then its `rare_count` nearest rare
        words, with their cosines."""
        scores = np.asarray(targets, np.float32) @ self.vectors.T
        out = best_words(scores[:, :self.common], self.vocab[:self.common], m)
        if self.rare_count:
            rare = best_words(scores[:, self.common:], self.vocab[self.common:], self.rare_count)
            out = [a + b for a, b in zip(out, rare)]
        return out
