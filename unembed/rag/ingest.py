"""Files -> chunks -> vectors -> store. Whole documents per commit; unchanged files are skipped."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from tqdm import tqdm

from ..errors import InputError, MismatchError
from ..store import Chunk, StoreInfo, create_store, open_store, store_exists
from ..store.base import regroup
from ..data.corpus import MAX_TOKENS
from .chunk import PART_MIN_WORDS, chunk_text, file_hash, find_files, is_text, split_words

if TYPE_CHECKING:
    import numpy as np

DEFAULT_PARTS = 4  # with PART_MIN_WORDS' floor, the best read-back on val text (benchmarks/invert_parts.py)


def doc_id(path: Path) -> str:
    """The path as the user would type it for `rag delete`: relative to the working directory."""
    rel = os.path.relpath(path.resolve())
    return Path(path.resolve()).as_posix() if rel.startswith("..") else Path(rel).as_posix()


def _count_fn(embedder):
    if hasattr(embedder, "count_tokens"):
        return lambda s: embedder.count_tokens([s])[0]
    return lambda s: int(len(s.split()) * 1.4) + 2  # no tokenizer (HTTP embedders): a word-based bound


def open_or_create(location, embedder, inverter: str, mode: Optional[str] = None, encoding: Optional[str] = None,
                   lossy_patterns: Optional[list[str]] = None, key: Optional[bytes] = None, parts: Optional[int] = None):
    """Open the store at `location`, or create it; `key` seals a new store's vectors at rest.
    `parts` (default 4; 1 for lossless) is how many part vectors each text-less chunk keeps.
    Concurrent calls for one new LanceDB store create it once: the rest wait and open it."""
    if not store_exists(location):
        from contextlib import nullcontext

        from ..store import is_qdrant
        from ..store.lock import write_lock
        local_dir = not is_qdrant(location) and not Path(location).is_file()  # a file: create says why not
        with write_lock(location) if local_dir else nullcontext():
            if not store_exists(location):
                return _create(location, embedder, inverter, mode, encoding, lossy_patterns, key, parts)
    store = open_store(location, key)
    info = store.info
    info.check(embedder=embedder.name, dim=embedder.dim)
    for what, asked, have in (("mode", mode, info.mode), ("encoding", encoding, info.encoding),
                              ("parts", parts, info.parts)):
        if asked is not None and asked != have:
            raise MismatchError(f"this store is {what} {have!r}; it cannot take {asked!r} (use a new --store)")
    return store


def _create(location, embedder, inverter, mode, encoding, lossy_patterns, key, parts):
    mode = mode or "lossy"
    if parts is None:
        parts = 1 if mode == "lossless" else DEFAULT_PARTS
    info = StoreInfo(embedder=embedder.name, dim=embedder.dim, inverter=inverter, mode=mode,
                     encoding=encoding or "f32", lossy_patterns=list(lossy_patterns or []), parts=parts)
    return create_store(location, info, key)


def embed_parts(chunks: list[Chunk], embedder, parts: int, keep=lambda doc: True) -> list[Optional[np.ndarray]]:
    """Per chunk, the vectors of its text cut into up to `parts` runs of words (None where it
    does not split, or `keep(doc)` says its row needs none), in one embedding call."""
    pieces = [split_words(c.text, parts, PART_MIN_WORDS) if parts > 1 and keep(c.doc) else [] for c in chunks]
    pieces = [p if len(p) > 1 else [] for p in pieces]  # one run is the chunk itself
    flat = [t for p in pieces for t in p]
    if not flat:
        return [None] * len(chunks)
    return [v if p else None for p, v in zip(pieces, regroup(embedder.embed(flat), map(len, pieces)))]


def embed_chunks(chunks: list[Chunk], embedder, info: StoreInfo) -> tuple[np.ndarray, list[Optional[np.ndarray]]]:
    """What `store.add` takes for these chunks: their vectors, and the part vectors the store keeps."""
    return embedder.embed([c.text for c in chunks]), embed_parts(chunks, embedder, info.parts, info.keeps_parts)


def chunk_document(doc: str, source: str, data: bytes, count, max_tokens: int = MAX_TOKENS, markdown: bool = False) -> list[Chunk]:
    """One document's chunks, carrying its id and content hash (which make re-ingest a no-op)."""
    h = file_hash(data)
    pieces = chunk_text(data.decode("utf-8", errors="replace"), count, max_tokens, markdown=markdown)
    return [Chunk(doc, i, p.text, p.position, h, len(pieces), source=source) for i, p in enumerate(pieces)]


def chunk_file(path: Path, data: bytes, count, max_tokens: int = MAX_TOKENS) -> list[Chunk]:
    return chunk_document(doc_id(path), path.name, data, count, max_tokens,
                          markdown=path.suffix.lower() in (".md", ".markdown"))


def _is_current(state, doc_hash: str) -> bool:
    """Whether a stored document is whole and of this content: then ingest leaves it alone."""
    return state is not None and state.complete and state.doc_hash == doc_hash


def _replace(store, docs: list[str], chunks: list[Chunk], embedder) -> None:
    """Embed the chunks, then swap them in for the documents' rows in one commit (an emptied
    document has no chunks: replacing it with none deletes its rows)."""
    store.replace(docs, chunks, *(embed_chunks(chunks, embedder, store.info) if chunks else (None, None)))


def _text_bytes(doc: str, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"document {doc!r}: its text is not valid Unicode (a lone surrogate?); "
                         "nothing was ingested") from None


def ingest_texts(documents: list[tuple[str, str]], store, embedder, max_tokens: int = MAX_TOKENS) -> dict:
    """(document id, text) pairs, as an API receives them: same replace / no-op rules as files,
    one commit for all of them. Every document is checked, chunked and embedded before the store
    is touched, so a bad one fails the whole batch and changes nothing. The text never touches
    disk unless the store's mode keeps it."""
    seen: set[str] = set()
    for doc, _ in documents:
        if doc in seen:
            raise InputError(f"document id {doc!r} appears twice in one batch; nothing was ingested")
        seen.add(doc)
    data = {doc: _text_bytes(doc, text) for doc, text in documents}
    existing = store.documents()
    count = _count_fn(embedder)
    summary = {"documents": len(documents), "added": 0, "replaced": 0, "unchanged": 0, "chunks_added": 0}
    changed: list[str] = []
    pending: list[Chunk] = []
    for doc, _ in documents:
        state = existing.get(doc)
        if _is_current(state, file_hash(data[doc])):
            summary["unchanged"] += 1
            continue
        summary["replaced" if state is not None else "added"] += 1
        changed.append(doc)
        pending += chunk_document(doc, doc, data[doc], count, max_tokens)
    if changed:
        _replace(store, changed, pending, embedder)
        summary["chunks_added"] = len(pending)
    summary["store_chunks"] = store.count()
    return summary


def embed_files(paths, embedder, max_tokens: int = MAX_TOKENS) -> tuple[list[Chunk], np.ndarray]:
    """Every chunk of every file and its vector, for filling several stores from one embedding pass."""
    count = _count_fn(embedder)
    chunks = [c for f in find_files(paths) for c in chunk_file(f, f.read_bytes(), count, max_tokens)]
    return chunks, embedder.embed([c.text for c in chunks])


def ingest(paths, store, embedder, max_tokens: int = MAX_TOKENS, batch_chunks: int = 256, progress: bool = True,
           warn=None) -> dict:
    """Files (or folders of them) into the store. Each batch of changed documents goes in with one
    `replace` commit, old rows out and new rows in together, so a kill at any point leaves every
    document at its old version or its new one. Files that are not UTF-8 text are skipped, each
    named through `warn`."""
    files = find_files(paths)
    existing = store.documents()
    count = _count_fn(embedder)
    summary = {"files": len(files), "added": 0, "replaced": 0, "unchanged": 0, "skipped": 0, "chunks_added": 0}
    changed: list[str] = []
    pending: list[Chunk] = []

    def flush():
        if changed:
            _replace(store, changed, pending, embedder)
            summary["chunks_added"] += len(pending)
            changed.clear()
            pending.clear()

    bar = tqdm(files, desc="ingesting", unit=" file", disable=not progress or len(files) < 2)
    for path in bar:
        data = path.read_bytes()
        if not is_text(data):
            summary["skipped"] += 1
            if warn:
                warn(f"skipped {path}: not UTF-8 text (a binary file?)")
            continue
        doc = doc_id(path)
        state = existing.get(doc)
        if _is_current(state, file_hash(data)):
            summary["unchanged"] += 1
            continue
        summary["replaced" if state is not None else "added"] += 1  # changed, or left half-written
        changed.append(doc)
        pending += chunk_file(path, data, count, max_tokens)
        if len(pending) >= batch_chunks:
            flush()
    flush()
    if summary["chunks_added"] and hasattr(store, "compact"):
        store.compact()
    summary["store_chunks"] = store.count()
    return summary
