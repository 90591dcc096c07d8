"""The same store over Qdrant: `qdrant:PATH` (embedded local mode) or `http(s)://host:6333[/NAME]`.

Local mode runs the same client API as a cluster, so what the tests prove here holds for a URL.
Qdrant keeps float vectors (f32, or f16 on disk); int8 and binary stay on the LanceDB store,
since Qdrant's own quantisation keeps the float originals beside the quantised copy. Part
vectors (StoreInfo.parts) ride in the payload as lists of floats, rounded to the store's encoding.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from ..errors import InputError, MissingPackageError, StoreError
from .base import Chunk, DocState, Hit, StoreInfo, check_parts, dir_bytes

INFO_COLLECTION = "unembed_info"
INSTALL = "pip install 'unembed[qdrant]'"


def _parse(location: str) -> tuple[dict, str, Path | None]:
    if location.startswith("qdrant:"):
        path = Path(location[len("qdrant:"):])
        return {"path": str(path)}, "unembed_chunks", path
    base, _, name = location.partition("://")[2].partition("/")
    scheme = location.partition("://")[0]
    return {"url": f"{scheme}://{base}"}, (name.strip("/") or "unembed") + "_chunks", None


def _client(kwargs: dict):
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        raise MissingPackageError(f"the Qdrant store needs qdrant-client: {INSTALL}") from None
    try:
        return QdrantClient(**kwargs)
    except Exception as e:  # a locked or damaged local directory, or an unreachable URL
        raise StoreError(f"cannot open Qdrant at {kwargs}: {type(e).__name__}: {e}") from None


def _point_id(chunk_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, chunk_id))


class QdrantStore:
    def __init__(self, location: str, client, collection: str, info: StoreInfo, path: Path | None):
        self.location, self.client, self.collection, self.info, self.path = location, client, collection, info, path

    @staticmethod
    def exists(location: str) -> bool:
        kwargs, collection, path = _parse(location)
        if path is not None and not path.exists():
            return False
        client = _client(kwargs)
        try:
            return client.collection_exists(INFO_COLLECTION) and bool(
                client.retrieve(INFO_COLLECTION, [_point_id(collection)], with_payload=True))
        finally:
            if path is not None:
                client.close()

    @classmethod
    def create(cls, location: str, info: StoreInfo) -> "QdrantStore":
        from qdrant_client import models
        if info.encoding not in ("f32", "f16"):
            raise InputError(f"the Qdrant store keeps f32 or f16 vectors, not {info.encoding}; "
                             "use a LanceDB directory for int8 or binary")
        kwargs, collection, path = _parse(location)
        client = _client(kwargs)
        if client.collection_exists(collection):
            raise StoreError(f"{location}: a collection {collection!r} already exists")
        info.backend = "qdrant"
        dtype = models.Datatype.FLOAT16 if info.encoding == "f16" else models.Datatype.FLOAT32
        client.create_collection(collection, vectors_config=models.VectorParams(
            size=info.dim, distance=models.Distance.COSINE, datatype=dtype, on_disk=True))
        if path is None:  # local mode scans; a server wants the index for per-document filters
            client.create_payload_index(collection, "doc", models.PayloadSchemaType.KEYWORD)
        if not client.collection_exists(INFO_COLLECTION):
            client.create_collection(INFO_COLLECTION, vectors_config=models.VectorParams(size=1, distance=models.Distance.DOT))
        from dataclasses import asdict
        client.upsert(INFO_COLLECTION, [models.PointStruct(id=_point_id(collection), vector=[1.0], payload=asdict(info))])
        return cls(location, client, collection, info, path)

    @classmethod
    def open(cls, location: str) -> "QdrantStore":
        kwargs, collection, path = _parse(location)
        if path is not None and not path.exists():
            raise StoreError(f"{path}: no such store")
        client = _client(kwargs)
        try:
            found = client.retrieve(INFO_COLLECTION, [_point_id(collection)], with_payload=True) \
                if client.collection_exists(INFO_COLLECTION) else []
        except Exception as e:
            raise StoreError(f"{location}: cannot read the store description ({type(e).__name__})") from None
        if not found or not client.collection_exists(collection):
            raise StoreError(f"{location}: not an unembed store")
        try:
            info = StoreInfo(**found[0].payload)
        except TypeError as e:
            raise StoreError(f"{location}: corrupt store description ({e})") from None
        return cls(location, client, collection, info, path)

    def add(self, chunks: list[Chunk], vectors: np.ndarray, parts: list[np.ndarray | None] | None = None) -> None:
        from qdrant_client import models

        from ..embed.base import check_vectors
        if not chunks:
            return
        v = check_vectors(vectors, self.info.dim)
        if len(chunks) != len(v):
            raise InputError(f"{len(chunks)} chunks but {len(v)} vectors")
        dtype = np.float16 if self.info.encoding == "f16" else np.float32
        points = []
        for c, row, pv in zip(chunks, v, check_parts(parts, chunks, self.info)):
            payload = {"id": c.id, "doc": c.doc, "chunk": c.chunk, "source": c.source, "position": c.position,
                       "hash": self.info.chunk_hash(c.text), "doc_hash": c.doc_hash, "n_chunks": c.n_chunks}
            if self.info.mode != "lossy" and self.info.keeps_text(c.doc):
                payload["text"] = c.text
            if pv is not None:
                payload["parts"] = pv.astype(dtype).astype(float).tolist()
            points.append(models.PointStruct(id=_point_id(c.id), vector=row.tolist(), payload=payload))
        self.client.upsert(self.collection, points, wait=True)

    def replace(self, docs: list[str], chunks: list[Chunk], vectors: np.ndarray,
                parts: list[np.ndarray | None] | None = None) -> None:
        """Make `chunks` the whole content of documents `docs`: upsert the new points (their ids
        are the old ones' where chunk numbers agree), then drop the documents' points that were not
        rewritten. Qdrant has no multi-operation transaction, so a crash between the two leaves a
        document with its new chunks plus old extra ones: `documents()` reports it incomplete
        (mixed hashes) and the next ingest rewrites it. Nothing is deleted before its
        replacement is written."""
        from qdrant_client import models
        docs = sorted(set(docs) | {c.doc for c in chunks})
        if not docs:
            return
        self.add(chunks, vectors, parts)  # no chunks: nothing to add, only the deletion
        keep = [_point_id(c.id) for c in chunks]
        stale = models.Filter(must=[models.FieldCondition(key="doc", match=models.MatchAny(any=docs))],
                              must_not=[models.HasIdCondition(has_id=keep)] if keep else [])
        self.client.delete(self.collection, models.FilterSelector(filter=stale), wait=True)

    def _doc_filter(self, doc: str):
        from qdrant_client import models
        return models.Filter(must=[models.FieldCondition(key="doc", match=models.MatchValue(value=doc))])

    def delete(self, doc: str) -> int:
        from qdrant_client import models
        n = self.client.count(self.collection, count_filter=self._doc_filter(doc), exact=True).count
        self.client.delete(self.collection, models.FilterSelector(filter=self._doc_filter(doc)), wait=True)
        return n

    def count(self) -> int:
        return self.client.count(self.collection, exact=True).count

    def _scroll(self, with_vectors: bool = False):
        offset = None
        while True:
            points, offset = self.client.scroll(self.collection, limit=1024, offset=offset,
                                                with_payload=True, with_vectors=with_vectors)
            yield from points
            if offset is None:
                return

    def documents(self) -> dict[str, DocState]:
        out: dict[str, DocState] = {}
        for p in self._scroll():
            st = out.setdefault(p.payload["doc"], DocState(p.payload["doc_hash"], 0, p.payload["n_chunks"]))
            st.rows += 1
            if st.doc_hash != p.payload["doc_hash"]:
                st.n_chunks = -1
        return out

    def _hit(self, p, score: float) -> Hit:
        from ..embed.base import l2_normalise
        pl = p.payload
        vec = l2_normalise(np.asarray(p.vector, np.float32)[None])[0]
        parts = l2_normalise(np.asarray(pl["parts"], np.float32)) if pl.get("parts") else None
        return Hit(pl["id"], pl["doc"], pl["chunk"], float(score), vec, pl.get("text"), pl.get("source", ""),
                   pl.get("position", 0), parts)

    def search(self, vector: np.ndarray, k: int = 5, doc: str | None = None) -> list[Hit]:
        from ..embed.base import check_vectors
        q = check_vectors(vector, self.info.dim, what="query vector")[0]
        flt = self._doc_filter(doc) if doc else None
        res = self.client.query_points(self.collection, query=q.tolist(), limit=k, query_filter=flt,
                                       with_payload=True, with_vectors=True).points
        return [self._hit(p, p.score) for p in res]

    def get(self, ids: list[str]) -> list[Hit]:
        pts = self.client.retrieve(self.collection, [_point_id(i) for i in ids], with_payload=True, with_vectors=True)
        found = {p.payload["id"]: p for p in pts}
        missing = [i for i in ids if i not in found]
        if missing:
            raise InputError(f"no chunk with id {missing[0]!r} in {self.location}")
        return [self._hit(found[i], 1.0) for i in ids]

    def rows(self) -> list[Hit]:
        """Every chunk, in document order (what an audit reads)."""
        hits = [self._hit(p, 1.0) for p in self._scroll(with_vectors=True)]
        return sorted(hits, key=lambda h: (h.doc, h.chunk))

    def disk_bytes(self) -> int:
        return dir_bytes(self.path) if self.path is not None else 0
