"""One JSON POST for every OpenAI-compatible endpoint we call (embeddings, chat)."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from .errors import UnembedError


def post_json(url: str, body: dict, what: str, api_key_env: str = "UNEMBED_API_KEY", timeout: float = 60.0) -> dict:
    """POST `body`, return the parsed reply. The key comes from an env var, never argv; errors
    report the status or reason only, since a reply body may echo our (private) input."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    key = os.environ.get(api_key_env)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        raise UnembedError(f"{what} answered HTTP {e.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise UnembedError(f"{what} unreachable: {getattr(e, 'reason', e)}") from None
    except ValueError:
        raise UnembedError(f"{what} did not answer with JSON") from None
