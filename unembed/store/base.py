"""What every vector store here offers: a tiny surface, text only where the mode allows it.

A store is a directory (or a Qdrant collection) holding chunk rows: id, document, chunk number,
source name, position, a salted content hash, the document's file hash, and the vector in the
store's encoding. `lossless` rows also keep their text; `lossy` rows never do; `hybrid` decides
per document (documents matching the store's lossy patterns are kept lossy).

A store with `parts` > 1 also keeps, for each row without text, the vectors of the chunk cut
into up to that many runs of words. Retrieval ranks the chunk's own vector; reading back
inverts the parts one by one and joins them, since short texts invert much better
(benchmarks/invert_parts.py). They are vectors like the others: same encoding, same seal.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import InputError, MismatchError, StoreError
from .encodings import check_encoding

MODES = ("lossless", "lossy", "hybrid")
MAX_PARTS = 8
INFO_FILE = "store.json"
FORMAT = 1


@dataclass
class StoreInfo:
    """What a store was built with; opening it with anything else is refused."""
    embedder: str
    dim: int
    inverter: str
    mode: str = "lossy"
    encoding: str = "f32"
    lossy_patterns: list[str] = field(default_factory=list)
    parts: int = 1  # part vectors kept per text-less row; 1: the chunk's own vector only
    backend: str = "lance"
    defence: str = ""  # a vector defence applied at write time (`unembed defend`), never its key
    cipher: str = ""  # vectors sealed at rest (store/crypto.py); key_check fingerprints the key
    key_check: str = ""
    salt: str = field(default_factory=lambda: secrets.token_hex(8))
    format: int = FORMAT

    def __post_init__(self):
        if self.mode not in MODES:
            raise InputError(f"unknown mode {self.mode!r}: use one of {', '.join(MODES)}")
        check_encoding(self.encoding)
        if not isinstance(self.parts, int) or not 1 <= self.parts <= MAX_PARTS:
            raise InputError(f"parts must be a whole number from 1 to {MAX_PARTS}, got {self.parts!r}")

    def keeps_text(self, doc: str) -> bool:
        if self.mode == "lossless":
            return True
        if self.mode == "lossy":
            return False
        return not any(fnmatch.fnmatch(doc, p) or fnmatch.fnmatch(os.path.basename(doc), p)
                       for p in self.lossy_patterns)

    def keeps_parts(self, doc: str) -> bool:
        return self.parts > 1 and not self.keeps_text(doc)

    def chunk_hash(self, text: str) -> str:
        # salted per store: the hash tells chunks apart and spots changes, but one store's hashes
        # cannot be matched against another's, nor against a public table of unsalted hashes
        return hashlib.sha256((self.salt + text).encode()).hexdigest()[:16]

    def check(self, embedder: str | None = None, dim: int | None = None, inverter: str | None = None) -> None:
        if embedder is not None and embedder != self.embedder:
            raise MismatchError(f"this store was built with embedder {self.embedder!r}, not {embedder!r}")
        if dim is not None and dim != self.dim:
            raise MismatchError(f"this store holds {self.dim}-d vectors, not {dim}-d")
        if inverter is not None and _base_inverter(inverter) != _base_inverter(self.inverter):
            raise MismatchError(f"this store was built for inverter {self.inverter!r}, not {inverter!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> "StoreInfo":
        try:
            raw = json.loads(text)
            if raw.get("format") != FORMAT:
                raise StoreError(f"{where}: store format {raw.get('format')!r} is not supported (expected {FORMAT})")
            return cls(**raw)
        except (ValueError, TypeError, AttributeError) as e:
            raise StoreError(f"{where}: corrupt store description ({e})") from None


@dataclass
class Chunk:
    """One piece of a document as ingested. `text` reaches the store only if the mode keeps it."""
    doc: str
    chunk: int
    text: str
    position: int
    doc_hash: str
    n_chunks: int
    source: str = ""

    @property
    def id(self) -> str:
        return chunk_id(self.doc, self.chunk)


def chunk_id(doc: str, chunk: int) -> str:
    return f"{hashlib.sha1(doc.encode()).hexdigest()[:12]}-{chunk}"


def _base_inverter(name: str) -> str:
    """The inverter a name stands for: a preset of an inverter ("fast", "readable", "DIR:fast") reads
    the same vectors the same model was made for, so it may read that inverter's store."""
    same = {"search": "default", "fast": "default", "readable": "default"}  # "search": the shipped inverter's old name
    head, sep, tail = name.rpartition(":")
    if sep and tail in ("default", "fast", "readable"):
        name = head
    return same.get(name, name)


@dataclass
class Hit:
    id: str
    doc: str
    chunk: int
    score: float
    vector: np.ndarray  # decoded, unit length: what an inverter reads
    text: str | None  # None for lossy rows
    source: str = ""
    position: int = 0
    parts: np.ndarray | None = None  # decoded unit vectors of the chunk's parts, in order


@dataclass
class DocState:
    doc_hash: str
    rows: int
    n_chunks: int

    @property
    def complete(self) -> bool:
        return self.rows == self.n_chunks


class VectorStore(Protocol):
    info: StoreInfo

    def add(self, chunks: list[Chunk], vectors: np.ndarray,
            parts: list[np.ndarray | None] | None = None) -> None: ...
    def search(self, vector: np.ndarray, k: int = 5, doc: str | None = None) -> list[Hit]: ...
    def get(self, ids: list[str]) -> list[Hit]: ...
    def delete(self, doc: str) -> int: ...
    def documents(self) -> dict[str, DocState]: ...
    def rows(self) -> list[Hit]: ...
    def count(self) -> int: ...
    def disk_bytes(self) -> int: ...


def check_parts(parts, chunks: list[Chunk], info: StoreInfo) -> list[np.ndarray | None]:
    """Per chunk, its part vectors checked and normalised, or None where the row keeps none
    (a store without parts, a row that keeps its text, or none given)."""
    from ..embed.base import check_vectors
    if parts is None:
        return [None] * len(chunks)
    if len(parts) != len(chunks):
        raise InputError(f"{len(chunks)} chunks but part vectors for {len(parts)}")
    out: list[np.ndarray | None] = []
    for c, p in zip(chunks, parts):
        if p is None or not info.keeps_parts(c.doc):
            out.append(None)
            continue
        v = check_vectors(p, info.dim, what="part vectors")
        if len(v) > info.parts:
            raise InputError(f"chunk {c.id}: {len(v)} part vectors, but this store keeps at most {info.parts}")
        out.append(v)
    return out


def regroup(flat, sizes) -> list:
    """Consecutive slices of `flat`, one of each size: rows' part vectors (or what was made from
    them) processed in one flat batch, handed back per row."""
    out, at = [], 0
    for n in sizes:
        out.append(flat[at:at + n])
        at += n
    return out


def write_info(path: Path, info: StoreInfo) -> None:
    tmp = path / (INFO_FILE + ".tmp")
    tmp.write_text(info.to_json(), encoding="utf-8")
    tmp.replace(path / INFO_FILE)  # atomic: a killed create never leaves half a description


def read_info(path: Path) -> StoreInfo:
    f = path / INFO_FILE
    if not path.exists():
        raise StoreError(f"{path}: no such store")
    if not path.is_dir():
        raise StoreError(f"{path}: is a file, not a store directory")
    if not f.exists():
        raise StoreError(f"{path}: not an unembed store (no {INFO_FILE}); refusing to touch it")
    return StoreInfo.from_json(f.read_text(encoding="utf-8", errors="replace"), str(path))


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
