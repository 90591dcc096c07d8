"""`unembed data build`: deterministic, deduplicated train/val/test/ood splits of English sentences.

A sentence's split is decided by a hash of its normalised text, so rebuilding from the same
sources gives the same files, and adding a source never moves an old sentence between splits.
One whole source (default: BBC news) never enters training: it is the out-of-domain split.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..errors import InputError
from ..paths import data_dir, home
from .sources import LEXICON_PACKAGES, SOURCES, lexicon

MAX_TOKENS = 32  # the longest training text, in embedder tokens; RAG chunks are cut to fit it

SPLITS = ("train", "val", "test", "ood")
# the held-out splits again by kind of text: prose (what users store) is what we tune on and report
# first; dictionary glosses, three quarters of the mixed splits, are reported on their own
KINDS = {"prose": ("brown", "nlp_corpus"), "gloss": ("wordnet", "gcide")}
# obvious profanity/slurs: nlp-corpus includes NSFW text we do not want a product to emit
_BLOCK = re.compile(r"\b(fuck\w*|shit\w*|cunt\w*|nigg\w*|fag\w*|bitch\w*|whore\w*|rape\w*|porn\w*|slut\w*|dick|cock\w*|pussy)\b", re.I)
_OK_CHARS = re.compile(r"^[A-Za-z0-9 .,;:!?'\"()\-–—$%&/£€]+$")


@dataclass
class CorpusConfig:
    sources: tuple[str, ...] = ("brown", "nlp_corpus", "wordnet", "gcide", "bbc")
    ood: tuple[str, ...] = ("bbc",)
    max_tokens: int = MAX_TOKENS  # embedder-tokenizer tokens, special tokens excluded
    min_words: int = 4
    val_fraction: float = 0.01
    test_fraction: float = 0.01
    limit_per_source: int | None = None  # first N accepted sentences per source (tests, quick runs)
    embedder: str = "minilm"
    extra: dict = field(default_factory=dict)


def clean(sentence: str) -> str | None:
    """One cleaned sentence, or None when it is not natural English prose worth keeping."""
    s = " ".join(sentence.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"').split())
    s = re.sub(r'\s+"(?=[.,;:!?]*$)', '"', s)
    if not _OK_CHARS.match(s) or _BLOCK.search(s):
        return None
    if not re.search(r"[a-z]", s) or s.count('"') % 2 or s.count("(") != s.count(")"):
        return None
    letters = sum(c.isalpha() for c in s)
    if letters < 0.6 * len(s):
        return None
    return s


def _bucket(key: str) -> float:
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") / 2**64


def build(out: Path | None = None, config: CorpusConfig | None = None, raw: Path | None = None) -> dict:
    """Build the splits into `out` and return the manifest (counts per source and split)."""
    from ..embed.registry import load_embedder_tokenizer

    config = config or CorpusConfig()
    unknown = [s for s in config.sources if s not in SOURCES]
    if unknown:
        raise InputError(f"unknown corpus sources {unknown}; known: {sorted(SOURCES)}")
    out = Path(out or data_dir())
    raw = Path(raw or home() / "raw")
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = load_embedder_tokenizer(config.embedder)

    seen: set[str] = set()
    rows: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    counts: dict[str, Counter] = {}
    # OOD sources first, so a sentence they share with a training source stays out of training
    order = [s for s in config.sources if s in config.ood] + [s for s in config.sources if s not in config.ood]
    for source in order:
        c = counts[source] = Counter()
        batch: list[str] = []

        def flush():
            lengths = [len(ids) for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]]
            for s, n in zip(batch, lengths):
                if n > config.max_tokens:
                    c["too_long"] += 1
                    continue
                if config.limit_per_source and c["kept"] >= config.limit_per_source:
                    break
                if source in config.ood:
                    split = "ood"
                else:
                    b = _bucket(" ".join(s.lower().split()))
                    split = "test" if b < config.test_fraction else "val" if b < config.test_fraction + config.val_fraction else "train"
                rows[split].append((s, source))
                c[split] += 1
                c["kept"] += 1
            batch.clear()

        for sentence in tqdm(SOURCES[source](raw), desc=f"corpus {source}", unit=" sent", mininterval=2):
            c["raw"] += 1
            s = clean(sentence)
            if s is None or len(s.split()) < config.min_words:
                c["rejected"] += 1
                continue
            key = " ".join(s.lower().split())
            if key in seen:
                c["duplicate"] += 1
                continue
            seen.add(key)
            batch.append(s)
            if len(batch) >= 4096:
                flush()
            if config.limit_per_source and c["kept"] >= config.limit_per_source:
                break
        if batch:
            flush()

    for split, items in rows.items():
        items.sort(key=lambda row: _bucket("order:" + row[0]))  # a fixed shuffle: `head -n N` is a fair sample
        (out / f"{split}.txt").write_text("".join(s + "\n" for s, _ in items), encoding="utf-8")
        (out / f"{split}.sources.txt").write_text("".join(src + "\n" for _, src in items), encoding="utf-8")
        if split in ("val", "test"):
            for kind, sources in KINDS.items():  # subsets of the split: no sentence changes sides
                (out / f"{split}_{kind}.txt").write_text("".join(t + "\n" for t, src in items if src in sources),
                                                         encoding="utf-8")
    manifest = {
        "config": asdict(config),
        "splits": {s: len(rows[s]) for s in SPLITS},
        "kinds": {f"{s}_{k}": sum(src in v for _, src in rows[s]) for s in ("val", "test") for k, v in KINDS.items()},
        "per_source": {src: dict(c) for src, c in counts.items()},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "lexicon.txt").unlink(missing_ok=True)  # rebuilt from this build's packages
    read_lexicon(out, raw)
    return manifest


def read_split(split: str, root: Path | None = None) -> list[str]:
    path = Path(root or data_dir()) / f"{split}.txt"
    if not path.exists():
        raise InputError(f"no {split} split at {path}: run `unembed data build` first")
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def read_lexicon(root: Path | None = None, raw: Path | None = None) -> list[str]:
    """The dictionaries' headwords (sources.lexicon), one per line in `lexicon.txt` beside the
    splits: written by `data build`, or on first use from the packages it unpacked. Empty, and
    nothing fetched, where neither is there (a build from other sources)."""
    path = Path(root or data_dir()) / "lexicon.txt"
    raw = Path(raw or home() / "raw")
    if not path.exists():
        if not all((raw / p).is_dir() for p in LEXICON_PACKAGES):
            return []
        words = list(dict.fromkeys(w for w in lexicon(raw) if w))
        tmp = path.with_suffix(".partial")
        tmp.write_text("".join(w + "\n" for w in words), encoding="utf-8")
        tmp.replace(path)
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln]
