"""Question -> retrieve -> (invert the lossy chunks) -> answer with a language model."""
from __future__ import annotations

import time
from typing import Optional, Sequence

from ..errors import InputError
from ..invert.registry import resolve_settings

PROMPT_HEAD = (
    "Answer each question with a short phrase taken from the context.\n\n"
    "Context: The capital of France is Paris. It lies on the river Seine.\n"
    "Question: What is the capital of France?\n"
    "Answer: Paris\n\n"
)


def build_prompt(question: str, contexts: Sequence[str]) -> str:
    return PROMPT_HEAD + "Context: " + " ".join(c.strip() for c in contexts) + f"\nQuestion: {question}\nAnswer:"


QUESTION_WORDS = frozenset("what which who whom whose when where why how do does did can could should would will".split())


def question_words(question: str) -> list[str]:
    """The question's content words, in its casing: hints for reading back the chunks retrieved for
    it, which were retrieved for sharing its meaning and often share its names and terms."""
    from ..invert.search import FUNCTION_WORDS
    from ..invert.variants import unwrapped
    out = []
    for token in question.split():
        w = unwrapped(token)
        if w.endswith(("'s", "’s")):
            w = w[:-2]
        if w and w.lower() not in QUESTION_WORDS and w.lower() not in FUNCTION_WORDS:
            out.append(w)
    return list(dict.fromkeys(out))


def read_questions(path) -> list[str]:
    """One question per line, or a TSV whose first column is the question."""
    from pathlib import Path
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such questions file")
    qs = [ln.split("\t")[0].strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    qs = [q for q in qs if q and not q.startswith("#")]
    if not qs:
        raise InputError(f"{p}: no questions in the file")
    return qs


class RAG:
    """Reads a store the way it was built: the store's embedder, and for lossy rows its inverter."""

    def __init__(self, store, embedder, inverter=None, generator=None, steps: Optional[int] = None,
                 beam: Optional[int] = None, hints: bool = False):
        store.info.check(embedder=embedder.name, dim=embedder.dim)
        if inverter is not None:
            store.info.check(inverter=inverter.name)
        self.store, self.embedder, self.inverter, self.generator = store, embedder, inverter, generator
        self._asked = (steps, beam)  # resolved against the inverter's defaults once it is loaded
        self.steps, self.beam = resolve_settings(inverter, steps, beam) if inverter is not None else (steps, beam)
        self.defence = None
        if store.info.defence:  # keyed defences need the key to query and to read back
            from ..audit.defences import load_defence
            self.defence = load_defence(store.info.defence, seed=0)
        # per inverted chunk (and question, with hints): per process only, reconstructions never reach disk
        self._reconstructed: dict[tuple, str] = {}
        self.invert_seconds: dict[tuple, float] = {}
        # the question's words are offered to an inverter that takes hints (the search), so each
        # chunk is read back once per question that retrieves it. Off by default: on a held-out QA set
        # they moved answer-in-context by one question in 80 (benchmarks/results/archive/rag_compare_b_hints.json)
        self.hints = hints
        self._takes_hints: Optional[bool] = None  # whether the inverter's invert() has a `hints` argument

    def _inverter(self):
        if self.inverter is None:
            from ..api import load_inverter
            self.inverter = load_inverter(self.store.info.inverter, self.embedder)
            self.steps, self.beam = resolve_settings(self.inverter, *self._asked)
        if self._takes_hints is None:
            self._takes_hints = bool(getattr(self.inverter, "accepts_hints", False))
        return self.inverter

    def _hints(self, hits, question: Optional[str]) -> tuple:
        """The words offered to the read-back of these hits for `question`: also the key its result is kept by."""
        if not (self.hints and question and any(h.text is None for h in hits)):
            return ()
        self._inverter()
        return tuple(question_words(question)) if self._takes_hints else ()

    def read_back_seconds(self, hits, question: Optional[str] = None) -> float:
        """Seconds that reading back these hits' chunks for `question` took (0 for stored text), whether
        this question's `contexts` call read them or an earlier one did: what the question costs alone."""
        hints = self._hints(hits, question)
        return sum(self.invert_seconds.get((h.id, hints), 0.0) for h in hits)

    def contexts(self, hits, question: Optional[str] = None) -> list[dict]:
        """The hits' texts: stored, or read back from their vectors (with `question`'s words as hints)."""
        hints = self._hints(hits, question)
        todo = [h for h in hits if h.text is None and (h.id, hints) not in self._reconstructed]
        if todo:
            inv = self._inverter()
            for h in todo:  # one at a time so each chunk's cost is known (compare reports it)
                t = time.perf_counter()
                # a chunk's parts, where the store keeps them, read back better than its own vector
                vecs = h.parts if h.parts is not None else h.vector[None]
                vecs = self.defence.undo(vecs) if self.defence else vecs
                extra = {"hints": [list(hints)] * len(vecs)} if hints else {}
                texts = inv.invert(vecs, steps=self.steps, beam=self.beam, **extra)
                self._reconstructed[h.id, hints] = " ".join(texts)
                self.invert_seconds[h.id, hints] = time.perf_counter() - t
        return [{"text": h.text if h.text is not None else self._reconstructed[h.id, hints], "score": round(h.score, 4),
                 "doc": h.doc, "chunk": h.chunk, "reconstructed": h.text is None} for h in hits]

    def retrieve(self, questions: Sequence[str], k: int = 5) -> list[list]:
        if isinstance(questions, str) or not questions:
            raise InputError("expected a non-empty list of questions")
        return self.search(self.embedder.embed(list(questions)), k)

    def search(self, vectors, k: int = 5) -> list[list]:
        """The top-k hits for each query vector (this store's embedder), through the store's defence if it has one."""
        import numpy as np
        q = np.asarray(vectors, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.embedder.dim:
            raise InputError(f"expected query vectors of width {self.embedder.dim}, got shape {q.shape}")
        if self.defence is not None:
            q = self.defence.query(q)
        return [self.store.search(v, k=k) for v in q]

    def ask(self, questions: Sequence[str], k: int = 5, generate: bool = True, progress: bool = False) -> list[dict]:
        from tqdm import tqdm
        results = []
        for question, hits in tqdm(list(zip(questions, self.retrieve(questions, k))), desc="asking",
                                   unit=" question", disable=not progress or len(questions) < 2):
            ctx = self.contexts(hits, question)
            answer = None
            if generate and self.generator is not None:
                answer = self.generator.generate(build_prompt(question, [c["text"] for c in ctx]))
            results.append({"question": question, "answer": answer, "contexts": ctx})
        return results
