"""White-box proposals: HotFlip-style word swaps ranked by the gradient of the cosine.

For a torch embedder, one forward and backward pass over a hypothesis gives, at every word, a
first-order estimate of how much swapping in each vocabulary word would raise the cosine to the
target: (e_new − e_old) · ∂cos/∂e. The best few swaps join the search's random proposals, so the
same query budget is spent on edits more likely to help. Only words that are a single wordpiece
are swapped, and only for single-wordpiece words, so the text keeps its casing elsewhere.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError


class GradientProposer:
    def __init__(self, embedder, per_hypothesis: int = 16):
        if not hasattr(embedder, "torch_embed_from_inputs"):
            raise InputError(f"{embedder.name} is not a torch embedder: gradient proposals need white-box access")
        self.embedder, self.per_hypothesis = embedder, per_hypothesis
        tok = embedder.tokenizer
        self.tokenizer = tok
        self.table = embedder.token_table()  # V × h
        special = set(tok.all_special_ids)
        vocab = tok.get_vocab()
        ids = sorted(i for t, i in vocab.items() if i not in special and t.isalnum() and not t.startswith("##"))
        self.words = [tok.convert_ids_to_tokens(i) for i in ids]
        self.word_table = self.table[ids].detach().clone()  # gathered once, not at every proposal
        self.passes = 0  # forward+backward passes spent (white-box compute, not black-box queries)

    def propose(self, hyp: tuple[str, ...], target: np.ndarray) -> list[tuple[str, ...]]:
        import torch
        enc = self.tokenizer(list(hyp), is_split_into_words=True, truncation=True,
                             max_length=self.embedder.max_tokens, return_tensors="pt")
        ids = enc["input_ids"][0]
        words = enc.word_ids(0)
        # positions whose word is exactly one wordpiece: a swap there replaces the whole word
        pieces = {}
        for pos, w in enumerate(words):
            if w is not None:
                pieces.setdefault(w, []).append(pos)
        single = [(ps[0], w) for w, ps in pieces.items() if len(ps) == 1]
        if not single:
            return []
        emb = self.table[ids].detach().clone().requires_grad_(True)
        out = self.embedder.torch_embed_from_inputs(emb[None], enc["attention_mask"])
        cos = out[0] @ torch.as_tensor(target, dtype=out.dtype)
        (grad,) = torch.autograd.grad(cos, emb)
        self.passes += 1
        with torch.no_grad():
            pos = torch.tensor([p for p, _ in single])
            cand = self.word_table  # C × h
            gain = grad[pos] @ cand.T - (grad[pos] * emb[pos]).sum(1, keepdim=True)  # P × C
            top = torch.topk(gain.flatten(), min(self.per_hypothesis, gain.numel())).indices
        out_hyps = []
        for flat in top.tolist():
            p, c = divmod(flat, len(self.words))
            word_index = single[p][1]
            new = self.words[c]
            if new.lower() != hyp[word_index].lower():
                out_hyps.append(hyp[:word_index] + (new,) + hyp[word_index + 1:])
        return out_hyps
