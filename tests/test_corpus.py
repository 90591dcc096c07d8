import json

from unembed.data.corpus import CorpusConfig, build, clean
from unembed.embed.registry import load_embedder_tokenizer


def test_build_is_deterministic_deduplicated_and_bounded(tiny_corpus, tmp_path):
    root, manifest = tiny_corpus
    splits = {s: (root / f"{s}.txt").read_text().splitlines() for s in ("train", "val", "test", "ood")}
    assert manifest["splits"]["train"] == len(splits["train"]) > 400
    assert sum(manifest["splits"].values()) == 600
    every = [s for lines in splits.values() for s in lines]
    assert len(set(x.lower() for x in every)) == len(every), "a sentence appears twice"
    assert not set(splits["train"]) & set(splits["test"])
    tok = load_embedder_tokenizer("minilm")
    assert max(len(ids) for ids in tok(every, add_special_tokens=False)["input_ids"]) <= 32
    assert json.loads((root / "manifest.json").read_text())["per_source"]["bbc"]["kept"] == 600
    again = build(tmp_path / "again", CorpusConfig(sources=("bbc",), ood=(), limit_per_source=600), raw=tmp_path / "raw")
    assert again["splits"] == manifest["splits"]
    assert (tmp_path / "again" / "test.txt").read_text() == (root / "test.txt").read_text()


def test_ood_source_never_reaches_training(tmp_path):
    m = build(tmp_path / "d", CorpusConfig(sources=("bbc",), ood=("bbc",), limit_per_source=50), raw=tmp_path / "raw")
    assert m["splits"] == {"train": 0, "val": 0, "test": 0, "ood": 50}


def test_clean_rejects_noise():
    assert clean("The board met on Monday to discuss the merger.") is not None
    assert clean("http://spam.example ### $$$ 1234 5678 9999") is None
    assert clean("unbalanced ( parenthesis here") is None
