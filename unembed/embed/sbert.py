"""Sentence-transformers embedders loaded by path (never by hub name)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UnknownModelError
from .base import check_texts
from .draft import draft_available, onnx_draft

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
        # a draft ranks many candidates cheaply; the search embeds only the winners exactly. On a CPU it is
        # the model in int8 under onnxruntime where it exports and passes draft.py's check (1.39x the
        # bfloat16 draft's speed on minilm); else bfloat16 (2.2x float32 on this 2-core AVX512-BF16 CPU,
        # cosines within 0.002 of float32 on 1,500 val texts), worth it only where the hardware has it
        if device.startswith("cuda"):
            self._bf16 = bool(torch.cuda.is_bf16_supported())
        else:
            self._bf16 = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        self._kind: str | None = "unresolved" if device == "cpu" and draft_available(self.model) else (
            "bfloat16" if self._bf16 else None)
        self._int8 = None  # the int8 draft's encoder, exported or loaded when first asked for

    @property
    def draft_kind(self) -> str | None:
        """"int8", "bfloat16" or None (no draft): what `embed_draft` computes in. Settable, to compare."""
        if self._kind == "unresolved":  # export (or load) the int8 draft only when a draft is wanted
            self._int8 = onnx_draft(self.model, self.tokenizer, self.path, self.name, self.max_tokens)
            self._kind = "int8" if self._int8 else "bfloat16" if self._bf16 else None
        return self._kind

    @draft_kind.setter
    def draft_kind(self, kind: str | None) -> None:
        if kind not in ("int8", "bfloat16", None):
            raise ValueError(f"draft_kind is 'int8', 'bfloat16' or None, not {kind!r}")
        if kind == "int8" and self._int8 is None:
            self._int8 = onnx_draft(self.model, self.tokenizer, self.path, self.name, self.max_tokens, check=False)
            if self._int8 is None:
                raise ValueError(f"{self.name} has no int8 draft (needs onnxruntime and a mean-pooled transformer)")
        self._kind = kind

    @property
    def has_draft(self) -> bool:
        return self.draft_kind is not None

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
        """Like `embed`, approximately (`draft_kind`: int8 under onnxruntime, or bfloat16): for screening
        candidates whose winners are then re-embedded exactly. Unit rows, float32."""
        import torch

        texts = check_texts(texts)
        kind = self.draft_kind
        if kind == "int8":
            return self._int8(texts, batch_size)
        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=kind == "bfloat16"):
            return self._encode(texts, batch_size)

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

