"""The inverter as one artifact: a config and an ordered list of named stages, saved as one folder.

    inv = Inverter.load("models/minilm")        # or load_inverter("minilm")
    results = inv.invert(vectors)                         # list[Inversion]: text + cosine + trace + queries
    fast = inv.with_config(steps=0)                       # an ablation is a config change

A folder holds `inverter.json` (the config and the stage list) and one sub-folder per stage with
everything inference needs: weights, vocabularies, reference vectors, n-gram counts, the casing model.
`inverter.json` is written last, so a folder that has it is complete. Nothing is read from the corpus
or the training split at load time.

The stages, in the order they act on a vector:
- hypothesis: `words` (the word head: which words), `decoder` (the bag decoder: sentences from those
  words), `reference` (the nearest reference sentences: more first hypotheses, and their words);
- feedback: the search re-embeds each hypothesis and edits it towards the target, drawing words from
  the `probe` (vocabulary words nearest the target) and the word head;
- refinement: `pieces` (word-piece edits, white-box embedders only), `fluency` (a trigram model
  reorders the words where no cosine is lost);
- `casing`: the opening letter's case, read from the vector, for case-blind embedders;
- `corrector` (optional): Gemma-3-270M with a trained soft prefix and adapters (prefix.py, `draft`)
  rewrites the search's result as a sentence, given the vector; the rewrite is kept when its cosine is
  within `corrector_margin` of the result's.
"""
from __future__ import annotations

import copy
import gzip
import json
import os
import shutil
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from ..embed.base import check_vectors
from ..errors import InputError, MismatchError, UnknownModelError

FORMAT = 1
STAGES = ("reference", "probe", "words", "decoder", "pieces", "fluency", "casing", "corrector")
# what each stage needs loaded beside it
NEEDS = {"decoder": ("words",), "pieces": ("probe",), "corrector": ("words",)}


@dataclass(frozen=True)
class InverterConfig:
    """Everything that shapes an inversion, besides the stages' own trained contents."""
    embedder: str
    dim: int
    stages: tuple[str, ...] = STAGES
    steps: int = 8  # rounds of re-embed-and-edit; 0: the decoder's first sentence alone
    beam: int = 4  # hypotheses kept per round
    neighbours: int = 32  # reference sentences whose words the edits draw on
    proposals: int = 48  # edits tried per hypothesis per round
    probe_words: int = 64  # probe words offered per target
    rare_words: int = 4  # and the nearest rare words beside them (where the probe ships any)
    word_count: int = 64  # word-head words offered per target
    word_weight: float = 60.0  # their proposal weight, times √p
    decoder_beam: int = 8  # decoder sentences written per target
    extrapolate: float = 1.0  # re-aim the decoder past the target after each improving round (0: off)
    hint_weight: float = 20.0  # proposal weight of a caller's hint word
    edits: bool = True  # False: the feedback only re-aims the decoder and keeps its closest sentence, no word edits
    decoder_weight: float = 0.0  # > 0: rank candidates by cosine + this × the decoder's mean token log-probability
    corrector_beam: int = 4  # sentences the corrector writes from the search's result
    corrector_margin: float = 0.0  # its closest sentence replaces the result if within this much cosine of it
    seed: int = 0

    def check(self) -> None:
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise InputError(f"unknown inverter stage(s) {', '.join(unknown)}: stages are {', '.join(STAGES)}")
        for s in self.stages:
            missing = [n for n in NEEDS.get(s, ()) if n not in self.stages]
            if missing:
                raise InputError(f"stage {s!r} needs {', '.join(map(repr, missing))} too")
        if self.steps > 0 and "reference" not in self.stages:
            raise InputError("the search (steps > 0) starts from the 'reference' stage: add it, or use steps=0")
        if self.steps == 0 and "decoder" not in self.stages and "reference" not in self.stages:
            raise InputError("with steps=0 the first hypothesis comes from the 'decoder' or 'reference' stage")

    @classmethod
    def from_dict(cls, d: dict) -> "InverterConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if "stages" in d:
            d["stages"] = tuple(d["stages"])
        return cls(**d)


PRESETS = {
    "default": {},  # hypothesis + feedback (word edits) + refinement + casing
    "fast": {"steps": 0},  # the decoder's first sentence alone, no feedback
    # feedback without word edits: the decoder rewrites for the target pushed past its best sentence so far,
    # and the closest of its sentences is kept (benchmarks/results/rewrite.json: tuned on prose val)
    # the search, then the corrector rewrites its result, kept within the margin (benchmarks/corrector.py: tuned on prose val)
    "readable": {"add": ("corrector",), "corrector_margin": 0.05},
}


class Inversion(str):
    """One reconstruction: the text itself (a `str`), its re-embedded `cosine` to the target, the
    per-step `trace` [(cosine, text), ...] and the embedder `queries` it cost."""

    cosine: float
    trace: list
    queries: int

    def __new__(cls, text: str, cosine: float = float("nan"), trace: list | None = None, queries: int = 0):
        obj = super().__new__(cls, text)
        obj.cosine, obj.trace, obj.queries = float(cosine), list(trace or []), int(queries)
        return obj

    @property
    def text(self) -> str:
        return str(self)

    def to_dict(self) -> dict:
        return {"text": str(self), "cosine": self.cosine, "queries": self.queries,
                "trace": [{"cosine": float(c), "text": t} for c, t in self.trace]}


# ---- vectors on disk: int8 (or int4) rows, one float32 scale each ----

def save_vectors(path: Path, vectors: np.ndarray, bits: int = 8) -> None:
    v = np.asarray(vectors, np.float32)
    top = 127 if bits == 8 else 7
    scale = np.abs(v).max(1) / top
    scale[scale == 0] = 1.0
    q = np.clip(np.round(v / scale[:, None]), -top, top).astype(np.int8)
    if bits == 4:
        if q.shape[1] % 2:
            raise ValueError("int4 rows need an even width")
        u = (q + 8).astype(np.uint8)
        q = (u[:, 0::2] | (u[:, 1::2] << 4)).astype(np.uint8)
    elif bits != 8:
        raise ValueError("bits is 8 or 4")
    with open(path, "wb") as f:
        np.savez(f, q=q, scale=scale.astype(np.float32), bits=np.int8(bits))


def load_vectors(path: Path) -> np.ndarray:
    """float16 rows (the search casts blocks to float32 as it reads them)."""
    with np.load(path) as z:
        q, scale, bits = z["q"], z["scale"], int(z["bits"])
    if bits == 4:
        lo, hi = (q & 15).astype(np.int8) - 8, (q >> 4).astype(np.int8) - 8
        q = np.empty((len(lo), lo.shape[1] * 2), np.int8)
        q[:, 0::2], q[:, 1::2] = lo, hi
    return (q.astype(np.float32) * scale[:, None]).astype(np.float16)


def _write_lines(path: Path, lines) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
        for line in lines:
            f.write(line.replace("\n", " ") + "\n")


def _read_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


# ---- the stages: each saves and loads its own folder ----

class ReferenceStage:
    """Reference sentences and their vectors: the search's first hypotheses and its neighbours' words."""
    name = "reference"

    def __init__(self, index):
        self.index = index

    def save(self, path: Path) -> None:
        _write_lines(path / "texts.txt.gz", self.index.texts)
        save_vectors(path / "vectors.npz", self.index.vectors)

    @classmethod
    def load(cls, path: Path, embedder, parts: dict) -> "ReferenceStage":
        from .lookup import ReferenceIndex
        texts, vectors = _read_lines(path / "texts.txt.gz"), load_vectors(path / "vectors.npz")
        if len(texts) != len(vectors) or vectors.shape[1] != embedder.dim:
            raise UnknownModelError(f"{path}: {len(texts)} texts for {len(vectors)} vectors of width {vectors.shape[1]}")
        return cls(ReferenceIndex.from_vectors(embedder, texts, vectors))


class ProbeStage:
    """Vocabulary words with their own embeddings: which words sit nearest a target."""
    name = "probe"

    def __init__(self, probe):
        self.probe = probe

    def save(self, path: Path) -> None:
        p = self.probe
        _write_lines(path / "vocab.txt.gz", p.vocab)
        (path / "probe.json").write_text(json.dumps({"common": p.common, "rare": len(p.vocab) - p.common}))
        save_vectors(path / "common.npz", p.vectors[:p.common])
        if len(p.vocab) > p.common:  # rare words: many, each offered only as one of a few beside the common ones
            save_vectors(path / "rare.npz", p.vectors[p.common:], bits=4)

    @classmethod
    def load(cls, path: Path, embedder, parts: dict) -> "ProbeStage":
        from .probe import WordProbe
        meta = json.loads((path / "probe.json").read_text())
        vocab = _read_lines(path / "vocab.txt.gz")
        vectors = [load_vectors(path / "common.npz")] + ([load_vectors(path / "rare.npz")] if meta["rare"] else [])
        return cls(WordProbe.from_vectors(vocab, np.concatenate(vectors), meta["common"]))


class WordsStage:
    """The trained word head: the likeliest words of a vector."""
    name = "words"

    def __init__(self, head):
        self.head = head

    def save(self, path: Path) -> None:
        self.head.save(path)

    @classmethod
    def load(cls, path: Path, embedder, parts: dict) -> "WordsStage":
        from .wordhead import WordPredictor
        return cls(WordPredictor.load(path))


class DecoderStage:
    """The trained bag decoder: sentences written from the vector and the word head's words."""
    name = "decoder"

    def __init__(self, decoder):
        self.decoder = decoder

    def save(self, path: Path) -> None:
        self.decoder.save(path, word_head="../words")

    @classmethod
    def load(cls, path: Path, embedder, parts: dict) -> "DecoderStage":
        from .decoder import SentenceDecoder
        return cls(SentenceDecoder.load(path, words=parts["words"].head))


class PiecesStage:
    """Word-piece edits after the search (white-box: the embedder's tokenizer and gradients). No contents."""
    name = "pieces"

    def save(self, path: Path) -> None:
        (path / "pieces.json").write_text("{}")

    @classmethod
    def load(cls, path: Path, embedder, parts: dict) -> "PiecesStage":
        return cls()


class FluencyStage:
    """A trigram model of the training sentences; reorders the search's words where no cosine is lost."""
    name = "fluency"

    def __init__(self, lm):
        self.lm = lm

    def save(self, path: Path) -> None:
        lm = self.lm
        with gzip.open(path / "ngrams.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as f:
            f.write(f"#total\t{lm.total}\n")
            for n, counts in ((1, lm.c1), (2, lm.c2), (3, lm.c3)):
                for k, c in counts.items():
                    words = (k,) if n == 1 else k
                    f.write(f"{c}\t" + "\t".join(words) + "\n")

    @classmethod
    def load(cls, path: Path, embedder, parts: dict) -> "FluencyStage":
        from .fluency import TrigramLM
        c = [Counter(), Counter(), Counter()]
        total = 0
        with gzip.open(path / "ngrams.tsv.gz", "rt", encoding="utf-8") as f:
            for line in f:
                cols = line.rstrip("\n").split("\t")
                if cols[0] == "#total":
                    total = int(cols[1])
                elif len(cols) == 2:
                    c[0][cols[1]] = int(cols[0])
                else:
                    c[len(cols) - 2][tuple(cols[1:])] = int(cols[0])
        return cls(TrigramLM(c, total))


class CasingStage:
    """The opening letter's case from the vector, for an embedder blind to case."""
    name = "casing"

    def __init__(self, model):
        self.model = model

    def save(self, path: Path) -> None:
        import torch
        torch.save({k: v.clone() for k, v in self.model.net.state_dict().items()}, path / "weights.pt")
        _write_lines(path / "capitalised.txt.gz", sorted(self.model.capitalised))

    @classmethod
    def load(cls, path: Path, embedder, parts: dict) -> "CasingStage":
        import torch
        from .casing import OpeningCase
        state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
        return cls(OpeningCase(state, set(_read_lines(path / "capitalised.txt.gz"))))


class CorrectorStage:
    """A Gemma prefix model trained on drafts (prefix.py): rewrites the search's result into a sentence.
    Loaded on first use: a folder that ships one loads as fast as before for the presets that leave it
    out, and needs the [gemma] extra only where it is used."""
    name = "corrector"

    def __init__(self, corrector=None, path: Path | None = None, words=None):
        self._corrector, self._path, self._words = corrector, path, words
        self._lock = threading.Lock()

    @property
    def corrector(self):
        with self._lock:
            if self._corrector is None:  # load() checked that the folder holds a corrector
                from .prefix import PrefixDecoder
                self._corrector = PrefixDecoder.load(self._path, words=self._words)
            return self._corrector

    def save(self, path: Path) -> None:
        if self._corrector is None:  # never used: its folder as it is
            shutil.copytree(self._path, path, dirs_exist_ok=True)
            return
        self._corrector.save(path, word_head="../words")

    @classmethod
    def load(cls, path: Path, embedder, parts: dict) -> "CorrectorStage":
        meta = json.loads((path / "config.json").read_text()) if (path / "config.json").exists() else {}
        if meta.get("kind") != "gemma-prefix" or not meta.get("model", {}).get("draft"):
            raise UnknownModelError(f"{path} is not a corrector (a Gemma prefix model trained with --draft)")
        if meta.get("embedder", {}).get("dim") != embedder.dim:
            raise UnknownModelError(f"{path}: a corrector for {meta.get('embedder')}, not {embedder.dim}-d vectors")
        return cls(path=path, words=parts["words"].head if "words" in parts else None)


STAGE_TYPES = {t.name: t for t in (ReferenceStage, ProbeStage, WordsStage, DecoderStage, PiecesStage,
                                   FluencyStage, CasingStage, CorrectorStage)}


# ---- the inverter ----

class Inverter:
    """A config and its stages, run by one search engine. Thread-safe: calls are serialised, and each
    returns its own results (nothing is left on the object)."""

    accepts_hints = True  # invert(..., hints=) offers the caller's words to the edits
    has_trace = True  # each Inversion carries its per-step trace

    def __init__(self, config: InverterConfig, embedder, parts: dict, name: str | None = None,
                 path: Path | None = None, card: dict | None = None):
        config.check()
        if embedder.dim != config.dim:
            raise MismatchError(f"this inverter reads {config.embedder} ({config.dim}-d) vectors, "
                                f"not {embedder.name} ({embedder.dim}-d)")
        missing = [s for s in config.stages if s not in parts]
        if missing:
            raise InputError(f"stage(s) {', '.join(missing)} are not in this inverter; it has {', '.join(parts)}")
        self.config, self.embedder, self.parts = config, embedder, parts
        self.name = name or config.embedder
        self.embedder_name, self.dim = config.embedder, config.dim
        self.path, self.card = path, card or {}
        self._lock = threading.Lock()
        self._engine = self._build_engine()

    @property
    def queries(self) -> int:
        """Embedder calls made by this inverter's searches so far, all calls together."""
        return self._engine.queries

    @property
    def engine(self):
        """The search engine running these stages (search.py), for research and tests; use invert() otherwise."""
        return self._engine

    def _build_engine(self):
        from .search import SearchInverter
        c, on = self.config, set(self.config.stages)
        part = lambda s, attr: getattr(self.parts[s], attr) if s in on else None  # noqa: E731
        index = part("reference", "index")
        if index is None:  # steps=0 with the decoder alone: the search never reads the index
            from .lookup import ReferenceIndex
            index = ReferenceIndex.from_vectors(self.embedder, [""], np.zeros((1, c.dim), np.float16))
        probe = part("probe", "probe")
        if probe is not None:  # a shallow copy: variants of one loaded inverter share the vectors, not this count
            probe = copy.copy(probe)
            probe.rare_count = c.rare_words if len(probe.vocab) > probe.common else 0
        polisher = None
        if "fluency" in on:
            from .fluency import FluencyPolisher
            polisher = FluencyPolisher(self.embedder, self.parts["fluency"].lm)
        decoder = part("decoder", "decoder")
        engine = SearchInverter(self.embedder, index, name=self.name, neighbours=c.neighbours, proposals=c.proposals,
                                seed=c.seed, probe=probe, probe_words=c.probe_words, polisher=polisher,
                                words=part("words", "head"), word_count=c.word_count, word_weight=c.word_weight,
                                decoder=decoder, decoder_beam=c.decoder_beam,
                                extrapolate=c.extrapolate if decoder is not None else 0.0,
                                hint_weight=c.hint_weight, casing=part("casing", "model"), edits=c.edits,
                                decoder_weight=c.decoder_weight if decoder is not None else 0.0)
        if "pieces" in on:
            from .registry import piece_refiner
            engine.pieces = piece_refiner(self.embedder, engine._known_words())
        return engine

    def with_config(self, preset: str | None = None, name: str | None = None, **overrides) -> "Inverter":
        """The same loaded stages under another config: a preset's overrides, then `overrides`
        (e.g. `steps=0`, `stages=(...)`). Shares the loaded parts; the original is unchanged."""
        if preset is not None:
            if preset not in PRESETS:
                raise InputError(f"unknown preset {preset!r}: choose {', '.join(PRESETS)}")
            overrides = PRESETS[preset] | overrides
        drop, add = overrides.pop("drop", ()), overrides.pop("add", ())
        if drop or add:
            keep = set(overrides.get("stages", self.config.stages)) - set(drop) | set(add)
            overrides["stages"] = tuple(s for s in STAGES if s in keep)
        lacking = [s for s in add if s not in self.parts]
        if lacking:
            raise InputError(f"the {preset or 'asked'} preset needs the {', '.join(lacking)} stage, which {self.name} has not: "
                             "train a corrector with `unembed train --model prefix --draft` and add it to the folder")
        if "stages" in overrides:
            overrides["stages"] = tuple(overrides["stages"])
        bad = [k for k in overrides if k not in {f.name for f in fields(InverterConfig)} or k in ("embedder", "dim")]
        if bad:
            raise InputError(f"not an inverter setting: {', '.join(bad)}")
        name = name or (self.name if preset in (None, "default") else f"{self.name}:{preset}")
        return Inverter(replace(self.config, **overrides), self.embedder, self.parts, name=name,
                        path=self.path, card=self.card)

    def invert(self, vectors: np.ndarray, steps: int | None = None, beam: int | None = None,
               hints: list[list[str]] | None = None) -> list[Inversion]:
        """One Inversion per row of `vectors`. steps/beam default to the config's."""
        from .registry import check_settings
        check_settings(steps, beam)
        v = check_vectors(vectors, self.dim)
        steps = self.config.steps if steps is None else steps
        beam = self.config.beam if beam is None else beam
        if steps > 0 and "reference" not in self.config.stages:
            raise InputError("the search (steps > 0) needs the 'reference' stage, which this config leaves out")
        with self._lock:
            texts = self._engine.invert(v, steps=steps, beam=beam, hints=hints)
            traces, queries = self._engine.trace, self._engine.queries_per_text
        cosines = (self.embedder.embed(texts) * v).sum(1) if texts else []
        if "corrector" in self.config.stages and steps > 0 and texts:
            texts, cosines, traces = self._correct(v, texts, cosines, traces)
        return [Inversion(t, c, tr, q) for t, c, tr, q in zip(texts, cosines, traces, queries)]

    def _correct(self, v: np.ndarray, texts: list[str], cosines: np.ndarray, traces: list) -> tuple:
        """The corrector's closest sentence in place of each result it is within the margin of."""
        written = self.parts["corrector"].corrector.generate(v, beam=self.config.corrector_beam, drafts=texts)
        texts, cosines, traces = list(texts), np.array(cosines, np.float32), [list(t) for t in traces]
        for i, row in enumerate(written):
            if not row:
                continue
            cands = [t for _, t in row]
            cos = self.embedder.embed(cands) @ v[i]
            j = int(np.argmax(cos))
            if cos[j] >= cosines[i] - self.config.corrector_margin:
                texts[i], cosines[i] = cands[j], cos[j]
                traces[i].append((float(cos[j]), cands[j]))
        return texts, cosines, traces

    def save(self, path: str | Path) -> Path:
        """Write the folder: one sub-folder per stage, then inverter.json last (its presence means complete)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "inverter.json").unlink(missing_ok=True)
        stages = []
        for name, stage in self.parts.items():
            d = path / name
            if d.exists():
                shutil.rmtree(d)
            d.mkdir()
            stage.save(d)
            stages.append({"name": name, "path": name})
        meta = {"format": FORMAT, "config": asdict(self.config), "stages": stages, "card": self.card}
        tmp = path / "inverter.json.partial"
        tmp.write_text(json.dumps(meta, indent=2))
        os.replace(tmp, path / "inverter.json")
        return path

    @classmethod
    def load(cls, path: str | Path, embedder=None, name: str | None = None) -> "Inverter":
        """Load a saved folder. `embedder`: an Embedder or a name (default the one it was trained for);
        one of another width is refused."""
        from ..embed import load_embedder
        path = Path(path)
        try:
            meta = json.loads((path / "inverter.json").read_text())
        except FileNotFoundError:
            raise UnknownModelError(f"{path} is not an inverter folder (no inverter.json): make one with "
                                    "`unembed train --model inverter --out DIR`") from None
        except (OSError, ValueError) as e:
            raise UnknownModelError(f"{path}/inverter.json is unreadable ({e.__class__.__name__})") from None
        if meta.get("format") != FORMAT:
            raise UnknownModelError(f"{path}: inverter format {meta.get('format')!r}; this unembed reads {FORMAT}")
        config = InverterConfig.from_dict(meta["config"])
        if embedder is None or isinstance(embedder, str):
            embedder = load_embedder(embedder or config.embedder)
        if embedder.dim != config.dim or embedder.name != config.embedder and not os.path.isdir(config.embedder):
            raise MismatchError(f"{path} was trained for {config.embedder} ({config.dim}-d), not {embedder.name} "
                                f"({embedder.dim}-d)")
        parts: dict = {}
        for entry in meta["stages"]:
            kind = entry["name"]
            if kind not in STAGE_TYPES:
                raise UnknownModelError(f"{path}: unknown stage {kind!r} (a newer unembed wrote it?)")
            parts[kind] = STAGE_TYPES[kind].load(path / entry["path"], embedder, parts)
        return cls(config, embedder, parts, name=name or str(path), path=path, card=meta.get("card", {}))


def build_inverter(embedder, train_texts: list[str], words=None, decoder=None, reference: int = 50_000,
                   rare: list[str] | None = None, config: dict | None = None, card: dict | None = None) -> Inverter:
    """Assemble an inverter from a training split and trained parts: the reference set is the first
    `reference` training sentences, the probe the training split's words (plus `rare` words), the
    trigram model the whole split, the casing model fitted on the reference set (case-blind embedders)."""
    from .casing import OpeningCase, case_blind
    from .fluency import TrigramLM
    from .lookup import ReferenceIndex
    from .probe import WordProbe, split_vocab

    index = ReferenceIndex(embedder, train_texts[:reference])
    common, _ = split_vocab(train_texts)
    parts: dict = {"reference": ReferenceStage(index),
                   "probe": ProbeStage(WordProbe(embedder, common, rare=rare or ()))}
    if words is not None:
        parts["words"] = WordsStage(words)
        if decoder is not None:
            parts["decoder"] = DecoderStage(decoder)
    if hasattr(embedder, "torch_embed_from_inputs"):
        parts["pieces"] = PiecesStage()
    parts["fluency"] = FluencyStage(TrigramLM.train(train_texts))
    if case_blind(embedder):
        parts["casing"] = CasingStage(OpeningCase.fit(index.vectors, index.texts))
    stages = tuple(s for s in STAGES if s in parts)
    cfg = InverterConfig(embedder=embedder.name, dim=embedder.dim, stages=stages, **(config or {}))
    return Inverter(cfg, embedder, parts, card=card)


def read_meta(folder: str | Path) -> dict | None:
    """An inverter folder's inverter.json, or None where it has none or it is unreadable."""
    try:
        return json.loads((Path(folder) / "inverter.json").read_text())
    except (OSError, ValueError):
        return None


def stage_path(folder: str | Path, stage: str) -> Path | None:
    """Where an inverter folder keeps one stage (inverter.json may point outside it), or None."""
    for entry in (read_meta(folder) or {}).get("stages", []):
        if entry.get("name") == stage:
            return (Path(folder) / entry["path"]).resolve()
    return None


def shipped_path(embedder_name: str) -> Path:
    """Where the inverter shipped for an embedder lives: package data (UNEMBED_MODELS overrides)."""
    from ..paths import models_dir
    return models_dir() / embedder_name
