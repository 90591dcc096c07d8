"""Reconstruction metrics, reported the way the vec2text paper reports them.

Every function takes reconstructions (hypotheses) and originals (references) in the same order.
Text comparisons are case-sensitive, on whitespace-normalised strings; words are split with
sacrebleu's 13a tokenizer so BLEU and token F1 see the same tokens.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

import numpy as np
import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

_tok13a = Tokenizer13a()


def normalise(text: str) -> str:
    """Strip and collapse runs of whitespace: the only normalisation any metric applies."""
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """13a tokens (punctuation split off), the unit of BLEU and token F1."""
    return _tok13a(normalise(text)).split()


def _check(hyps: Sequence[str], refs: Sequence[str]) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} reconstructions for {len(refs)} originals")
    if not refs:
        raise ValueError("no texts to score")


def bleu(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu defaults: 13a, exp smoothing, 4-grams), 0-100."""
    _check(hyps, refs)
    score = sacrebleu.corpus_bleu([normalise(h) for h in hyps], [[normalise(r) for r in refs]]).score
    return float(min(100.0, score))  # sacrebleu's float arithmetic can land a hair above 100


def token_f1_pair(hyp: str, ref: str) -> float:
    """F1 of the multiset of words: 2·|h∩r| / (|h|+|r|). Two empty texts score 1."""
    h, r = Counter(words(hyp)), Counter(words(ref))
    nh, nr = sum(h.values()), sum(r.values())
    if nh == 0 and nr == 0:
        return 1.0
    overlap = sum((h & r).values())
    return 2.0 * overlap / (nh + nr)


def token_f1(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Mean per-text token F1, 0-1."""
    _check(hyps, refs)
    return float(np.mean([token_f1_pair(h, r) for h, r in zip(hyps, refs)]))


def exact_match(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Share of reconstructions identical to their original after whitespace normalisation, 0-1."""
    _check(hyps, refs)
    return float(np.mean([normalise(h) == normalise(r) for h, r in zip(hyps, refs)]))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (N, d) arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return num / np.maximum(den, 1e-12)


def cosine(targets: np.ndarray, reembedded: np.ndarray) -> float:
    """Mean cosine between target embeddings and the embeddings of their reconstructions."""
    return float(cosines(targets, reembedded).mean())


# --- entities: what an attacker most wants back ---------------------------------------------

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(r"(?<!\w)(?:\+?\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{3,4}[ .-]\d{3,4}(?:[ .-]\d{2,4})?(?!\w)")
NUMBER_RE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
NAME_RE = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*\b")
# capitalised words that are not names when they start a sentence or stand alone
_NOT_NAMES = set("""A An The This That These Those It Its He She They We I You His Her Their Our My Your
In On At Of For From To By With As And But Or If When While After Before Since Because Although
There Here What Which Who Whom Whose Why How Where Mr Mrs Ms Dr Monday Tuesday Wednesday Thursday
Friday Saturday Sunday January February March April May June July August September October
November December Yes No Not All Some Any Each Every One Two Three Also So Then Now Than""".split())


ENTITY_KINDS = ("names", "emails", "phones", "numbers")


def entities(text: str) -> dict[str, set[str]]:
    """Emails, phone numbers, other numbers and likely person/place names found in a text.

    Names are capitalised word runs, minus common function words; a heuristic, stated as one.
    """
    emails = set(EMAIL_RE.findall(text))
    rest = EMAIL_RE.sub(" ", text)
    phones = {normalise(p) for p in PHONE_RE.findall(rest)}
    rest = PHONE_RE.sub(" ", rest)
    numbers = set(NUMBER_RE.findall(rest))
    names = set()
    for m in NAME_RE.findall(rest):
        parts = [w for w in m.split() if w not in _NOT_NAMES]
        if parts:
            names.add(" ".join(parts))
    return {"names": names, "emails": emails, "phones": phones, "numbers": numbers}


# How a reconstruction counts as leaking an entity of the original: as an attacker reads it, not as
# a byte-exact copy. Embedders like minilm are blind to case and barely see word order, so a name
# read back as "tamsin" or "Watson ... Emily" has leaked all the same.
LEAK_RULES = {
    "names": "every word of the name appears in the reconstruction as a word, in any order and any case",
    "name_parts": "at least one word of the name (a surname alone, say) appears as a word, any case",
    "emails": "the address appears in the reconstruction, any case",
    "phones": "the number's digits appear as one run once spaces, dots, dashes, brackets and + are dropped",
    "numbers": "the number appears as a whole number token (thousands separators ignored)",
}
LEAK_KINDS = tuple(LEAK_RULES)


def _name_words(name: str) -> list[str]:
    return [w.lower() for w in re.split(r"[ -]+", name) if w]


def _found(kind: str, entity: str, hyp_words: set[str], hyp: str) -> bool:
    if kind == "names":
        return all(w in hyp_words for w in _name_words(entity))
    if kind == "name_parts":
        return any(w in hyp_words for w in _name_words(entity))
    if kind == "emails":
        return entity.lower() in hyp.lower()
    if kind == "phones":
        digits = re.sub(r"\D", "", entity)
        return bool(digits) and digits in re.sub(r"[\s.()+-]", "", hyp)
    if kind == "numbers":
        return entity.replace(",", "") in {n.replace(",", "") for n in NUMBER_RE.findall(hyp)}
    raise ValueError(f"unknown entity kind {kind!r}; known: {', '.join(LEAK_KINDS)}")


def leaked(hyp: str, ref: str) -> dict[str, list[str]]:
    """Per kind of LEAK_RULES, the entities of the original `ref` that the reconstruction `hyp`
    gives away by that kind's rule (`name_parts` lists names of which some word came back)."""
    want = entities(ref)
    hyp_words = {w.lower() for w in re.findall(r"[\w']+", hyp)}
    return {k: sorted(e for e in want["names" if k == "name_parts" else k] if _found(k, e, hyp_words, hyp))
            for k in LEAK_KINDS}


def recovery(hyps: Sequence[str], refs: Sequence[str], kind: str) -> float | None:
    """Share of the `kind` entities of the originals that their reconstructions give away, by the
    rule LEAK_RULES[kind] states. None when the originals hold none (a rate of nothing is not zero)."""
    _check(hyps, refs)
    total = sum(len(entities(r)["names" if kind == "name_parts" else kind]) for r in refs)
    found = sum(len(leaked(h, r)[kind]) for h, r in zip(hyps, refs))
    return found / total if total else None


READABILITY = ("mean negative log-likelihood per token (nats) under Gemma-3-270M base, float32, <bos> given, "
               "averaged over texts; nll_ratio = reconstructions' mean / references' mean (1.0: as readable as "
               "the originals)")


def readability(hyps: Sequence[str], refs: Sequence[str], nll) -> dict:
    """`nll(texts) -> per-text NLL`: the reconstructions', the references' and their ratio."""
    _check(hyps, refs)
    h, r = float(np.mean(nll(list(hyps)))), float(np.mean(nll(list(refs))))
    return {"nll": h, "nll_reference": r, "nll_ratio": h / r, "readability": READABILITY}


def score(hyps: Sequence[str], refs: Sequence[str], targets: np.ndarray | None = None,
          reembedded: np.ndarray | None = None) -> dict:
    """All headline metrics in one dict (cosine only when both embeddings are given)."""
    out = {"bleu": bleu(hyps, refs), "token_f1": token_f1(hyps, refs), "exact_match": exact_match(hyps, refs)}
    if targets is not None and reembedded is not None:
        out["cosine"] = cosine(targets, reembedded)
    for kind in LEAK_KINDS:
        out[f"{kind}_recovered"] = recovery(hyps, refs, kind)
    return out
