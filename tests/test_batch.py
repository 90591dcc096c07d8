"""Batch inversion as a resumable job: in this process, and across a local Ray cluster, with the same texts."""
import ast
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unembed.errors import InputError

SENTENCES = [
    "The bridge was closed for repairs after engineers found cracks.",
    "The committee voted to delay the decision until next month.",
    "She planted tomatoes and basil along the garden fence.",
    "Heavy rain flooded the lower streets of the old town.",
    "The museum opened a new wing for modern sculpture.",
    "He forgot his umbrella on the train this morning.",
    "Prices for fresh fruit rose sharply during the winter.",
    "The children built a snowman in the school yard.",
    "A small plane landed safely in a field near the farm.",
    "The library will stay open late during exam week.",
    "Our neighbours adopted a grey cat from the shelter.",
    "The orchestra rehearsed the symphony for three hours.",
    "Doctors advised the patient to rest for two weeks.",
    "The ferry was cancelled because of strong winds.",
    "Students protested against the rise in tuition fees.",
    "The bakery sells warm bread every morning at seven.",
    "A new road will link the village to the motorway.",
    "The team celebrated their first win of the season.",
    "Engineers tested the engine in the desert heat.",
    "The mayor promised more buses for the northern suburbs.",
]


def cli(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "unembed.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=900, **kw)


def write_parquet(path, ids, vectors):
    pq.write_table(pa.table({"id": ids, "vector": [list(map(float, v)) for v in vectors], "note": ["x"] * len(ids)}), path)


def texts_of(out):
    from unembed.invert.batch import read_results
    return [(r["id"], r["text"]) for r in read_results(out)]


def test_a_local_job_writes_parts_skips_them_on_rerun_and_refuses_another_input(tmp_path, minilm):
    from unembed.api import load_inverter
    from unembed.invert.batch import BatchJob, Vectors, read_results, read_vectors, run_batch

    vecs = minilm.embed(SENTENCES[:5])
    src = tmp_path / "v.parquet"
    write_parquet(src, [f"s{i}" for i in range(5)], vecs)
    data = read_vectors(str(src))
    assert data.ids == [f"s{i}" for i in range(5)] and np.allclose(data.vectors, vecs, atol=1e-6)
    job = BatchJob(preset="fast", batch_size=2)
    first = run_batch(data, tmp_path / "job", job, progress=False)
    assert first["units"] == 3 and first["inverted"] == 3 and first["skipped"] == 0
    assert sorted(p.name for p in (tmp_path / "job").glob("part-*")) == [f"part-00000{i}.parquet" for i in range(3)]
    rows = read_results(tmp_path / "job")
    want = load_inverter("fast").invert(vecs[:2])  # the first unit, inverted directly
    assert [r["id"] for r in rows] == data.ids and [r["text"] for r in rows[:2]] == [str(t) for t in want]
    assert all(0.5 < r["cosine"] <= 1.0001 for r in rows)

    (tmp_path / "job" / "part-000001.parquet").unlink()  # as if killed before this unit was written
    again = run_batch(data, tmp_path / "job", job, progress=False)
    assert again["skipped"] == 2 and again["inverted"] == 1 and texts_of(tmp_path / "job") == [(r["id"], r["text"]) for r in rows]

    with pytest.raises(InputError, match="other vectors"):
        run_batch(Vectors(data.ids, data.vectors[::-1].copy()), tmp_path / "job", job, progress=False)
    with pytest.raises(InputError, match="other settings"):
        run_batch(data, tmp_path / "job", BatchJob(preset="fast", batch_size=3), progress=False)
    with pytest.raises(InputError, match="384-d"):
        run_batch(Vectors(["a"], np.ones((1, 768), np.float32)), tmp_path / "wide", job, progress=False)


def test_bad_inputs_are_named(tmp_path, minilm):
    from unembed.invert.batch import read_vectors

    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    pq.write_table(pa.table({"a": [[1.0, 2.0]], "b": [[3.0, 4.0]]}), tmp_path / "two.parquet")
    pq.write_table(pa.table({"id": ["x", "x"], "vector": [[1.0, 2.0], [3.0, 4.0]]}), tmp_path / "dup.parquet")
    pq.write_table(pa.table({"vector": [[1.0, 2.0], [3.0]]}), tmp_path / "ragged.parquet")
    for name, msg in [("bad.parquet", "not a readable parquet"), ("two.parquet", "name the vector column"),
                      ("dup.parquet", "not unique"), ("ragged.parquet", "one width"), ("none.parquet", "no such file")]:
        with pytest.raises(InputError, match=msg):
            read_vectors(str(tmp_path / name))
    r = cli("invert-batch", str(tmp_path / "two.parquet"), "--out", str(tmp_path / "job"))
    assert r.returncode == 2 and "name the vector column" in r.stderr and "Traceback" not in r.stderr
    r = cli("invert-batch", str(tmp_path / "two.parquet"), "--column", "a", "--out", str(tmp_path / "job"))
    assert r.returncode == 2 and "384-d" in r.stderr and not (tmp_path / "job").exists()


@pytest.mark.slow
def test_ray_workers_give_the_local_texts_and_a_killed_job_resumes(tmp_path, minilm):
    """20 vectors through the search (2 steps, beam 2): here, then on 2 Ray workers killed mid-job and rerun."""
    pytest.importorskip("ray")
    src = tmp_path / "v.parquet"
    write_parquet(src, [f"s{i:02d}" for i in range(20)], minilm.embed(SENTENCES))
    common = ["--steps", "2", "--beam", "2", "--batch-size", "2"]
    r = cli("invert-batch", str(src), "--out", str(tmp_path / "local"), *common, "--json", str(tmp_path / "local.json"))
    assert r.returncode == 0, r.stderr
    local = texts_of(tmp_path / "local")
    assert len(local) == 20 and len({t for _, t in local}) > 15

    out = tmp_path / "ray"
    cmd = [sys.executable, "-m", "unembed.cli", "invert-batch", str(src), "--out", str(out), "--workers", "2", *common]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    while len(list(out.glob("part-*.parquet"))) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local cluster it started
    proc.wait()
    done_before = len(list(out.glob("part-*.parquet")))
    assert 3 <= done_before < 10, "the kill should land mid-job"

    r = cli("invert-batch", str(src), "--out", str(out), "--workers", "2", *common, "--json", str(tmp_path / "ray.json"))
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "ray.json").read_text())
    assert summary["skipped"] == done_before and summary["inverted"] == 10 - done_before
    assert texts_of(out) == local  # every id once, in order, the same texts
    assert not list(out.glob(".*partial"))


@pytest.mark.slow
def test_ray_ingest_stores_what_ingest_stores_and_skips_unchanged_files(tmp_path, minilm):
    pytest.importorskip("ray")
    import shutil
    from pathlib import Path

    from unembed.rag import open_or_create
    from unembed.rag.ingest import ingest
    from unembed.store import open_store

    docs = tmp_path / "docs"
    shutil.copytree(Path(__file__).resolve().parent.parent / "benchmarks" / "rag_qa" / "docs", docs)
    local = open_or_create(tmp_path / "local", minilm, "default", mode="lossy")
    ingest([docs], local, minilm, progress=False)
    r = subprocess.run([sys.executable, "-m", "unembed.rag.ray_ingest", str(docs), "--store", str(tmp_path / "ray"),
                        "--mode", "lossy", "--workers", "2"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    first = ast.literal_eval(r.stdout.strip().splitlines()[-1])  # the summary dict it prints
    assert first["added"] == 8 and first["unchanged"] == 0
    a, b = open_store(tmp_path / "local"), open_store(tmp_path / "ray")
    assert a.documents() == b.documents() and a.count() == b.count() > 8
    ra, rb = sorted(a.rows(), key=lambda h: h.id), sorted(b.rows(), key=lambda h: h.id)
    assert [h.id for h in ra] == [h.id for h in rb] and all(h.text is None for h in rb)
    assert np.allclose(np.stack([h.vector for h in ra]), np.stack([h.vector for h in rb]), atol=1e-4)
    assert all(np.allclose(x.parts, y.parts, atol=1e-4) for x, y in zip(ra, rb) if x.parts is not None)

    (docs / "volcano.txt").write_text("Vesuvius is quiet today, and the guides say so.\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "unembed.rag.ray_ingest", str(docs), "--store", str(tmp_path / "ray"),
                        "--workers", "2"], capture_output=True, text=True, timeout=600)
    again = ast.literal_eval(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 0 and again["unchanged"] == 7 and again["replaced"] == 1
