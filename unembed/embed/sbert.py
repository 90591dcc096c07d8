"""Sentence-transformers embedders loaded by path (never by hub name)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UnknownModelError
from .base import check_texts

log = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """A local sentence-transformers folder. White-box: `torch_embed` keeps gradients."""

    def __init__(self, path: str | os.PathLike, name: str | None = None, device: str | None = None):
        path = Path(path)
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise UnknownModelError(f"{path} is not a sentence-transformers folder (no modules.json or config.json)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # a weights bar on every load is noise

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.path = path
        self.name = name or path.name
        self.device = device
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.model.eval()
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.max_tokens = int(self.model.max_seq_length)
        self.tokenizer = self.model.tokenizer
        # bfloat16 is a draft for ranking many candidates (2.2x faster on this 2-core AVX512-BF16 CPU,
        # cosines within 0.002 of float32 on 1,500 val texts), worth it only where the hardware has it
        if device.startswith("cuda"):
            self.has_draft = torch.cuda.is_bf16_supported()
        else:
            self.has_draft = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(name={self.name!r}, dim={self.dim})"

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text including special tokens, as the model would see them untruncated."""
        enc = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        texts = check_texts(texts)
        # a wordpiece covers at least one character, so only texts this long can be over the limit
        if any(len(t) + 2 > self.max_tokens for t in texts):
            over = sum(n > self.max_tokens for n in self.count_tokens(texts))
            if over:
                log.warning("%d of %d texts exceed %s's limit of %d tokens and were truncated",
                            over, len(texts), self.name, self.max_tokens)
        return self._encode(texts, batch_size)

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_draft(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        """Like `embed`, computed in bfloat16: for screening candidates whose winners are then
        re-embedded exactly. Unit rows, float32."""
        import torch

        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.has_draft):
            return self._encode(check_texts(texts), batch_size)

    def torch_embed(self, texts: Sequence[str]):
        """Differentiable embeddings (torch tensor, unit rows) for white-box use."""
        import torch.nn.functional as F

        feats = self.tokenizer(check_texts(texts), padding=True, truncation=True, max_length=self.max_tokens,
                               return_tensors="pt")
        out = self.model({k: v.to(self.device) for k, v in feats.items()})["sentence_embedding"]
        return F.normalize(out, dim=-1)

    def token_table(self):
        """The transformer's input embedding matrix (vocabulary × width, a torch Parameter): what the
        white-box stages rate token swaps against and feed `torch_embed_from_inputs` from."""
        return self.model[0].auto_model.get_input_embeddings().weight

    def torch_embed_from_inputs(self, inputs_embeds, attention_mask):
        """Embeddings from token *input embeddings* (for gradient-guided token search)."""
        import torch
        import torch.nn.functional as F

        transformer = self.model[0].auto_model
        out = transformer(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(out.dtype)
        pooled = (out * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)
        return F.normalize(pooled, dim=-1)

