"""Lossy RAG inside LangChain: a `VectorStore` that keeps vectors and never the text.

    from unembed.integrations.langchain import LossyVectorStore
    store = LossyVectorStore("kb")                      # a lossy unembed store (LanceDB) on disk
    store.add_texts(["Vesuvius last erupted in 1944."])
    retriever = store.as_retriever(search_kwargs={"k": 3})
    retriever.invoke("When did Vesuvius last erupt?")  # Documents whose text the inverter read back

Texts are chunked, embedded and stored as vectors (and part vectors) only; metadata is not kept,
since a store that keeps no text should keep nothing that repeats it. Retrieved chunks are read
back by the store's inverter, exactly as `unembed rag ask` reads them, so the contexts are the same.
Needs the [langchain] extra.
"""
from __future__ import annotations

import uuid
from typing import Any, Iterable, Optional

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import VectorStore
except ImportError as e:  # pragma: no cover - the extra is missing
    from ..errors import MissingPackageError
    raise MissingPackageError("the LangChain adapter needs langchain-core: pip install 'unembed[langchain]'") from e


class UnembedEmbeddings(Embeddings):
    """An unembed embedder (minilm by default) as LangChain Embeddings."""

    def __init__(self, embedder: str = "minilm"):
        from ..embed import load_embedder
        self.embedder = load_embedder(embedder)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text])[0].tolist()


class LossyVectorStore(VectorStore):
    """A lossy unembed store at `path` as a LangChain VectorStore: vectors in, reconstructions out."""

    def __init__(self, path, embedder: str = "minilm", preset: Optional[str] = None, steps: Optional[int] = None,
                 beam: Optional[int] = None, encoding: Optional[str] = None):
        from . import open_lossy_rag
        self._embeddings = UnembedEmbeddings(embedder)
        self.rag = open_lossy_rag(path, self._embeddings.embedder, preset, steps, beam, encoding)
        self.store = self.rag.store

    @property
    def embeddings(self) -> Embeddings:
        return self._embeddings

    def add_texts(self, texts: Iterable[str], metadatas: Optional[list[dict]] = None, *, ids: Optional[list[str]] = None,
                  **kwargs: Any) -> list[str]:
        from ..rag.ingest import ingest_texts
        texts = list(texts)
        ids = list(ids) if ids is not None else [uuid.uuid4().hex for _ in texts]
        if len(ids) != len(texts):
            from ..errors import InputError
            raise InputError(f"{len(ids)} ids for {len(texts)} texts")
        ingest_texts(list(zip(ids, texts)), self.store, self._embeddings.embedder)
        return ids

    def delete(self, ids: Optional[list[str]] = None, **kwargs: Any) -> Optional[bool]:
        for doc in ids or []:
            self.store.delete(doc)
        return True

    def similarity_search_with_score(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[Document, float]]:
        hits = self.rag.retrieve([query], k=k)[0]
        return [(Document(page_content=c["text"], metadata={"id": c["doc"], "chunk": c["chunk"],
                                                            "reconstructed": c["reconstructed"]}), c["score"])
                for c in self.rag.contexts(hits, query)]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def _select_relevance_score_fn(self):
        return lambda score: score  # cosine similarity already

    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings | None = None, metadatas: Optional[list[dict]] = None,
                   *, path=None, ids: Optional[list[str]] = None, **kwargs: Any) -> "LossyVectorStore":
        if path is None:
            from ..errors import InputError
            raise InputError("LossyVectorStore.from_texts needs path=: the directory the store is kept in")
        name = getattr(getattr(embedding, "embedder", None), "name", "minilm")
        store = cls(path, embedder=name, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store
