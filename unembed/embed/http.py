"""Any OpenAI-compatible `/v1/embeddings` endpoint: a black box we can only query."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError, UnembedError
from ..http_client import post_json
from .base import check_texts, l2_normalise


class HTTPEmbedder:
    """POSTs `{"model", "input"}` to `{base_url}/embeddings`; the key comes from an env var, never argv."""

    def __init__(self, base_url: str, model: str, api_key_env: str = "UNEMBED_API_KEY",
                 dim: int | None = None, timeout: float = 60.0, name: str | None = None):
        self.base_url = base_url.rstrip("/")
        if self.base_url.endswith("/embeddings"):
            self.base_url = self.base_url[: -len("/embeddings")]
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.name = name or f"{model}@{self.base_url}"
        self.queries = 0  # texts sent so far: the black-box query budget spent
        self._dim = dim

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed(["dimension probe"]).shape[1])
        return self._dim

    def __repr__(self) -> str:
        return f"HTTPEmbedder(name={self.name!r})"

    def _post(self, texts: list[str]) -> list[list[float]]:
        payload = post_json(self.base_url + "/embeddings", {"model": self.model, "input": texts},
                            f"embedding endpoint {self.base_url}", self.api_key_env, self.timeout)
        try:
            rows = sorted(payload["data"], key=lambda r: r.get("index", 0))
            vecs = [r["embedding"] for r in rows]
        except (KeyError, TypeError):
            raise UnembedError(f"embedding endpoint {self.base_url} returned no 'data[].embedding' list") from None
        if len(vecs) != len(texts):
            raise UnembedError(f"embedding endpoint returned {len(vecs)} vectors for {len(texts)} texts")
        return vecs

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        texts = check_texts(texts)
        out = []
        for i in range(0, len(texts), batch_size):
            chunk = texts[i:i + batch_size]
            out.extend(self._post(chunk))
            self.queries += len(chunk)
        widths = {len(v) if isinstance(v, list) else -1 for v in out}
        if len(widths) != 1 or -1 in widths:
            raise UnembedError(f"embedding endpoint {self.base_url} returned rows of different lengths "
                               f"({', '.join(str(w) for w in sorted(widths))}): not one embedding model's output")
        try:
            arr = np.asarray(out, dtype=np.float32)
        except (TypeError, ValueError):
            raise UnembedError(f"embedding endpoint {self.base_url} returned embeddings that are not numbers") from None
        if self._dim is not None and arr.shape[1] != self._dim:
            raise InputError(f"endpoint returned dimension {arr.shape[1]}, expected {self._dim}")
        self._dim = arr.shape[1]
        return l2_normalise(arr)
