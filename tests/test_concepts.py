"""Concept memory: sphere geometry, blends read back through the real embedder, the LanceDB memory, the CLI."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from unembed.concepts import ConceptMemory, ConceptSpace, geometry
from unembed.concepts.memory import cluster
from unembed.errors import InputError, MismatchError, StoreError


def cli(*args):
    return subprocess.run([sys.executable, "-m", "unembed.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)


def unit(x):
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x)


def test_weights_pull_the_blend_towards_the_heavier_input():
    rng = np.random.default_rng(0)
    a, b = unit(rng.normal(size=16)), unit(rng.normal(size=16))
    even, heavy_a = geometry.mean([a, b]), geometry.mean([a, b], [3, 1])
    assert heavy_a @ a > even @ a > (geometry.mean([a, b], [1, 3]) @ a)
    assert abs(float(np.linalg.norm(heavy_a)) - 1) < 1e-5
    # lerp is the weighted mean renormalised; slerp of two is the same direction at t = w_b
    assert np.allclose(geometry.lerp(a, b, 0.25), heavy_a, atol=1e-5)
    assert np.allclose(geometry.blend([a, b], [1, 1], "slerp"), even, atol=1e-5)
    with pytest.raises(InputError, match="3 weights for 2 inputs"):
        geometry.mean([a, b], [1, 2, 3])
    with pytest.raises(InputError, match="sum to zero"):
        geometry.mean([a, b], [1, -1])
    with pytest.raises(InputError, match="non-negative"):
        geometry.blend([a, b, a], [1, -0.5, 1], "slerp")
    with pytest.raises(InputError, match="unknown blend method"):
        geometry.blend([a, b], method="median")


def test_slerp_on_parallel_and_antiparallel_vectors():
    rng = np.random.default_rng(1)
    a, b = unit(rng.normal(size=8)), unit(rng.normal(size=8))
    assert np.allclose(geometry.slerp(a, b, 0), a, atol=1e-6) and np.allclose(geometry.slerp(a, b, 1), b, atol=1e-6)
    mid = geometry.slerp(a, b, 0.5)
    assert abs(mid @ a - mid @ b) < 1e-5  # equal angles to both ends
    # parallel (even with different lengths): the point itself, no division by sin(0)
    assert np.allclose(geometry.slerp(a, 5 * a, 0.3), a, atol=1e-6)
    # antiparallel: no unique great circle; we take a fixed one, so the path is unit and deterministic
    half = geometry.slerp(a, -a, 0.5)
    assert abs(np.linalg.norm(half) - 1) < 1e-5 and abs(half @ a) < 1e-5
    assert np.allclose(half, geometry.slerp(a, -a, 0.5))
    assert np.allclose(geometry.slerp(a, -a, 1.0), -a, atol=1e-5)
    path = geometry.interpolate(a, -a, 5, "slerp")
    assert np.allclose(np.linalg.norm(path, axis=1), 1, atol=1e-5)
    assert np.all(np.diff(path @ a) < 0)  # walks steadily away from a
    # lerp through the origin has no direction at t = 0.5: a clear error, not a NaN
    with pytest.raises(InputError, match="cancels out"):
        geometry.lerp(a, -a, 0.5)
    with pytest.raises(InputError, match="cancels out"):
        geometry.mean([a, -a])
    # the spherical mean of three symmetric points is their common centre
    e = np.eye(3, dtype=np.float32)
    assert np.allclose(geometry.spherical_mean(e), unit([1, 1, 1]), atol=1e-5)


def test_zero_length_and_non_finite_inputs_are_refused():
    with pytest.raises(InputError, match="all zero"):
        geometry.slerp(np.zeros(4), np.ones(4), 0.5)
    with pytest.raises(InputError, match="NaN"):
        geometry.mean([[np.nan, 1.0], [1.0, 0.0]])
    with pytest.raises(InputError, match="at least 2 points"):
        geometry.interpolate(np.ones(3), -np.ones(3), 1)


def test_cluster_is_centroid_linkage_with_counts():
    v = np.array([unit([1, 0, 0]), unit([0.95, 0.05, 0]), unit([0, 1, 0]), unit([0, 0.96, 0.04])], np.float32)
    assert cluster(v, np.ones(4), 0.9) == [[0, 1], [2, 3]]
    assert cluster(v, np.ones(4), 0.9995) == [[0], [1], [2], [3]]
    with pytest.raises(InputError, match="threshold"):
        cluster(v, np.ones(4), 1.5)


@pytest.fixture()
def space(isolated_home, minilm):
    from unembed.invert.registry import load_inverter
    return ConceptSpace(minilm, load_inverter("lookup", minilm), 0, 1)


def test_blend_reports_cosines_measured_by_re_embedding(space, minilm):
    a, b = "Shares fell on the stock market today.", "The football club won the cup final."
    res = space.blend([a, b], weights=[1, 1])
    assert set(res) >= {"text", "cosine_to_blend", "cosine_to_parents"} and res["text"]
    back = minilm.embed([res["text"]])[0]
    va, vb = minilm.embed([a, b])
    assert res["cosine_to_parents"] == pytest.approx([float(back @ va), float(back @ vb)], abs=1e-4)
    assert res["cosine_to_blend"] == pytest.approx(float(back @ geometry.mean([va, vb])), abs=1e-4)
    with pytest.raises(InputError, match="input #2 is empty"):
        space.blend([a, "  "])
    with pytest.raises(InputError, match="at least two"):
        space.blend([a])
    steps = space.path(a, b, 4)
    assert [round(r["t"], 3) for r in steps] == [0, 0.333, 0.667, 1]
    assert steps[0]["cosine_to_a"] > steps[-1]["cosine_to_a"]


def test_memory_merges_keeps_provenance_and_refuses_other_spaces(tmp_path, space, minilm):
    mem = ConceptMemory.open_or_create(tmp_path / "mem", minilm.name, minilm.dim)
    texts = ["The cat sat on the mat.", "A cat was sitting on the mat.", "Stock markets fell sharply on Monday."]
    first = mem.add(minilm.embed(texts), sources=["a.txt", "b.txt", "c.txt"])
    assert [r["merged"] for r in first] == [False] * 3 and mem.count() == 3
    arrived = mem.add(minilm.embed(["The cat sat on the mat!"]), sources=["d.txt"], merge_above=0.9)
    assert arrived[0]["merged"] and arrived[0]["concept"] == first[0]["concept"] and mem.count() == 3
    rep, after = mem.consolidate(0.8)
    assert (rep.before, rep.after, rep.items) == (3, 2, 4) and rep.reduction == pytest.approx(1 / 3)
    cat = ConceptMemory.open(tmp_path / "mem").get(first[0]["concept"])
    assert cat.count == 3 and sorted(i.source for i in cat.items) == ["a.txt", "b.txt", "d.txt"]
    vecs = minilm.embed(texts[:2] + ["The cat sat on the mat!"])
    assert float(cat.vector @ geometry.mean(vecs)) > 0.999  # count-weighted centroid of all three items
    assert abs(np.linalg.norm(cat.vector) - 1) < 1e-5
    # nothing but vectors and provenance on disk
    blob = b"".join(p.read_bytes() for p in (tmp_path / "mem").rglob("*") if p.is_file())
    assert b"sitting" not in blob and b"markets" not in blob
    # a memory of another width: the id reference names both dimensions; nothing is written
    other = ConceptMemory.open_or_create(tmp_path / "wide", "mpnet", 768)
    [row] = other.add(np.random.default_rng(0).normal(size=(1, 768)))
    with pytest.raises(MismatchError, match="768-d vectors.*384-d"):
        space.blend([f"id:{tmp_path / 'wide'}/{row['concept']}", "a cat"])
    with pytest.raises(InputError, match="dimension 768 does not match the expected dimension 384"):
        mem.add(np.ones((1, 768)))
    assert ConceptMemory.open(tmp_path / "mem").count() == 2
    with pytest.raises(StoreError, match="not an unembed concept memory"):
        ConceptMemory.open(tmp_path)


@pytest.mark.slow  # a whole CLI flow, about a minute: the fast tier keeps the library-level tests
def test_cli_blend_memory_show_map(isolated_home):
    mem = isolated_home / "mem"
    r = cli("memory", "add", "The cat sat on the mat.", "A cat was sitting on the mat.", "The recipe needs two eggs.",
            "--store", str(mem), "--source", "notes", "--json", "-")
    assert r.returncode == 0, r.stderr
    ids = [x["concept"] for x in json.loads(r.stdout)["items"]]
    r = cli("memory", "consolidate", "--store", str(mem), "--threshold", "0.8", "--json", "-")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["before"] == 3 and rep["after"] == 2 and rep["clusters"][0]["count"] == 2
    r = cli("memory", "show", "--store", str(mem), "--steps", "1", "--beam", "1", "--json", "-")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert [s["count"] for s in shown] == [2, 1] and all(s["text"] for s in shown)
    assert {i["source"] for i in shown[0]["items"]} == {"notes"}
    png = isolated_home / "map.png"
    r = cli("memory", "map", "--store", str(mem), "--out", str(png), "--labels", "3", "--steps", "1", "--beam", "1")
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    r = cli("blend", f"id:{mem}/{ids[2]}", "A bakery sells fresh bread.", "--weights", "3", "--weights", "1",
            "--steps", "1", "--beam", "1", "--json", "-")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["weights"] == [0.75, 0.25] and len(res["cosine_to_parents"]) == 2
    r = cli("blend", f"id:{mem}/m-missing", "x")
    assert r.returncode == 2 and "no concept with id 'm-missing'" in r.stderr
    r = cli("analogy", "king", "man", "woman", "--inverter", "lookup", "--json", "-")
    assert r.returncode == 0 and json.loads(r.stdout)["text"]
