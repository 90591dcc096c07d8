"""Inverters by spec: `lookup[:N|:FILE]`, `search[:N|:FILE]`, or a checkpoint folder.

N is how many training-split sentences form the reference corpus; FILE is a text file of them.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..data.corpus import read_split
from ..errors import UnknownModelError
from .lookup import LookupInverter, ReferenceIndex

DEFAULT_REFERENCE = 50_000
# what `--steps/--beam` default to when the user gives none
DEFAULTS = {"lookup": (0, 1), "search": (8, 4)}


def _reference(arg: str | None) -> list[str]:
    if arg and os.path.isfile(arg):
        return [ln for ln in Path(arg).read_text(encoding="utf-8").splitlines() if ln.strip()]
    n = DEFAULT_REFERENCE
    if arg:
        try:
            n = int(arg)
        except ValueError:
            raise UnknownModelError(f"reference {arg!r} is neither a file nor a sentence count") from None
    return read_split("train")[:n]


def default_inverter(embedder_name: str) -> str:
    """The best inverter shipped for this embedder (measured in benchmarks/)."""
    return "search"


def load_inverter(spec: str | None, embedder):
    spec = spec or default_inverter(embedder.name)
    kind, _, arg = spec.partition(":")
    if kind in ("lookup", "search"):
        index = ReferenceIndex(embedder, _reference(arg or None))
        if kind == "lookup":
            return LookupInverter(embedder, index, name=spec)
        from .probe import WordProbe, build_vocab
        from .search import SearchInverter
        probe = WordProbe(embedder, build_vocab(read_split("train") if not arg else index.texts))
        return SearchInverter(embedder, index, name=spec, probe=probe)
    raise UnknownModelError(f"unknown inverter {spec!r}: use lookup[:N|:FILE] or search[:N|:FILE]")


def resolve_settings(inverter, steps: int | None, beam: int | None) -> tuple[int, int]:
    """The user's steps and beam, with the inverter's defaults filling whatever was left as None."""
    d_steps, d_beam = DEFAULTS.get(inverter.name.partition(":")[0], (0, 1))
    return (d_steps if steps is None else steps), (d_beam if beam is None else beam)
