"""Inverters by spec.

The shipped inverter for an embedder (`default`, or none given) and its presets (`fast`) load the
saved folder in the package (inverter.py); a folder path with an `inverter.json` loads that folder.
The research recipes below build from the corpus at load time (`unembed data build` first):
`lookup[:N|:FILE]`, `search:N|:FILE`, `prefix:DIR`, and the black-box and aligned ones.
N is how many training-split sentences form the reference corpus (default 50,000); FILE is a text
file of them, whose words then also make the word probe's vocabulary.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..data.corpus import read_lexicon, read_split
from ..errors import InputError, MismatchError, UnknownModelError
from .lookup import LookupInverter, ReferenceIndex

DEFAULT_REFERENCE = 50_000
# zero-shot embeds its seeds and probe words with the unknown embedder once (cached): a setup
# cost of ZERO_SHOT_REFERENCE + ZERO_SHOT_VOCAB queries, kept small for paid or slow endpoints
ZERO_SHOT_REFERENCE = 10_000
ZERO_SHOT_VOCAB = 10_000
# align+search's piece edits on the victim keep a word no list holds only for this much more cosine than the
# best text without one: its results sit far from the target (mpnet cosine 0.89), where the gradient also
# builds junk (40 val texts: token F1 0.502 at 0, 0.515 at 0.02, 0.514 never; README *Invert any embedder*)
ALIGNED_NEW_WORD_MARGIN = 0.02
# what `--steps/--beam` default to for the recipes when the user gives none (an Inverter's come from its config)
DEFAULTS = {"lookup": (0, 1), "search": (8, 4), "prefix": (8, 4), "zero-shot": (8, 4), "zero-shot+grad": (8, 4), "align": (8, 4),
            "align+search": (8, 4)}
SPECS = ("default, fast, an inverter folder, lookup[:N|:FILE], search:N|:FILE, prefix:DIR, zero-shot[:QUERIES], "
         "zero-shot+grad[:QUERIES], align:MAP, align+search:MAP")


def _count(arg: str, problem: str) -> int:
    try:
        n = int(arg)
    except ValueError:
        raise UnknownModelError(problem) from None
    if n < 1:
        raise UnknownModelError(problem)
    return n


def _reference(arg: str | None) -> tuple[list[str], bool]:
    """The reference sentences, and whether they are the user's own file (not a share of the train split)."""
    if arg and os.path.isfile(arg):
        return [ln for ln in Path(arg).read_text(encoding="utf-8").splitlines() if ln.strip()], True
    n = _count(arg, f"reference {arg!r} is neither a file nor a sentence count") if arg else DEFAULT_REFERENCE
    return read_split("train")[:n], False


def shipped_inverter(embedder, preset: str | None = None, name: str | None = None):
    """The inverter shipped in the package for this embedder, under a preset; a loud error where none is."""
    from .inverter import Inverter, shipped_path
    path = shipped_path(embedder.name)
    if not (path / "inverter.json").exists():
        if embedder.name == "minilm":
            raise UnknownModelError(f"the shipped minilm inverter is missing from {path.parent.name}/: reinstall "
                                    "unembed (`pip install --force-reinstall unembed`) or set UNEMBED_MODELS")
        raise UnknownModelError(f"no inverter is shipped for {embedder.name}: train one with `unembed train --model "
                                f"inverter --embedder {embedder.name} --out DIR`, then pass --inverter DIR")
    inv = Inverter.load(path, embedder, name=name or "default")
    return inv if preset in (None, "default") else inv.with_config(preset=preset, name=name or preset)


def shipped_word_head(embedder):
    """The word head of the inverter shipped for this embedder, or None."""
    from .inverter import shipped_path, stage_path
    from .wordhead import WordPredictor
    path = stage_path(shipped_path(embedder.name), "words")
    if path is None or not (path / "config.json").exists():
        return None
    head = WordPredictor.load(path)
    return head if (head.embedder_name, head.dim) == (embedder.name, embedder.dim) else None


def shipped_decoder(embedder, words):
    """The bag decoder of the inverter shipped for this embedder, over `words`, or None."""
    from .decoder import SentenceDecoder
    from .inverter import shipped_path, stage_path
    path = stage_path(shipped_path(embedder.name), "decoder")
    if words is None or path is None or not (path / "config.json").exists():
        return None
    return SentenceDecoder.load(path, words=words)


def default_inverter(embedder_name: str) -> str:
    """The best inverter shipped for this embedder (measured in benchmarks/)."""
    return "default"


def load_inverter(spec: str | None, embedder, preset: str | None = None):
    """An inverter for `embedder` by spec (SPECS); `preset` (fast, default) applies to inverter folders."""
    from .inverter import PRESETS, Inverter
    spec = spec or default_inverter(embedder.name)
    if spec in PRESETS or spec == "search":  # "search": the old name of the shipped default
        if preset is not None and spec != "default" and spec != "search":
            raise InputError(f"--inverter {spec} is itself a preset; leave out --preset")
        return shipped_inverter(embedder, preset if spec in ("default", "search") else spec,
                                name=spec if spec == "search" else None)
    if os.path.isdir(spec):
        if not os.path.exists(os.path.join(spec, "inverter.json")):
            raise UnknownModelError(f"{spec} is not an inverter folder (no inverter.json): make one with "
                                    "`unembed train --model inverter --out DIR`")
        inv = Inverter.load(spec, embedder, name=spec)
        return inv if preset in (None, "default") else inv.with_config(preset=preset)
    if preset not in (None, "default"):
        raise InputError(f"--preset applies to the shipped inverter or an inverter folder, not to {spec!r}")
    kind, _, arg = spec.partition(":")
    if kind == "prefix":  # the shipped inverter with a trained Gemma prefix inverter writing its first hypotheses
        from .inverter import DecoderStage
        from .prefix import PrefixDecoder
        if not arg:
            raise UnknownModelError("prefix needs a trained model folder: --inverter prefix:DIR (unembed train --model prefix)")
        base = shipped_inverter(embedder)
        decoder = PrefixDecoder.load(arg, words=base.parts["words"].head)
        if (decoder.embedder_name, decoder.dim) != (embedder.name, embedder.dim):
            raise MismatchError(f"{arg} was trained for {decoder.embedder_name}, not {embedder.name}")
        # Gemma writes too slowly on a CPU to write again after every step: no extrapolation
        return Inverter(replace(base.config, extrapolate=0.0), embedder, base.parts | {"decoder": DecoderStage(decoder)},
                        name=spec, path=base.path, card=base.card)
    if kind == "lookup":
        return LookupInverter(embedder, ReferenceIndex(embedder, _reference(arg or None)[0]), name=spec)
    if kind == "search":  # search:N|FILE: the recipe, built from the corpus
        return search_inverter(embedder, spec, arg or None)
    if kind in ("zero-shot", "zero-shot+grad"):
        return zero_shot(embedder, spec, arg, gradient=kind.endswith("+grad"))
    if kind in ("align", "align+search"):
        from .align import AlignedInverter, Alignment
        from ..embed import load_embedder
        if not arg:
            raise UnknownModelError(f"{kind} needs a map file: --inverter {kind}:MAP.npz (make one with `unembed align`)")
        alignment = Alignment.load(arg)
        target = load_embedder(alignment.target[0])
        # piece edits score against the vector they are given: a mapped vector is an estimate, and they would
        # spell out its error; the true vector (align+search's refiner, white-box victims) is where they pay
        inner = search_inverter(target, pieces=False)
        refiner = None
        if kind == "align+search":
            from .search import SearchInverter
            pieces = piece_refiner(embedder, inner._known_words(), ALIGNED_NEW_WORD_MARGIN)
            refiner = SearchInverter(embedder, inner.index, name=spec, probe=inner.probe, words=inner.words,
                                     decoder=inner.decoder, pieces=pieces)
        return AlignedInverter(alignment, embedder, inner, name=spec, refiner=refiner)
    raise UnknownModelError(f"unknown inverter {spec!r}: use {SPECS}")


def search_inverter(embedder, spec: str = "search", reference: str | None = None, pieces: bool = True):
    """The search inverter over `reference` (a sentence count or a file; default the first DEFAULT_REFERENCE
    train sentences), with every part shipped for the embedder, and piece edits last where it is a torch model."""
    from .fluency import FluencyPolisher, TrigramLM
    from .probe import WordProbe, rare_vocab, split_vocab
    from .search import SearchInverter
    texts, own = _reference(reference)
    index = ReferenceIndex(embedder, texts)
    # a reference file is a small corpus of the user's: its own words are the probe's whole vocabulary;
    # a count only changes how much of the train split the seeds come from
    words = index.texts if own else read_split("train")
    common, seen_once = split_vocab(words)
    rare = () if own else rare_vocab(common, read_lexicon(), seen_once)
    probe = WordProbe(embedder, common, rare=rare)
    polisher = FluencyPolisher(embedder, TrigramLM.for_texts(words))
    head = shipped_word_head(embedder)
    decoder = shipped_decoder(embedder, head)
    inv = SearchInverter(embedder, index, name=spec, probe=probe, polisher=polisher,
                         words=head, decoder=decoder, extrapolate=1.0 if decoder is not None else 0.0,
                         casing=opening_case(index))
    if pieces:
        inv.pieces = piece_refiner(embedder, inv._known_words())
    return inv


def opening_case(index):
    """The opening-case model (casing.py) fitted on the reference set, where its embedder is blind to case; else None."""
    from .casing import OpeningCase, case_blind
    return OpeningCase.for_index(index) if case_blind(index.embedder) else None


def piece_refiner(embedder, known: set[str] | None, new_word_margin: float = 0.0):
    """Piece edits (pieces.py) for a torch embedder, whose tokenizer and gradients they need; else None."""
    if not hasattr(embedder, "torch_embed_from_inputs"):
        return None
    from .pieces import PieceRefiner
    return PieceRefiner(embedder, known=known, new_word_margin=new_word_margin)


def zero_shot(embedder, spec: str = "zero-shot", budget: str | None = None, gradient: bool = False):
    """Black-box inversion of any embedder, trained on nothing of it: the search inverter with
    seeds and probe words embedded by that embedder; `budget` caps its queries per text.
    `gradient` (torch embedders only) adds white-box HotFlip swaps to the proposals."""
    from .search import SearchInverter
    max_queries = _count(budget, f"zero-shot:{budget}: the budget is a number (≥ 1) of queries per text") if budget else None
    train = read_split("train")
    index = ReferenceIndex(embedder, train[:ZERO_SHOT_REFERENCE])
    probe = own_word_probe(embedder, train)
    proposer = None
    if gradient:
        from .hotflip import GradientProposer
        proposer = GradientProposer(embedder)
    inv = SearchInverter(embedder, index, name=spec, probe=probe, max_queries=max_queries, gradient=proposer,
                         casing=opening_case(index))
    inv.setup_queries = len(index.texts) + len(probe.vocab) + 2  # 2: the case-blindness check
    return inv


def own_word_probe(embedder, train: list[str] | None = None):
    """The ZERO_SHOT_VOCAB most frequent train-split words embedded by `embedder` (cached): zero-shot's
    probe, and align+search's optional own_probe; a setup cost of that many queries."""
    from .probe import WordProbe, build_vocab
    return WordProbe(embedder, build_vocab(read_split("train") if train is None else train, limit=ZERO_SHOT_VOCAB))


MAX_STEPS, MAX_BEAM = 32, 16  # the bounds the CLI and the server both hold users to


def check_settings(steps: int | None, beam: int | None) -> None:
    if steps is not None and not 0 <= steps <= MAX_STEPS:
        raise InputError(f"steps must be from 0 to {MAX_STEPS}, got {steps}")
    if beam is not None and not 1 <= beam <= MAX_BEAM:
        raise InputError(f"beam must be from 1 to {MAX_BEAM}, got {beam}")


def resolve_settings(inverter, steps: int | None, beam: int | None) -> tuple[int, int]:
    """The user's steps and beam (checked against the bounds), with the inverter's defaults filling
    whatever was left as None."""
    check_settings(steps, beam)
    config = getattr(inverter, "config", None)
    if config is not None:
        d_steps, d_beam = config.steps, config.beam
    else:
        d_steps, d_beam = DEFAULTS.get(inverter.name.partition(":")[0], (0, 1))
    return (d_steps if steps is None else steps), (d_beam if beam is None else beam)
