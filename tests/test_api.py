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
