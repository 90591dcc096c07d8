"""The public Python API, called as a user calls it: twice in one process, with the real embedder."""
import numpy as np


def test_each_api_function_works_twice_in_one_process(isolated_home):
    import unembed
    from unembed.embed import load_embedder  # a subpackage import between calls must not shadow the API
    from unembed.invert.registry import load_inverter as _  # noqa: F401

    ref = isolated_home / "ref.txt"
    texts = ["The cat sat on the mat.", "Stock markets fell sharply on Monday."]
    ref.write_text("\n".join(texts + ["A heron waited by the weir."]) + "\n")
    for _round in range(2):
        vecs = unembed.embed(texts)
        assert vecs.shape == (2, 384) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
        assert unembed.invert(vecs, inverter=f"lookup:{ref}") == texts
        inv = unembed.load_inverter(f"lookup:{ref}")
        assert unembed.invert(vecs, inverter=inv) == texts
        assert unembed.invert_embeddings(vecs, inverter=inv, num_steps=0, sequence_beam_width=1) == texts
    assert callable(unembed.embed) and callable(unembed.invert) and load_embedder("minilm").dim == 384


def test_the_shipped_inverter_through_the_api_twice(minilm):
    import unembed
    from unembed.invert.inverter import Inversion
    texts = ["Heavy rain flooded several roads in the north of the city on Sunday night."]
    vecs = unembed.embed(texts)
    first = unembed.invert(vecs, steps=1, beam=2)
    inv = unembed.load_inverter("minilm")
    assert unembed.load_inverter("minilm") is inv and unembed.load_inverter() is inv  # loaded once
    second = unembed.invert(vecs, inverter=inv, steps=1, beam=2)
    pair = unembed.invert_embeddings(vecs, inv, num_steps=1, sequence_beam_width=2)
    assert first == second == pair and isinstance(first[0], Inversion) and first[0].cosine > 0.8
    fast = unembed.load_inverter("minilm", preset="fast")
    assert fast.config.steps == 0 and unembed.invert(vecs, inverter=fast)[0].queries == 0
    assert unembed.invert(vecs, inverter=inv, steps=1, beam=2, hints=[["rain"]])[0]
