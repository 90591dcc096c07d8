"""Language-model backends that turn retrieved context into an answer.

`gemma` (default): the local Gemma-3-270M base model, CPU, no network. `MODEL@URL`: any
OpenAI-compatible `/v1/chat/completions` endpoint (key from UNEMBED_API_KEY).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from ..errors import UnknownModelError


class Generator(Protocol):
    name: str

    def generate(self, prompt: str, max_tokens: int = 32) -> str: ...


@lru_cache(maxsize=4)
def load_generator(spec: str = "gemma") -> Generator:
    if spec == "gemma":
        from .gemma import LocalGemma
        return LocalGemma()
    model, sep, url = spec.partition("@")
    if sep and url.startswith(("http://", "https://")):
        from .chat import ChatEndpoint
        return ChatEndpoint(url, model)
    raise UnknownModelError(f"unknown generator {spec!r}: use gemma or MODEL@http(s)://host/v1")
