"""Any OpenAI-compatible chat endpoint. The prompt holds (reconstructed) context: never logged."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from ..errors import UnembedError


class ChatEndpoint:
    def __init__(self, base_url: str, model: str, api_key_env: str = "UNEMBED_API_KEY", timeout: float = 120.0):
        self.base_url = base_url.rstrip("/").removesuffix("/chat/completions")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.name = f"{model}@{self.base_url}"

    def generate(self, prompt: str, max_tokens: int = 32) -> str:
        body = json.dumps({"model": self.model, "max_tokens": max_tokens, "temperature": 0,
                           "messages": [{"role": "user", "content": prompt}]}).encode()
        req = urllib.request.Request(self.base_url + "/chat/completions", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        key = os.environ.get(self.api_key_env)
        if key:
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise UnembedError(f"chat endpoint {self.base_url} answered HTTP {e.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise UnembedError(f"chat endpoint {self.base_url} unreachable: {getattr(e, 'reason', e)}") from None
        try:
            return str(payload["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError):
            raise UnembedError(f"chat endpoint {self.base_url} returned no choices[0].message.content") from None
