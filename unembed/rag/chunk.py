"""Documents -> sentence-sized chunks that fit the inverter's trained length.

Inversion quality falls fast with length, so a chunk is one sentence; a sentence over the
token limit is cut at word boundaries into near-equal pieces, and fragments of fewer than four
words (headings, list stubs) ride along with the next sentence when it fits.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..data.corpus import MAX_TOKENS
from ..data.sources import split_sentences
from ..errors import InputError
from ..invert.variants import QUANTITIES

SUFFIXES = (".txt", ".md", ".markdown")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARK = re.compile(r"^\s{0,3}(#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s?)|[*_`]{1,3}")


@dataclass
class Piece:
    text: str
    position: int  # character offset of the paragraph it came from


def clean_markdown(text: str) -> str:
    lines = []
    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            lines.append("")
            continue
        if in_code:
            lines.append("")
            continue
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_MARK.sub("", line)
        # a heading or list item ends a sentence even without a full stop
        lines.append(line.rstrip() + ("." if line.strip() and not re.search(r"[.!?:;]$", line.strip()) else ""))
    return "\n".join(lines)


def _split_long(sentence: str, count: Callable[[str], int], max_tokens: int) -> list[str]:
    if count(sentence) <= max_tokens:
        return [sentence]
    words = sentence.split()
    parts = 2
    while True:
        size = -(-len(words) // parts)
        pieces = [" ".join(words[i:i + size]) for i in range(0, len(words), size)]
        if all(count(p) <= max_tokens for p in pieces) or size <= 1:
            return pieces
        parts += 1


# a shorter run carries too little for its vector to come back as words: on 30 val texts of 14-30 words,
# up to 4 runs of at least 4 words read back at BLEU 35.2, token F1 0.741, against 26.5, 0.709 for up to
# 3 runs of at least 6, and 34.4, 0.735 for 5 of 4 (benchmarks/results/archive/invert_parts_val.json)
PART_MIN_WORDS = 4


# a cut right after these leaves a word whose phrase continues in the next run ("the | Bay of Fundy",
# "six | weeks"): articles, prepositions, conjunctions, possessives, and the search's quantity words
_LEADS_ON = set("a an the no not of in on at to for by with from into and or but as than his her its their our my your".split()
                ) | set(QUANTITIES)


def _cut_cost(words: list[str], j: int) -> float:
    """How badly a cut before words[j] splits a phrase: none after a clause mark; most inside a name
    ("Edwin | Hubble"), which read back from two vectors loses its whole; some after a number, an article or a preposition."""
    before, after = words[j - 1], words[j]
    if before[-1] in ",;:.!?)":
        return 0.0
    core = before.strip("\"'(").lower()
    cost = 1.0
    if before[:1].isupper() and after[:1].isupper():
        cost += 3
    if core in _LEADS_ON or core.replace(",", "").replace(".", "").isdigit():
        cost += 2
    return cost


def split_words(text: str, parts: int, min_words: int = 1, reach: int = 2) -> list[str]:
    """`text` cut into `parts` runs of whole words, near even, but fewer where a run would have under
    `min_words` words: the pieces a chunk's part vectors are read from (shorter texts invert better;
    benchmarks/invert_parts.py). Each cut may move up to `reach` words from even to avoid splitting
    a phrase (`_cut_cost`): an answer cut in two is read back from two vectors and seldom survives."""
    words = text.split()
    parts = min(parts, max(1, len(words) // max(1, min_words)))
    cuts = [0]
    for i in range(1, parts):
        even = round(i * len(words) / parts)
        first, last = cuts[-1] + min_words, len(words) - (parts - i) * min_words  # room for every run
        lo, hi = max(first, even - reach), min(last, even + reach)
        if lo > hi:
            cuts.append(min(max(even, first), last))
            continue
        cuts.append(min(range(lo, hi + 1), key=lambda j: (_cut_cost(words, j) + 0.5 * abs(j - even), abs(j - even))))
    cuts.append(len(words))
    return [" ".join(words[a:b]) for a, b in zip(cuts, cuts[1:]) if b > a]


def chunk_text(text: str, count: Callable[[str], int], max_tokens: int = MAX_TOKENS, markdown: bool = False) -> list[Piece]:
    if markdown:
        text = clean_markdown(text)
    out: list[Piece] = []
    carry = ""
    for m in re.finditer(r"\S(?:.|\n(?!\s*\n))*", text):  # paragraphs: runs without blank lines
        for sentence in split_sentences(m.group(0)):
            for piece in _split_long(sentence, count, max_tokens):
                joined = f"{carry} {piece}".strip()
                if carry and count(joined) <= max_tokens:
                    piece = joined
                elif carry:
                    out.append(Piece(carry, m.start()))
                carry = ""
                if len(piece.split()) < 4:
                    carry = piece
                else:
                    out.append(Piece(piece, m.start()))
    if carry:
        out.append(Piece(carry, len(text)))
    return out


def find_files(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        elif p.is_file():
            if p.suffix.lower() not in SUFFIXES:
                raise InputError(f"{p}: only .txt and .md files can be ingested")
            files.append(p)
        else:
            raise InputError(f"{p}: no such file or directory")
    if not files:
        raise InputError("no .txt or .md files found in " + ", ".join(map(str, paths)))
    return files


def is_text(data: bytes) -> bool:
    """UTF-8 text with no NUL byte: what ingest reads; anything else (a binary, another encoding) it skips."""
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
