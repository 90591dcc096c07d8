"""Bag decoder: embedding + the word head's likeliest words → a sentence.

Generating a sentence from a vector alone is what a 2-core CPU could not learn (a 14M decoder
trained 30 min from scratch reached BLEU 4.5). The word head already reads most of the words
(bag F1 0.6, recall@64 0.86), so what is left is their order and the small words between them.
This model does that: a small transformer whose memory is the embedding (as a few prefix slots)
and the head's top-m candidate words (each with its probability and rank); its decoder writes
the sentence word by word, either pointing at a candidate or emitting one of the `fixed` most
frequent tokens (function words, punctuation). Pointing keeps the output layer small, so it trains
on a CPU, and it can only write words the head proposed or the common ones.

Tokens are the word probe's words (one entry per case-folded word, in its most common casing) and
single punctuation marks; text is rebuilt from them with English spacing rules.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from ..embed.base import check_vectors
from ..errors import UnknownModelError
from .wordhead import WordPredictor, read_model_folder, save_model_folder

TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]|\d+|[^\sA-Za-z0-9]")
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
PAD, BOS, EOS, UNK = range(4)
PUNCT = list(".,;:()\"-?'!&/$%")
NO_SPACE_BEFORE = set(".,;:)?!%")
NO_SPACE_AFTER = set("($")
FREE_REPEATS = 100  # the commonest words may recur in a sentence; other candidates are written once


@dataclass
class DecoderConfig:
    dim: int  # the embedder's width: read from the embedder, never assumed
    vocab_size: int  # specials + punctuation + words
    fixed: int = 2048  # tokens it may always emit; any other word only by pointing at a candidate
    candidates: int = 64  # the word head's top-m words in its memory
    width: int = 256
    heads: int = 4
    encoder_layers: int = 1
    decoder_layers: int = 3
    prefix: int = 4  # memory slots the embedding is projected to
    max_len: int = 40  # tokens, end marker included
    dropout: float = 0.1


class BagDecoder(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        c = self.config = config
        self.tok = nn.Embedding(c.vocab_size, c.width)
        self.pos = nn.Embedding(c.max_len + 1, c.width)
        self.prefix = nn.Linear(c.dim, c.prefix * c.width)
        self.share = nn.Linear(2, c.width)  # a candidate's log-probability and rank
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(c.width, c.heads, 4 * c.width, c.dropout, batch_first=True, norm_first=True),
            c.encoder_layers, enable_nested_tensor=False) if c.encoder_layers else nn.Identity()
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(c.width, c.heads, 4 * c.width, c.dropout, batch_first=True, norm_first=True),
            c.decoder_layers)
        self.norm = nn.LayerNorm(c.width)
        self.point = nn.Linear(c.width, c.width)
        for e in (self.tok, self.pos):  # small, as in GPT-2: the token table is also the output layer
            nn.init.normal_(e.weight, std=0.02)

    def encode(self, vectors: torch.Tensor, cand: torch.Tensor, cand_logp: torch.Tensor) -> torch.Tensor:
        """(n, dim) unit vectors, (n, m) candidate token ids and log-probabilities → (n, prefix + m, width)."""
        c = self.config
        n, m = cand.shape
        pre = self.prefix(vectors * c.dim ** 0.5).view(n, c.prefix, c.width)
        rank = torch.arange(m, device=cand.device).float().div(m).expand(n, m)
        feats = torch.stack([cand_logp.clamp(min=-20) / 10, rank], -1)
        return self.encoder(torch.cat([pre, self.tok(cand) + self.share(feats)], 1))

    def forward(self, memory: torch.Tensor, cand: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Logits (n, t, fixed + m) for the next token after each prefix of `inputs` (n, t): the first
        `fixed` columns are those tokens, the rest point at the m candidates."""
        t = inputs.shape[1]
        h = self.tok(inputs) + self.pos(torch.arange(t, device=inputs.device))
        causal = torch.triu(torch.full((t, t), float("-inf"), device=inputs.device), 1)
        return self.logits(self.norm(self.decoder(h, memory, tgt_mask=causal, tgt_is_causal=True)), memory, cand)

    def logits(self, h: torch.Tensor, memory: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
        """The decoder's final states (n, t, width) → next-token logits (n, t, fixed + m)."""
        c = self.config
        fixed = h @ self.tok.weight[:c.fixed].T
        point = torch.einsum("ntw,nmw->ntm", self.point(h), memory[:, c.prefix:]) / c.width ** 0.5
        # a candidate that is also a fixed token is reached only by pointing: its mass is not split.
        # <unk> stands for a word it cannot write: learnt as such, never written (generate() bans it)
        banned = torch.zeros(cand.shape[0], c.fixed, dtype=torch.bool, device=cand.device)
        banned.scatter_(1, torch.where(cand < c.fixed, cand, PAD), True)
        banned[:, [PAD, BOS]] = True
        return torch.cat([fixed.masked_fill(banned[:, None, :], float("-inf")), point], -1)

    def stepper(self, memory: torch.Tensor, cand: torch.Tensor) -> "Stepper":
        return Stepper(self, memory, cand)

    @staticmethod
    def targets(cand: torch.Tensor, tokens: torch.Tensor, fixed: int) -> torch.Tensor:
        """Next-token ids (n, t) in the forward() column space: a candidate's column when the token is
        one, else the token itself when fixed, else <unk> (the model cannot write it)."""
        hit = tokens[:, :, None] == cand[:, None, :]
        where = hit.float().argmax(-1)
        out = torch.where(hit.any(-1), fixed + where, torch.where(tokens < fixed, tokens, UNK))
        return out.masked_fill(tokens == PAD, -100)


class Stepper:
    """Writes one token at a time with the model's weights: each layer projects the memory into
    cross-attention keys and values once and caches its self-attention keys and values, so a
    step costs one token's work. Calling forward() at every step would redo the whole prefix and
    re-project the memory each time (most of generate()'s time)."""

    def __init__(self, model: BagDecoder, memory: torch.Tensor, cand: torch.Tensor):
        self.model, self.memory, self.cand = model, memory, cand
        self.heads, self.t = model.config.heads, 0
        w = model.config.width
        self.cross = []
        for layer in model.decoder.layers:
            a = layer.multihead_attn
            k = nn.functional.linear(memory, a.in_proj_weight[w:2 * w], a.in_proj_bias[w:2 * w])
            v = nn.functional.linear(memory, a.in_proj_weight[2 * w:], a.in_proj_bias[2 * w:])
            self.cross.append((self._split(k), self._split(v)))
        self.past: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(self.cross)

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (n, t, width) → (n, heads, t, width / heads)
        return x.view(x.shape[0], x.shape[1], self.heads, -1).transpose(1, 2)

    def _attend(self, attn: nn.MultiheadAttention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        out = nn.functional.scaled_dot_product_attention(self._split(q), k, v)
        return attn.out_proj(out.transpose(1, 2).reshape(q.shape))

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """The last written token of each row (n,) → logits (n, fixed + m) for the next one."""
        m, w = self.model, self.model.config.width
        h = (m.tok(tokens) + m.pos.weight[self.t])[:, None]
        for i, (layer, (ck, cv)) in enumerate(zip(m.decoder.layers, self.cross)):
            sa = layer.self_attn
            q, k, v = nn.functional.linear(layer.norm1(h), sa.in_proj_weight, sa.in_proj_bias).chunk(3, -1)
            k, v = self._split(k), self._split(v)
            if self.past[i] is not None:
                k, v = torch.cat([self.past[i][0], k], 2), torch.cat([self.past[i][1], v], 2)
            self.past[i] = (k, v)
            h = h + self._attend(sa, q, k, v)
            ca = layer.multihead_attn
            q = nn.functional.linear(layer.norm2(h), ca.in_proj_weight[:w], ca.in_proj_bias[:w])
            h = h + self._attend(ca, q, ck, cv)
            h = h + layer.linear2(layer.activation(layer.linear1(layer.norm3(h))))
        self.t += 1
        return m.logits(m.norm(h), self.memory, self.cand)[:, 0]

    def reorder(self, rows: torch.Tensor) -> None:
        """Rows now continue `rows` (beam search); each must belong to the same text as before."""
        self.past = [(k[rows], v[rows]) for k, v in self.past]


class Vocabulary:
    """Specials, punctuation, then the word head's words (case-folded lookup, cased output)."""

    def __init__(self, words: Sequence[str]):
        self.tokens = SPECIALS + PUNCT + list(words)
        self.offset = len(SPECIALS) + len(PUNCT)  # word head index i is token offset + i
        self.index = {}
        for i, t in enumerate(self.tokens):
            self.index.setdefault(t.lower(), i)

    def encode(self, text: str, max_len: int) -> list[int]:
        ids = [self.index.get(t.lower(), UNK) for t in TOKEN.findall(text)][:max_len - 1]
        return ids + [EOS]

    def decode(self, ids: Sequence[int]) -> str:
        out, quote_open = "", False
        for k, i in enumerate(ids):
            t = self.tokens[i]
            if k == 0:
                t = t[:1].upper() + t[1:]  # most sentences open with a capital; cosine is blind to case
            space = bool(out) and t not in NO_SPACE_BEFORE and out[-1] not in NO_SPACE_AFTER
            if t == '"':
                space = bool(out) and not quote_open and out[-1] not in NO_SPACE_AFTER
                quote_open = not quote_open
            elif out.endswith('"') and quote_open:
                space = False
            if t == "-" or (out.endswith("-") and len(out) > 1 and out[-2] != " "):
                space = False  # hyphenated words: "7-letter"
            out += (" " if space else "") + t
        return out


class SentenceDecoder:
    """A trained bag decoder with the word head it reads, loaded from a folder written by
    `unembed train --model decoder`: config.json + weights.pt (fp16). The word head's folder is
    named in config.json (relative to the decoder's own folder)."""

    def __init__(self, model: BagDecoder, words, embedder_name: str, path: Path | None = None):
        self.model = model.eval()
        self.words = words  # the WordPredictor whose top-m words are the candidates
        self.vocab = Vocabulary(words.vocab)
        self.embedder_name = embedder_name
        self.dim = model.config.dim
        self.path = path

    @classmethod
    def load(cls, path: str | Path, words=None) -> "SentenceDecoder":
        path = Path(path)
        meta, state, _ = read_model_folder(path, "bag-decoder", "bag decoder")
        try:
            model = BagDecoder(DecoderConfig(**meta["model"]))
            model.load_state_dict(state)
        except (KeyError, TypeError, RuntimeError) as e:
            raise UnknownModelError(f"{path} is not a bag decoder folder ({e.__class__.__name__}: {e})") from None
        if words is None:
            words = WordPredictor.load((path / meta["word_head"]).resolve())
        if len(Vocabulary(words.vocab).tokens) != model.config.vocab_size:
            raise UnknownModelError(f"{path}: its word head's vocabulary does not match the decoder's")
        return cls(model, words, meta["embedder"]["name"], path)

    def save(self, path: str | Path, word_head: str, extra: dict | None = None) -> None:
        meta = {"kind": "bag-decoder", "embedder": {"name": self.embedder_name, "dim": self.dim},
                "word_head": word_head, "model": asdict(self.model.config)}
        save_model_folder(Path(path), self.model, meta | (extra or {}))

    def candidates(self, vectors: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The word head's top-m words of each vector as token ids, with their log-probabilities."""
        p = torch.from_numpy(self.words.probabilities(vectors))
        top = p.topk(self.model.config.candidates, dim=-1)
        return top.indices + self.vocab.offset, top.values.clamp(min=1e-12).log()

    @torch.no_grad()
    def log_likelihood(self, vectors: np.ndarray, texts: Sequence[str], owner: Sequence[int] | None = None,
                       batch_size: int = 256) -> np.ndarray:
        """Mean log-probability per token (end marker included) of each text given its vector,
        `vectors[owner[i]]` (default: one vector per text). A word the decoder cannot write scores
        as its <unk>, which it learnt for exactly that."""
        v = check_vectors(vectors, self.dim)
        owner = np.arange(len(texts)) if owner is None else np.asarray(owner)
        cand, logp = self.candidates(v)
        memory = self.model.encode(torch.from_numpy(v), cand, logp)
        fixed, max_len = self.model.config.fixed, self.model.config.max_len
        out = np.zeros(len(texts), np.float32)
        for s in range(0, len(texts), batch_size):
            rows = [self.vocab.encode(t, max_len) for t in texts[s:s + batch_size]]
            tokens = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
            for j, r in enumerate(rows):
                tokens[j, :len(r)] = torch.tensor(r)
            own = torch.from_numpy(owner[s:s + batch_size])
            inputs = torch.cat([torch.full_like(tokens[:, :1], BOS), tokens[:, :-1]], 1)
            lp = torch.log_softmax(self.model(memory[own], cand[own], inputs), -1)
            target = BagDecoder.targets(cand[own], tokens, fixed)
            got = lp.gather(-1, target.clamp(min=0)[..., None])[..., 0].masked_fill(target < 0, 0)
            out[s:s + len(rows)] = (got.sum(1) / (target >= 0).sum(1)).numpy()
        return out

    def _token(self, cand: torch.Tensor, col: int) -> int:
        fixed = self.model.config.fixed
        return int(cand[col - fixed]) if col >= fixed else col

    def _repeats(self, written: list[int], cand_row: list[int]) -> list[int]:
        """Columns this row may not write next: a candidate word it already wrote (unless it is one of
        the commonest words), the token it just wrote, and whatever would repeat a trigram. Without this a half-trained decoder
        loops ("a wife, between a wife, between a wife")."""
        fixed = self.model.config.fixed
        pointer = {tok: fixed + j for j, tok in enumerate(cand_row)}
        column = lambda tok: pointer.get(tok, tok if tok < fixed else UNK)  # noqa: E731
        common = self.vocab.offset + FREE_REPEATS
        out = [pointer[tok] for tok in written if tok >= common and tok in pointer]
        if written:  # no word or mark twice in a row
            out.append(column(written[-1]))
        if len(written) >= 2:
            a, b = written[-2], written[-1]
            out += [column(written[k + 2]) for k in range(len(written) - 2) if (written[k], written[k + 1]) == (a, b)]
        return out

    @torch.no_grad()
    def generate(self, vectors: np.ndarray, beam: int = 4, alpha: float = 0.7) -> list[list[tuple[float, str]]]:
        """Per vector, `beam` sentences by beam search with their length-normalised log-probability, best first."""
        v = check_vectors(vectors, self.dim)
        c = self.model.config
        n = len(v)
        cand, logp = self.candidates(v)
        memory = self.model.encode(torch.from_numpy(v), cand, logp)
        # every row is one (text, beam slot); slots start as copies with all but the first muted
        memory, cand = memory.repeat_interleave(beam, 0), cand.repeat_interleave(beam, 0)
        step = self.model.stepper(memory, cand)
        seqs = torch.full((n * beam, 1), BOS, dtype=torch.long)  # BOS, then the tokens written so far
        score = torch.zeros(n, beam)
        score[:, 1:] = float("-inf")
        ended = torch.zeros(n * beam, dtype=torch.bool)
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(n)]
        for t in range(c.max_len):
            lp = torch.log_softmax(step(seqs[:, -1]), -1)
            lp[:, UNK] = float("-inf")
            lp[ended] = float("-inf")
            if t >= 1:
                written, cand_rows = seqs[:, 1:].tolist(), cand.tolist()
                for r in (~ended).nonzero().flatten().tolist():
                    lp[r, self._repeats(written[r], cand_rows[r])] = float("-inf")
            width = lp.shape[1]
            total = (score.view(-1, 1) + lp).view(n, beam * width)
            best, at = total.topk(2 * beam, dim=-1)
            new_rows, new_cols, new_score = [], [], []
            for i in range(n):
                kept = 0
                for s, a in zip(best[i].tolist(), at[i].tolist()):
                    if s == float("-inf") or kept == beam:
                        break
                    row, col = i * beam + a // width, a % width
                    if col == EOS or t == c.max_len - 1:
                        done = seqs[row, 1:].tolist() + ([] if col == EOS else [self._token(cand[row], col)])
                        finished[i].append((s / max(len(done), 1) ** alpha, done))
                        continue
                    new_rows.append(row)
                    new_cols.append(col)
                    new_score.append(s)
                    kept += 1
                while kept < beam:  # pad with a muted slot
                    new_rows.append(i * beam)
                    new_cols.append(EOS)
                    new_score.append(float("-inf"))
                    kept += 1
            if all(len(f) >= beam for f in finished):
                break
            rows = torch.tensor(new_rows)
            col = torch.tensor(new_cols)
            token = torch.where(col >= c.fixed, cand[rows, (col - c.fixed).clamp(min=0)], col)
            seqs = torch.cat([seqs[rows], token[:, None]], 1)
            step.reorder(rows)
            score = torch.tensor(new_score).view(n, beam)
            ended = torch.isinf(score.view(-1))
            if ended.all():
                break
        out = []
        for f in finished:
            f.sort(key=lambda x: -x[0])
            seen, texts = set(), []
            for s, done in f:
                text = self.vocab.decode(done)
                if text and text not in seen:
                    seen.add(text)
                    texts.append((s, text))
            out.append(texts[:beam])
        return out
