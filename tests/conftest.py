import json
import os
from http.server import BaseHTTPRequestHandler

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def minilm():
    from unembed.embed import load_embedder

    return load_embedder("minilm")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A real build from the locally installed BBC source, capped small."""
    from unembed.data.corpus import CorpusConfig, build

    root = tmp_path_factory.mktemp("corpus")
    manifest = build(root / "data", CorpusConfig(sources=("bbc",), ood=(), limit_per_source=600),
                     raw=root / "raw")
    return root / "data", manifest


@pytest.fixture()
def isolated_home(tmp_path, monkeypatch, tiny_corpus):
    monkeypatch.setenv("UNEMBED_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UNEMBED_DATA", str(tiny_corpus[0]))
    return tmp_path


class JSONHandler(BaseHTTPRequestHandler):
    """Base for the real HTTP servers tests stand up on 127.0.0.1: JSON in, JSON out, no logging."""

    def read_json(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def send_json(self, obj, status: int = 200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass
