"""Embedding-guided search: the corrector loop with no trained model.

Start from the reference texts nearest the target, then propose word edits (delete, substitute,
insert, swap, splice with another neighbour, respell: variants.py), re-embed every proposal and
keep the `beam` whose embeddings are closest to the target. Proposals draw words from the
neighbours and from the word probe (the vocabulary words whose own embeddings are nearest the
target), so the search stays on the target's topic yet can reach names and numbers no neighbour holds. The search is black-box: it only ever
calls `embedder.embed`, and `embed_draft` where the embedder has a bfloat16 draft: that ranks each
step's proposals, and only each text's closest are embedded exactly, so the beam's cosines stay
exact. With `pieces` (pieces.py, white-box; the default for a torch embedder) short results are then
edited inside their words, wordpiece by wordpiece, which can spell out a name no word list holds.
A last stage (fluency.py) reorders the words the search found towards a trigram model of
the training split, keeping only orders that lose no cosine; for a case-blind embedder the first
letter's case is then read from the vector (casing.py), since no cosine can choose it.
With a trained bag decoder (decoder.py) this is vec2text's shape: the decoder's sentences are the
hypotheses, and the search is the corrector that re-embeds and edits them. With `extrapolate`, each
step that finds a closer text also feeds the re-embedding back into the decoder: it writes new
hypotheses for a vector pushed past the target, away from what the best text already says. With
decoder_weight > 0 the decoder also votes on each step's closest proposals (measured; off by default).
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..embed.base import check_vectors, l2_normalise
from ..errors import InputError
from .lookup import ReferenceIndex
from . import variants as spellings
from .wordhead import BAG_THRESHOLD

FUNCTION_WORDS = "the a an of and to in is was for on with that as by at it from or be are this not his her their".split()


def _past(targets: np.ndarray, vectors: np.ndarray, by: float) -> np.ndarray:
    """t + by·(t − v), renormalised: past each target, away from what v already says."""
    return l2_normalise(targets + by * (targets - vectors))


@dataclass
class _State:
    target: np.ndarray
    vocab: list[str]
    weights: list[float]
    neighbours: list[list[str]]
    beam: list[tuple[float, float, tuple[str, ...]]]  # (rank key, cosine, words), best first
    seen: set = field(default_factory=set)
    done: bool = False
    queries: int = 0
    trace: list = field(default_factory=list)  # (best cosine, best text) after the seeds and each step
    extra: list = field(default_factory=list)  # whole candidates to score next step (decoder sentences, the head's bag)
    rng: random.Random = field(default_factory=random.Random)
    best_vec: np.ndarray | None = None  # the scoring embedder's vector of beam[0], when a step found it
    near: list = field(default_factory=list)  # (cosine, words, vector): the closest exactly scored candidates so far, best first


class SearchInverter:
    def __init__(self, embedder, index: ReferenceIndex, name: str = "search", neighbours: int = 32,
                 proposals: int = 48, threshold: float = 0.995, seed: int = 0, probe=None,
                 probe_words: int = 64, probe_weight: float = 2.0, max_queries: int | None = None,
                 gradient=None, polisher=None, words=None, word_count: int = 64, word_weight: float = 60.0,
                 bag_seed: bool = True, decoder=None, decoder_beam: int = 8, decoder_weight: float = 0.0,
                 extrapolate: float = 0.0, draft: bool = True, variants: bool = True, own_probe=None,
                 numbers: bool = False, hint_weight: float = 20.0, pieces=None, casing=None, edits: bool = True):
        self.embedder = embedder
        self.embedder_name = embedder.name
        self.dim = embedder.dim
        self.index = index
        self.name = name
        self.neighbours = neighbours
        self.proposals = proposals  # per hypothesis per step: the query budget is steps·beam·proposals
        self.threshold = threshold
        self.seed = seed
        self.queries = 0  # embed() calls made by searches so far, all texts together
        self.max_queries = max_queries  # per text; None: steps·beam·proposals bound it
        self.queries_per_text: list[int] = []  # of the last invert() call
        self.trace: list[list[tuple[float, str]]] = []  # of the last invert() call: per text, per step
        self.gradient = gradient  # a GradientProposer: white-box swaps, tried before random edits
        self.polisher = polisher  # a FluencyPolisher: reorders the result at no cost in cosine
        self.probe = probe
        # with guides from another embedder's space (alignment): a probe in the scoring embedder's own
        # space, read at the true vector, whose words join the guide's (no map error in them)
        self.own_probe = own_probe
        self.own_residual = False  # also read it past the target, away from each step's best text (t + (t − e(c)))
        self.probe_words = probe_words
        self.probe_weight = probe_weight  # per word, against a neighbour word's count of occurrences
        self.words = words  # a WordPredictor (trained word head) reading the words out of the vector
        self.word_count = word_count
        self.word_weight = word_weight  # times √(the word's softmax share); 60 beat 20 and 150 on val
        self.bag_seed = bag_seed  # also try the head's predicted words, arranged by the trigram model
        self.decoder = decoder  # a SentenceDecoder: its beam's sentences are the first hypotheses
        self.decoder_beam = decoder_beam  # on 40 val texts: 4 gave BLEU 13.2, F1 0.591; 8 gave 14.0, 0.629; 16 gave 16.3, 0.610
        # decoder_weight > 0 ranks candidates by cosine + weight · the decoder's mean token log-probability
        # given the target (the decoder's vote; cosine is nearly blind to order). Off by default: 0.01 gave
        # BLEU 13.7 → 15.0 and F1 0.589 → 0.604 on 64 val texts, but 15.0 → 13.9 and F1 0.614 → 0.630 on
        # 100 test texts, and cost cosine both times (−0.003, −0.009)
        self.decoder_weight = decoder_weight
        self.fit_top = 16  # per text per step, the proposals closest in cosine that the decoder scores (6: the same)
        # > 0: after a step that found a closer text c, aim the decoder and word lookups at
        # t + extrapolate·(t − e(c)), past the target away from what c already says: a corrector with
        # no training. 1.0 on 100 test texts: BLEU 19.5 → 20.7, F1 0.665 → 0.681, cosine 0.954 → 0.965, 1.24× the time
        self.extrapolate = extrapolate
        # rank each step's proposals by the embedder's draft (int8 or bfloat16) where it has one, and embed only
        # each text's `exact_top` (at least 2·beam) closest exactly: the beam's cosines stay exact
        self.draft = draft
        self.exact_top = 8  # 16 where the draft is int8 (below): on 80 val texts int8 with 8 lost BLEU 24.5 → 23.6, with 16 kept 24.2
        # candidates kept per text, with their vectors, for a reguide that reads many anchors (align's local guide)
        self.near_count = 32
        self._known: set[str] | None = None
        self.variants = variants  # also propose each word's other spellings (variants.py): 12/twelve, moraine/moraines
        self.numbers = numbers  # and each number's neighbouring values (variants.number_values): six/eight, 1988/1989
        # per hint word (invert's `hints`: e.g. the question a lossy RAG chunk was retrieved for), like a
        # word the head gives p ≈ 0.1; set once, before any run, not tuned
        self.hint_weight = hint_weight
        self.pieces = pieces  # a PieceRefiner (white-box): builds words piece by piece after the search
        self.casing = casing  # an OpeningCase (casing.py) for a case-blind embedder: the first letter's case, from the vector
        # False: no word edits; each step only scores the decoder's new sentences (written for the target
        # pushed past the best text so far, with `extrapolate`), so every result is a sentence the decoder wrote
        self.edits = edits

    def _rescore(self, v: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = idx.reshape(-1)
        emb = self.embedder.embed([self.index.texts[i] for i in flat], batch_size=128).reshape(*idx.shape, -1)
        self.queries += flat.size
        sims = np.einsum("nkd,nd->nk", emb, v)
        order = np.argsort(-sims, axis=1)
        return np.take_along_axis(sims, order, 1), np.take_along_axis(idx, order, 1)

    def _start(self, target: np.ndarray, scores: np.ndarray, idx: np.ndarray, beam: int, probed, predicted) -> _State:
        texts = [self.index.texts[i].split() for i in idx]
        counts = Counter(w for t in texts for w in t)
        for w in FUNCTION_WORDS:
            counts[w] += 1
        start = [(float(s), float(s), tuple(t)) for s, t in zip(scores[:beam], texts[:beam])]
        # seeded by the vector itself: a text's inversion must not depend on which others share its call
        rng = random.Random(int(self.seed).to_bytes(8, "little", signed=True) + np.ascontiguousarray(target, np.float32).tobytes())
        st = _State(target, list(counts), [float(c) for c in counts.values()], texts, start, {t for *_, t in start}, rng=rng)
        self._add_words(st, probed, predicted)
        bag = [w for w, p in predicted if p >= BAG_THRESHOLD]
        if bag and self.bag_seed and self.polisher is not None:  # the head's bag in the trigram model's order, as one more seed
            words = self.polisher.lm.arrange(bag)
            words[0] = words[0][:1].upper() + words[0][1:]  # most sentences open with a capital; cosine is blind to case
            st.extra += [tuple(words), tuple(words[:-1]) + (words[-1] + ".",)]
        return st

    def _add_words(self, st: _State, probed, predicted, hinted=()) -> None:
        """Raise the proposal weight of the probe's, the word head's and the caller's words for this target."""
        at = {w: i for i, w in enumerate(st.vocab)}
        # the square root flattens a softmax that often puts most mass on one word
        for w, b in ([(w, self.probe_weight) for w, _ in probed] + [(w, self.word_weight * p ** 0.5) for w, p in predicted]
                     + [(w, self.hint_weight) for w in hinted]):
            if w not in at:
                at[w] = len(st.vocab)
                st.vocab.append(w)
                st.weights.append(0.0)
            st.weights[at[w]] += b

    def _lookups(self, g: np.ndarray) -> tuple[list, list]:
        """Per guide, the probe's nearest vocabulary words and the word head's likeliest words."""
        probed = self.probe.top(g, self.probe_words) if self.probe is not None else [[] for _ in g]
        predicted = self.words.top(g, self.word_count) if self.words is not None else [[] for _ in g]
        return probed, predicted

    def _reguide(self, states: list[_State], reguide) -> None:
        """New guides from each text's best candidate so far (e.g. the alignment anchored there), and
        from them fresh decoder hypotheses and word weights for the next step."""
        targets, found = np.stack([st.target for st in states]), np.stack([st.best_vec for st in states])
        near = [([" ".join(w) for _, w, _ in st.near], np.stack([e for *_, e in st.near])) if st.near else None for st in states]
        g = reguide(targets, [" ".join(st.beam[0][2]) for st in states], found, near)
        probed, predicted = self._lookups(g)
        if self.own_probe is not None and self.own_residual:  # the words the best text still lacks, read in the scoring space
            probed = self._with_own_words(probed, _past(targets, found, 1.0))
        decoded = self.decoder.generate(g, beam=self.decoder_beam) if self.decoder is not None else [[] for _ in states]
        for st, p, w, d in zip(states, probed, predicted, decoded):
            self._add_words(st, p, w)
            st.extra += [tuple(text.split()) for _, text in d]

    def _extrapolated(self, targets: np.ndarray, texts: list[str], vectors: np.ndarray, near=None) -> np.ndarray:
        return _past(targets, vectors, self.extrapolate)

    def _with_own_words(self, probed: list, at: np.ndarray) -> list:
        """`probed` with, per row, the own probe's nearest words to `at` (vectors of the scoring embedder)."""
        return [p + q for p, q in zip(probed, self.own_probe.top(at, self.probe_words))]

    def _known_words(self) -> set[str] | None:
        """The probe's vocabulary, lower-cased: the only spelling variants the search offers."""
        if self._known is None and self.probe is not None:
            self._known = {w.lower() for w in self.probe.vocab}
        return self._known

    def _propose(self, st: _State, hyp: tuple[str, ...]) -> set[tuple[str, ...]]:
        out: set[tuple[str, ...]] = set()
        n = len(hyp)
        for i in range(n):  # every deletion: cheap and often the biggest win on a neighbour's extra words
            if n > 1:
                out.add(hyp[:i] + hyp[i + 1:])
        tries, rng = 0, st.rng
        while len(out) < self.proposals + n and tries < 4 * self.proposals:
            tries += 1
            r = rng.random()
            i = rng.randrange(n + 1)
            w = rng.choices(st.vocab, st.weights)[0]
            if r < 0.4 and i < n:
                out.add(hyp[:i] + (w,) + hyp[i + 1:])
            elif r < 0.7:
                out.add(hyp[:i] + (w,) + hyp[i:])
            elif r < 0.8 and i < n - 1:
                out.add(hyp[:i] + (hyp[i + 1], hyp[i]) + hyp[i + 2:])
            else:
                other = rng.choice(st.neighbours)
                j = rng.randrange(len(other) + 1)
                out.add(hyp[:i] + tuple(other[j:]) if rng.random() < 0.5 else tuple(other[:j]) + hyp[i:])
        if self.variants:  # every known spelling variant of every word, on top of the random edits
            known = self._known_words()
            for i, w in enumerate(hyp):
                for v in spellings.variants(w):
                    if known is None or all(spellings.core(t) in known for t in v):
                        out.add(hyp[:i] + v + hyp[i + 1:])
        if self.numbers:
            for i, w in enumerate(hyp):
                for v in spellings.number_values(w):
                    out.add(hyp[:i] + v + hyp[i + 1:])
        return {c for c in out if c}

    def _fresh(self, st: _State, hyp: tuple[str, ...]) -> list[tuple[str, ...]]:
        """This hypothesis's unseen proposals, in the order they are queued (gradient swaps first)."""
        if not self.edits:
            return []
        # sorted: a set's order follows Python's per-process string hashing, and the order decides which
        # proposals share a draft batch (int8 scales are per batch), so unsorted runs differed between processes
        fresh = sorted(self._propose(st, hyp) - st.seen)
        if self.max_queries is not None:  # a budget keeps a random, reproducible share
            st.rng.shuffle(fresh)
        if self.gradient is not None:
            first = list(dict.fromkeys(c for c in self.gradient.propose(hyp, st.target) if c not in st.seen))
            fresh = first + [c for c in fresh if c not in set(first)]
        return list(fresh)

    def _fit(self, guides: np.ndarray, owner, candidates: list[tuple[str, ...]]) -> np.ndarray:
        """decoder_weight · the decoder's mean token log-probability of each candidate given its target."""
        ll = self.decoder.log_likelihood(guides, [" ".join(c) for c in candidates], owner)
        return self.decoder_weight * ll.astype(np.float64)

    def invert(self, vectors: np.ndarray, steps: int = 8, beam: int = 4, guides: np.ndarray | None = None,
               reguide=None, hints: list[list[str]] | None = None) -> list[str]:
        """`guides`: where to look up neighbours and probe words when the index lives in another
        embedder's space than `vectors` (alignment); candidates are always scored against `vectors`.
        `reguide(targets, best texts, their vectors, near) -> guides`: after a step that improved a text,
        a better guide for it, whose decoder hypotheses and words join the next step; `near` holds per
        text (texts, vectors) of its closest exactly scored candidates so far, best first.
        `hints`: per vector, words the text may hold (the question it was retrieved for): proposed like
        probe words, kept only where they bring the text closer, as every edit is."""
        v = check_vectors(vectors, self.dim)
        if hints is not None and len(hints) != len(v):
            raise InputError(f"{len(hints)} hint lists for {len(v)} vectors")
        beam = max(1, beam)
        g = v if guides is None else check_vectors(guides, what="guide vectors")
        if reguide is None and guides is None and self.extrapolate > 0:
            reguide = self._extrapolated
        decoded = self.decoder.generate(g, beam=self.decoder_beam) if self.decoder is not None else None
        if decoded is not None and steps == 0:  # the hypothesis alone: no embedder feedback at all
            self.queries_per_text, self.trace = [0] * len(v), [[] for _ in v]
            return [d[0][1] if d else "" for d in decoded]
        scores, idx = self.index.search(g, k=max(self.neighbours, beam))
        probed, predicted = self._lookups(g)
        if guides is not None:  # the seeds' scores must come from the scoring embedder
            scores, idx = self._rescore(v, idx)
            if self.own_probe is not None:
                probed = self._with_own_words(probed, v)
        states = [self._start(v[i], scores[i], idx[i], beam, probed[i], predicted[i]) for i in range(len(v))]
        for st, words in zip(states, hints or ()):
            self._add_words(st, (), (), words)
        if decoded is not None:
            for st, d in zip(states, decoded):
                st.extra = [tuple(text.split()) for _, text in d] + st.extra
        if self.decoder is not None and self.decoder_weight:
            fit = iter(self._fit(g, [k for k, st in enumerate(states) for _ in st.beam],
                                 [h for st in states for *_, h in st.beam]))
            for st in states:
                st.beam = sorted(((cos + next(fit), cos, h) for _, cos, h in st.beam), key=lambda x: -x[0])
        for st in states:
            st.queries = idx.shape[1] if guides is not None else 0
            st.trace.append((st.beam[0][1], " ".join(st.beam[0][2])))
        # drafts cost queries of their own, so a query budget turns them off
        drafting = self.draft and self.max_queries is None and getattr(self.embedder, "has_draft", False)
        for _ in range(steps):
            live_at = [i for i, s in enumerate(states) if not s.done]
            live = [states[i] for i in live_at]
            if not live:
                break
            batch, owner = [], []
            for k, st in enumerate(live):
                room = float("inf") if self.max_queries is None else self.max_queries - st.queries
                seeds, st.extra = st.extra, []
                for hyp in [None] + [h for *_, h in st.beam]:  # None: the word head's seeds, queued first
                    fresh = list(dict.fromkeys(c for c in seeds if c not in st.seen)) if hyp is None else self._fresh(st, hyp)
                    for c in fresh:
                        if room <= 0:
                            break
                        st.seen.add(c)
                        batch.append(c)
                        owner.append(k)
                        st.queries += 1
                        room -= 1
                if room <= 0:
                    st.done = True  # budget spent: this step's proposals are still scored below
            if not batch:
                break
            texts = [" ".join(c) for c in batch]
            emb = (self.embedder.embed_draft if drafting else self.embedder.embed)(texts, batch_size=128)
            self.queries += len(batch)
            owner_arr = np.asarray(owner)
            targets = np.stack([st.target for st in live])[owner_arr]
            sims_all = np.einsum("nd,nd->n", emb, targets)
            rows_of = [np.flatnonzero(owner_arr == k) for k in range(len(live))]
            if drafting:  # only each text's closest drafts can enter its beam: those alone are embedded exactly
                top = max(2 * self.exact_top if getattr(self.embedder, "draft_kind", None) == "int8" else self.exact_top, 2 * beam)
                rows_of = [r[np.argsort(-sims_all[r])[:top]] for r in rows_of]
                exact = np.concatenate(rows_of)
                emb[exact] = self.embedder.embed([texts[r] for r in exact], batch_size=128)
                sims_all[exact] = np.einsum("nd,nd->n", emb[exact], targets[exact])
                self.queries += len(exact)
                for st, rows in zip(live, rows_of):
                    st.queries += len(rows)
            fit = np.zeros(len(batch))
            if self.decoder is not None and self.decoder_weight:
                # only each text's closest proposals can enter its beam: the decoder scores those alone
                close = np.concatenate([r[np.argsort(-sims_all[r])[:self.fit_top]] for r in rows_of])
                fit[:] = -np.inf
                fit[close] = self._fit(g[live_at], owner_arr[close], [batch[r] for r in close])
            for st, rows in zip(live, rows_of):
                sims = sims_all[rows]
                pool = st.beam + [(float(s) + fit[r], float(s), batch[r]) for s, r in zip(sims, rows)]
                pool.sort(key=lambda x: -x[0])
                best_before = st.beam[0][0]
                if reguide is not None and guides is not None and self.near_count:  # aligned: keep the closest, with vectors
                    st.near = sorted(st.near + [(float(sims_all[r]), batch[r], emb[r].copy()) for r in rows],
                                     key=lambda x: -x[0])[:self.near_count]
                st.beam = pool[:beam]
                st.trace.append((st.beam[0][1], " ".join(st.beam[0][2])))
                if st.beam[0][1] >= self.threshold or st.beam[0][0] <= best_before + 1e-6:
                    st.done = True  # close enough, or no proposal helped: stop spending queries
                elif reguide is not None:
                    st.best_vec = emb[next(r for r in rows if batch[r] == st.beam[0][2])]
            if reguide is not None:
                improved = [st for st in live if not st.done]
                if improved:
                    self._reguide(improved, reguide)
        texts = [" ".join(st.beam[0][2]) for st in states]
        if self.pieces is not None and steps > 0 and self.max_queries is None:  # a budget leaves them out
            for k, st in enumerate(states):
                text, cos, used = self.pieces.refine_one(texts[k], v[k], st.beam[0][1])
                st.queries += used
                self.queries += used
                if text != texts[k]:
                    texts[k] = text
                    st.trace.append((cos, text))
        if self.polisher is not None and steps > 0:
            polished, cosines = self.polisher.polish(texts, v)
            for st, before, after, c in zip(states, texts, polished, cosines):
                if after != before:
                    st.trace.append((c, after))
            texts = polished
        if self.casing is not None and steps > 0:
            texts = self.casing.apply(texts, v)
        self.queries_per_text = [st.queries for st in states]
        self.trace = [st.trace for st in states]
        return texts
