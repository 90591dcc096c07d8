"""Any OpenAI-compatible chat endpoint. The prompt holds (reconstructed) context: never logged."""
from __future__ import annotations

from ..errors import UnembedError
from ..http_client import post_json


class ChatEndpoint:
    def __init__(self, base_url: str, model: str, api_key_env: str = "UNEMBED_API_KEY", timeout: float = 120.0):
        self.base_url = base_url.rstrip("/").removesuffix("/chat/completions")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.name = f"{model}@{self.base_url}"

    def generate(self, prompt: str, max_tokens: int = 32) -> str:
        body = {"model": self.model, "max_tokens": max_tokens, "temperature": 0,
                "messages": [{"role": "user", "content": prompt}]}
        payload = post_json(self.base_url + "/chat/completions", body, f"chat endpoint {self.base_url}",
                            self.api_key_env, self.timeout)
        try:
            return str(payload["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError):
            raise UnembedError(f"chat endpoint {self.base_url} returned no choices[0].message.content") from None
