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


def test_held_out_splits_are_also_written_by_kind_of_text(tmp_path, monkeypatch):
    """val_prose / test_prose hold the prose sources' held-out sentences, val_gloss / test_gloss the
    dictionaries': subsets of val and test, so nothing moves between training and held-out text."""
    from unembed.data import corpus
    prose = [f"The miller number {i} opened the sluice before the rain came down." for i in range(400)]
    gloss = [f"a small freshwater fish of kind {i} found in slow rivers" for i in range(400)]
    monkeypatch.setitem(corpus.SOURCES, "brown", lambda raw: iter(prose))
    monkeypatch.setitem(corpus.SOURCES, "wordnet", lambda raw: iter(gloss))
    m = build(tmp_path / "d", CorpusConfig(sources=("brown", "wordnet"), ood=(), val_fraction=0.1, test_fraction=0.1),
              raw=tmp_path / "raw")
    for split in ("val", "test"):
        whole = set((tmp_path / "d" / f"{split}.txt").read_text().splitlines())
        p = (tmp_path / "d" / f"{split}_prose.txt").read_text().splitlines()
        g = (tmp_path / "d" / f"{split}_gloss.txt").read_text().splitlines()
        assert p and g and set(p) | set(g) == whole and set(p) <= set(prose) and set(g) <= set(gloss)
        assert m["kinds"][f"{split}_prose"] == len(p) and m["kinds"][f"{split}_gloss"] == len(g)
