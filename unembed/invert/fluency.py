"""Word order from a language prior: the search finds which words, this puts them in a likely order.

Embedders are nearly blind to word order, so the search inverter returns the right words in a
scrambled order: high cosine, low BLEU. A trigram model of the training split (stupid backoff,
Brants et al. 2007: cheap, unnormalised, fine for ranking) scores reorderings of the result; the
polisher keeps the most likely one whose re-embedding stays within `tolerance` of the search's
cosine, so fluency is bought without giving back fidelity to the vector.
"""
from __future__ import annotations

import hashlib
import math
import pickle
from collections import Counter

import numpy as np

from ..paths import home

BOS, EOS = "<s>", "</s>"


class TrigramLM:
    """Counts of 1-, 2- and 3-grams of lower-cased whitespace tokens; `score` is a log10 stupid-backoff sum."""

    def __init__(self, counts: list[Counter], total: int, backoff: float = 0.4):
        self.c1, self.c2, self.c3 = counts
        self.total, self.log_backoff = total, math.log10(backoff)

    @classmethod
    def train(cls, texts, min_count: int = 2) -> "TrigramLM":
        c1, c2, c3 = Counter(), Counter(), Counter()
        for t in texts:
            w = [BOS, BOS] + t.lower().split() + [EOS]
            c1.update(w[2:])
            c2.update(zip(w[1:], w[2:]))
            c3.update(zip(w, w[1:], w[2:]))
        c1[BOS] = len(texts)  # context count of the sentence start
        c2[(BOS, BOS)] = len(texts)
        keep = lambda c: Counter({k: v for k, v in c.items() if v >= min_count})  # noqa: E731
        return cls([c1, keep(c2), keep(c3)], sum(c1.values()))

    @classmethod
    def for_texts(cls, texts) -> "TrigramLM":
        """The model of `texts`, trained once (~10 s for 200k sentences) and cached by their hash."""
        texts = list(texts)
        digest = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:16]
        cache = home() / "index" / f"trigram-{len(texts)}-{digest}.pkl"
        if cache.exists():
            with cache.open("rb") as f:  # our own cache directory, written only below
                return pickle.load(f)
        lm = cls.train(texts)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".partial")
        with tmp.open("wb") as f:
            pickle.dump(lm, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(cache)
        return lm

    def _word(self, a: str, b: str, c: str) -> float:
        n3 = self.c3.get((a, b, c))
        if n3:
            return math.log10(n3 / self.c2[(a, b)])
        n2 = self.c2.get((b, c))
        if n2:
            return self.log_backoff + math.log10(n2 / self.c1[b])
        return 2 * self.log_backoff + math.log10((self.c1.get(c, 0) + 0.5) / self.total)

    def arrange(self, words: list[str], width: int = 16) -> list[str]:
        """A likely order for a bag of words: a left-to-right beam search over which word comes next."""
        beams = [(0.0, (), tuple(words))]
        for _ in words:
            grown = {}
            for s, done, left in beams:
                w = [BOS, BOS] + [x.lower() for x in done]
                for j, x in enumerate(left):
                    rest = left[:j] + left[j + 1:]
                    key = (w[-1], x.lower(), tuple(sorted(rest)))  # same context and words left: keep the better
                    score = s + self._word(w[-2], w[-1], x.lower())
                    if key not in grown or grown[key][0] < score:
                        grown[key] = (score, done + (x,), rest)
            beams = sorted(grown.values(), key=lambda b: -b[0])[:width]

        def with_end(beam) -> float:
            ctx = [BOS, BOS] + [x.lower() for x in beam[1]]
            return beam[0] + self._word(ctx[-2], ctx[-1], EOS)
        return list(max(beams, key=with_end)[1])

    def score(self, words: list[str]) -> float:
        w = [BOS, BOS] + [x.lower() for x in words] + [EOS]
        return sum(self._word(w[i - 2], w[i - 1], w[i]) for i in range(2, len(w)))


def reorderings(words: tuple[str, ...], reach: int = 4) -> set[tuple[str, ...]]:
    """Every way to move one word, or one adjacent pair, up to `reach` places."""
    n, out = len(words), set()
    for size in (1, 2):
        for i in range(n - size + 1):
            piece, rest = words[i:i + size], words[:i] + words[i + size:]
            for j in range(max(0, i - reach), min(len(rest), i + reach) + 1):
                if j != i:
                    out.add(rest[:j] + piece + rest[j:])
    out.discard(words)
    return out


class FluencyPolisher:
    """Reorders each text (moves of a word or a word pair) towards the trigram model's preference,
    accepting a move only if the re-embedding keeps its cosine to the target within `tolerance`
    of the unpolished text's. Measured in benchmarks/fluency.py: tolerance 0 is the best trade."""

    def __init__(self, embedder, lm: TrigramLM, tolerance: float = 0.0, rounds: int = 6, tries: int = 32):
        self.embedder, self.lm = embedder, lm
        self.tolerance, self.rounds, self.tries = tolerance, rounds, tries

    def polish(self, texts: list[str], targets: np.ndarray) -> tuple[list[str], list[float]]:
        """The reordered texts and each one's cosine to its target."""
        out, cosines = [], []
        start = (self.embedder.embed(texts) * targets).sum(1) if texts else []
        for text, target, cos0 in zip(texts, targets, start):
            best, best_cos = tuple(text.split()), float(cos0)
            floor = best_cos - self.tolerance
            best_lm = self.lm.score(list(best))
            for _ in range(self.rounds):
                cands = sorted(((self.lm.score(list(c)), c) for c in reorderings(best)), reverse=True)
                cands = [(s, c) for s, c in cands[:self.tries] if s > best_lm]
                if not cands:
                    break
                cos = self.embedder.embed([" ".join(c) for _, c in cands]) @ target
                ok = [(s, c, float(k)) for (s, c), k in zip(cands, cos) if k >= floor]
                if not ok:
                    break
                best_lm, best, best_cos = ok[0]
            out.append(" ".join(best))
            cosines.append(best_cos)
        return out, cosines
