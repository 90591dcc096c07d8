"""White-box word building: edit words piece by piece, for names no word list holds.

The search proposes whole words, so a name in none of its lists ("Aletsch", "Wieliczka") can come
back only as a near miss that shares some of its wordpieces ("Aleksey", "Slenczynka"). The
embedder reads wordpieces, though, and its gradient says which piece would raise the cosine where:
(e_new − e_old) · ∂cos/∂e at a piece, and at a [MASK] put where a piece could be inserted. This
stage takes the search's result and runs a small beam over piece edits inside words (substitute,
insert, delete a piece; join two words), every candidate re-embedded (ranked by the embedder's draft
where there is one, the closest exactly). Only short texts: lossy RAG's part vectors, where one word
is often the answer; on long ones the cosine it buys is not words.

Piece edits raise cosine with non-words too ("spyonrid" for "Spyridon"); on val parts the gains
(Lissajous, unpartisan, confidentiality) outweighed them, so any closer text is kept unless `accept`
asks for a higher cosine, or `new_word_margin` for a lead over the closest text spelt with listed words.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

_PUNCT = ".,;:!?'\"()"
_STOP = set("the a an of and to in is was for on with that as by at it from or be are this not his her their".split())


def _split_punct(word: str) -> tuple[str, str, str]:
    core = word.strip(_PUNCT)
    pre = word[:len(word) - len(word.lstrip(_PUNCT))]
    return pre, core, word[len(pre) + len(core):]


def _editable(word: str) -> bool:
    core = _split_punct(word)[1]
    return core.isalpha() and len(core) > 1 and core.lower() not in _STOP


class PieceRefiner:
    def __init__(self, embedder, per_piece: int = 8, per_hypothesis: int = 128, beam: int = 4, rounds: int = 12,
                 accept: float = 0.0, known: set[str] | None = None, max_words: int = 10,
                 new_word_margin: float = 0.0):
        if not hasattr(embedder, "torch_embed_from_inputs") or not hasattr(embedder, "tokenizer"):
            raise InputError(f"{embedder.name} is not a torch embedder: piece edits need its tokenizer and gradients")
        self.embedder, self.per_piece, self.beam, self.rounds, self.accept = embedder, per_piece, beam, rounds, accept
        self.per_hypothesis = per_hypothesis  # piece swaps and insertions tried per hypothesis per round, best rated first
        # lower-cased words of a word list: a new word that is in none of them must not open with a
        # long known word ("governmentalond", "reinforcementstinging": a word with junk pieces after it)
        self.known = known
        # > 0 (needs `known`): a text with a word in no list is returned only if it is this much closer than the
        # closest one without such a word. Far from the target the gradient builds junk that gains as much as a
        # name does ("lifemationonusrocity", +0.038 cosine; align+search on mpnet, README *Invert any embedder*)
        self.new_word_margin = new_word_margin if known is not None else 0.0
        # longer texts are returned as they are: on 16 val sentences of 14–30 words piece edits bought cosine
        # (0.933 → 0.948) but no words (BLEU 6.8 → 5.9, F1 0.540 → 0.542) for 2.8× the time, while val texts
        # read back from parts of 4–8 words gained BLEU 35.8 → 39.1 (README, *Piece edits*)
        self.max_words = max_words
        tok = self.tokenizer = embedder.tokenizer
        self.table = embedder.token_table()
        special = set(tok.all_special_ids)
        vocab = tok.get_vocab()
        # English letters only: a vocabulary's Cyrillic or CJK pieces raise the cosine as junk ("coinович")
        inner_ids = sorted(i for t, i in vocab.items() if t.startswith("##") and t[2:].isascii() and t[2:].isalpha())
        head_ids = sorted(i for t, i in vocab.items() if i not in special and t.isascii() and t.isalpha()
                          and not t.startswith("##"))
        self.inner, self.head = tok.convert_ids_to_tokens(inner_ids), tok.convert_ids_to_tokens(head_ids)
        # gathered once: gathering 20k rows at every lookup was most of the stage's time
        self.inner_table = self.table[inner_ids].detach().clone()
        self.head_table = self.table[head_ids].detach().clone()
        self.passes = 0

    def _word(self, pieces: list[str], like: str) -> str | None:
        """The word these pieces spell, capitalised as `like` (the word it replaces), or None if refused."""
        w = "".join(p[2:] if p.startswith("##") else p for p in pieces)
        if self.known is not None and len(pieces) > 1 and len(pieces[0]) >= 6 and w not in self.known \
                and pieces[0] in self.known:
            return None
        return w[:1].upper() + w[1:] if like[:1].isupper() else w

    def _plain(self, words: tuple[str, ...], had: set[str]) -> bool:
        """Whether every word of `words` is in the word lists or was in the text the edits began from."""
        cores = (_split_punct(w)[1].lower() for w in words)
        return all(c in had or c in self.known or not c.isalpha() for c in cores)

    def _ids(self, words: list[str]) -> tuple[list[int], list[int]]:
        """[CLS] pieces [SEP], and the index in `ids` where each word's pieces start."""
        tok = self.tokenizer
        ids, starts = [tok.cls_token_id], []
        for word in words:
            starts.append(len(ids))
            ids += tok.convert_tokens_to_ids(tok.tokenize(word))
        return ids + [tok.sep_token_id], starts

    def _gradients(self, seqs: list[list[int]], target: np.ndarray):
        """Per sequence, the input embeddings and ∂cos/∂(input embeddings), one batched pass."""
        import torch
        n = max(len(s) for s in seqs)
        ids = torch.tensor([s + [self.tokenizer.pad_token_id] * (n - len(s)) for s in seqs])
        mask = torch.tensor([[1] * len(s) + [0] * (n - len(s)) for s in seqs])
        x = self.table[ids].detach().clone().requires_grad_(True)
        out = self.embedder.torch_embed_from_inputs(x, mask)
        (g,) = torch.autograd.grad((out @ torch.as_tensor(target, dtype=out.dtype)).sum(), x)
        self.passes += 1
        return x.detach(), g

    def _best(self, x, g, pos: int, table) -> list[tuple[float, int]]:
        """The `per_piece` rows of `table` whose swap in at `pos` the gradient rates best: (gain, row)."""
        import torch
        with torch.no_grad():
            gain = table @ g[pos] - x[pos] @ g[pos]
            top = torch.topk(gain, min(self.per_piece, len(table)))
        return list(zip(top.values.tolist(), top.indices.tolist()))

    def _propose(self, words: list[str], target: np.ndarray) -> list[tuple[str, ...]]:
        ids, starts = self._ids(words)
        mask = self.tokenizer.mask_token_id
        slots, seqs = [], [ids]  # slots: (plan entry, pieces before the gap) of each [MASK] sequence
        plan = []
        for w, word in enumerate(words):
            if not _editable(word):
                continue
            pre, core, post = _split_punct(word)
            cp = self.tokenizer.tokenize(core)
            at = starts[w] + len(self.tokenizer.tokenize(pre)) if pre else starts[w]
            plan.append((w, pre, core, post, cp, at))
            for j in range(1, len(cp) + 1):
                slots.append((len(plan) - 1, j))
                seqs.append(ids[:at + j] + [mask] + ids[at + j:])
        if not plan:
            return []
        x, g = self._gradients(seqs, target)
        rated = []  # (first-order gain, plan entry, the word's new pieces)
        for k, (w, pre, core, post, cp, at) in enumerate(plan):
            for j in range(len(cp)):
                inner = j > 0
                for gain, c in self._best(x[0], g[0], at + j, self.inner_table if inner else self.head_table):
                    rated.append((gain, k, cp[:j] + [(self.inner if inner else self.head)[c]] + cp[j + 1:]))
        for s, (k, j) in enumerate(slots, start=1):
            cp, at = plan[k][4], plan[k][5]
            for gain, c in self._best(x[s], g[s], at + j, self.inner_table):
                rated.append((gain, k, cp[:j] + [self.inner[c]] + cp[j:]))
        rated.sort(key=lambda r: -r[0])
        out = []

        def put(k, pieces):
            w, pre, core, post, _, _ = plan[k]
            new = self._word(pieces, core)
            if new:
                out.append(tuple(words[:w]) + (pre + new + post,) + tuple(words[w + 1:]))

        for _, k, pieces in rated[:self.per_hypothesis]:  # the best-rated edits of the whole text
            put(k, pieces)
        for k, (w, pre, core, post, cp, at) in enumerate(plan):  # every piece deletion
            for j in range(1, len(cp)):
                put(k, cp[:j] + cp[j + 1:])
        for w in range(len(words) - 1):  # two words into one: "eli ud" → "eliud"
            if _editable(words[w]) and _editable(words[w + 1]) and words[w][-1:] not in _PUNCT \
                    and words[w + 1][:1] not in _PUNCT:
                out.append(tuple(words[:w]) + (words[w] + words[w + 1].lower(),) + tuple(words[w + 2:]))
        out += [tuple(words[:i] + words[i + 1:]) for i in range(len(words)) if len(words) > 1]
        return out

    def refine_one(self, text: str, target: np.ndarray, cosine: float | None = None) -> tuple[str, float, int]:
        """(text, its cosine, queries spent): the closest text found where it is closer than `text` and
        reaches `accept`, else `text` itself. `cosine`: the text's own, if known."""
        emb = self.embedder
        if len(text.split()) > self.max_words:
            return text, (float(emb.embed([text])[0] @ target) if cosine is None else cosine), 0
        if cosine is None:
            cosine = float(emb.embed([text])[0] @ target)
        beam = [(cosine, tuple(text.split()))]
        seen, queries, stale = {beam[0][1]}, 0, 0
        had = {_split_punct(w)[1].lower() for w in beam[0][1]}
        plain = beam[0]  # the closest text all of whose words are listed or were in `text`
        drafting = getattr(emb, "has_draft", False)
        for _ in range(self.rounds):
            if beam[0][0] >= 0.999 or not beam[0][1]:
                break
            cands = list(dict.fromkeys(c for _, h in beam for c in self._propose(list(h), target) if c and c not in seen))
            if not cands:
                break
            seen.update(cands)
            texts = [" ".join(c) for c in cands]
            if drafting:  # rank by the draft, embed only the closest exactly
                sims = emb.embed_draft(texts) @ target
                keep = np.argsort(-sims)[:4 * self.beam]
                queries += len(texts)
                cands, texts = [cands[i] for i in keep], [texts[i] for i in keep]
            sims = emb.embed(texts) @ target
            queries += len(texts)
            best = beam[0][0]
            scored = [(float(s), c) for s, c in zip(sims, cands)]
            if self.new_word_margin > 0:
                plain = max([plain] + [sc for sc in scored if self._plain(sc[1], had)], key=lambda z: z[0])
            beam = sorted(beam + scored, key=lambda z: -z[0])[:self.beam]
            stale = stale + 1 if beam[0][0] <= best + 1e-4 else 0
            if stale >= 2:
                break
        best = beam[0] if beam[0][0] >= plain[0] + self.new_word_margin else plain
        if best[0] >= self.accept and best[0] > cosine:
            return " ".join(best[1]), best[0], queries
        return text, cosine, queries
