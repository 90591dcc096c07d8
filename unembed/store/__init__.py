"""Vector stores: LanceDB (default, a directory) or Qdrant (`qdrant:PATH` local, or an http(s) URL)."""
from __future__ import annotations

from pathlib import Path

from .base import Chunk, DocState, Hit, StoreInfo, VectorStore
from .encodings import ENCODINGS, bytes_per_vector


def is_qdrant(location) -> bool:
    return str(location).startswith(("qdrant:", "http://", "https://"))


def open_store(location, key: bytes | None = None) -> VectorStore:
    """Open a store; `key` (else $UNEMBED_STORE_KEY_FILE / $UNEMBED_STORE_KEY) unseals an encrypted one."""
    if is_qdrant(location):
        from .qdrant import QdrantStore
        return QdrantStore.open(str(location))
    from .lance import LanceStore
    return LanceStore.open(Path(location), key)


def create_store(location, info: StoreInfo, key: bytes | None = None) -> VectorStore:
    """A new store; with `key`, its vectors are encrypted at rest (LanceDB stores only)."""
    if is_qdrant(location):
        if key is not None:
            from ..errors import InputError
            raise InputError("encryption at rest is for LanceDB stores; a Qdrant server keeps its own disks")
        from .qdrant import QdrantStore
        return QdrantStore.create(str(location), info)
    from .lance import LanceStore
    return LanceStore.create(Path(location), info, key)


def store_exists(location) -> bool:
    if is_qdrant(location):
        from .qdrant import QdrantStore
        return QdrantStore.exists(str(location))
    from .base import INFO_FILE
    from .lance import recover_rekey
    recover_rekey(location)  # a rekey killed between its two renames leaves no store at the path for a moment
    return (Path(location) / INFO_FILE).exists()


__all__ = ["Chunk", "DocState", "Hit", "StoreInfo", "VectorStore", "ENCODINGS", "bytes_per_vector",
           "open_store", "create_store", "store_exists", "is_qdrant"]
