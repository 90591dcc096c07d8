"""The eval contract and the CLI, run as a user runs them: real subprocesses, real files."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

KEYS = {"n", "embedder", "inverter", "steps", "beam", "bleu", "token_f1", "exact_match", "cosine",
        "seconds_per_text", "samples"}


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "unembed.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.fixture()
def files(isolated_home, tiny_corpus):
    root = tiny_corpus[0]
    test = isolated_home / "test.txt"
    test.write_text("\n".join((root / "test.txt").read_text().splitlines()[:4]) + "\n\n")
    return {"test": test, "train": root / "train.txt", "tmp": isolated_home}


def test_eval_contract_lookup(files):
    out = files["tmp"] / "report.json"
    r = run("eval", "--input", str(files["test"]), "--inverter", "lookup", "--no-readability", "--json", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert set(report) == KEYS
    assert report["n"] == 4 and report["embedder"] == "minilm" and report["inverter"] == "lookup"
    assert 0 <= report["bleu"] <= 100 and 0 <= report["token_f1"] <= 1 and 0 <= report["exact_match"] <= 1
    assert -1 <= report["cosine"] <= 1 and report["seconds_per_text"] > 0
    assert len(report["samples"]) == 4 and set(report["samples"][0]) == {"text", "reconstruction", "cosine"}
    assert "bleu" in r.stdout  # the readable table


@pytest.mark.slow
def test_eval_reports_readability_under_the_local_gemma(gemma, files):
    """Readability: the originals read back verbatim score an nll_ratio of exactly 1; the keys
    already in the contract stay, the new ones are added, and the rule is stated."""
    out = files["tmp"] / "r.json"
    r = run("eval", "--input", str(files["test"]), "--inverter", f"lookup:{files['test']}", "--json", str(out))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert set(rep) == KEYS | {"nll", "nll_reference", "nll_ratio", "readability"}
    assert rep["nll_ratio"] == pytest.approx(1.0) and 1.0 < rep["nll"] < 8.0 and "Gemma" in rep["readability"]
    salad = files["tmp"] / "salad.txt"
    salad.write_text("closed steel the was cracks bridge found supports repairs engineers two its\n")
    r = run("eval", "--input", str(files["test"]), "--inverter", f"lookup:{salad}", "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["nll_ratio"] > 1.3  # a word salad reads far worse than the originals


def test_eval_inverts_texts_seen_by_reference_exactly(files):
    """A lookup whose reference holds the test texts must return them: BLEU 100, exact match 1."""
    out = files["tmp"] / "r.json"
    r = run("eval", "--input", str(files["test"]), "--inverter", f"lookup:{files['test']}", "--no-readability",
            "--json", str(out))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["exact_match"] == 1.0 and rep["bleu"] == pytest.approx(100) and rep["cosine"] > 0.999


def test_search_improves_cosine_over_lookup(files):
    reports = {}
    for spec, steps in (("lookup", 0), ("search", 3)):
        out = files["tmp"] / f"{spec}.json"
        r = run("eval", "--input", str(files["test"]), "--inverter", spec, "--steps", str(steps), "--beam", "2",
                "--no-readability",
                "--json", str(out))
        assert r.returncode == 0, r.stderr
        reports[spec] = json.loads(out.read_text())
    assert reports["search"]["cosine"] >= reports["lookup"]["cosine"]


def test_roundtrip_and_invert_vectors(files, minilm):
    r = run("roundtrip", "The minister announced new funding for schools.", "--inverter", "lookup", "--json", "-")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows[0]["text"].startswith("The minister") and rows[0]["reconstruction"] and -1 <= rows[0]["cosine"] <= 1

    vecs = files["tmp"] / "v.npy"
    np.save(vecs, minilm.embed(["one sentence here", "and another one"]) * 7)  # unnormalised is fine
    r = run("invert", "--vectors", str(vecs), "--inverter", "lookup")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 2


def test_bad_input_gives_a_clear_error(files):
    bad = files["tmp"] / "bad.npy"
    np.save(bad, np.ones((2, 768), dtype=np.float32))
    r = run("invert", "--vectors", str(bad), "--inverter", "lookup")
    assert r.returncode == 2 and "expected dimension 384" in r.stderr and "Traceback" not in r.stderr
    np.save(bad, np.array([[np.nan] * 384], dtype=np.float32))
    r = run("invert", "--vectors", str(bad), "--inverter", "lookup")
    assert r.returncode == 2 and "NaN" in r.stderr
    r = run("eval", "--input", str(files["tmp"] / "missing.txt"))
    assert r.returncode == 2 and "not found" in r.stderr
    r = run("eval", "--input", str(files["test"]), "--inverter", "oracle")
    assert r.returncode == 2 and "unknown inverter" in r.stderr
    r = run("eval", "--input", str(files["test"]), "--embedder", "nope")
    assert r.returncode == 2 and "unknown embedder" in r.stderr
