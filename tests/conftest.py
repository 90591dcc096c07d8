import os

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
