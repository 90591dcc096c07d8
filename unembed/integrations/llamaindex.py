"""Lossy RAG inside LlamaIndex: a vector store that keeps vectors and never the text.

    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from unembed.integrations.llamaindex import LossyVectorStore, UnembedEmbedding

    store = LossyVectorStore("kb")                                   # a lossy unembed store (LanceDB) on disk
    index = VectorStoreIndex.from_documents([Document(text="Vesuvius last erupted in 1944.")],
                                            storage_context=StorageContext.from_defaults(vector_store=store),
                                            embed_model=UnembedEmbedding())
    index.as_retriever(similarity_top_k=3).retrieve("When did Vesuvius last erupt?")  # nodes read back

Each node's text is chunked, embedded and stored as vectors (and part vectors) under the node's id and
its document's id; nothing else of the node is kept, metadata included. A query returns nodes whose
text the store's inverter read back, as `unembed rag ask` reads them (the same contexts).

The store tells LlamaIndex that it returns text (`stores_text = True`), although it keeps none: a
store that says it keeps no text makes the index keep every node, text included, in its own document
store (in memory, and on disk when persisted), which is the copy a lossy store exists to avoid.
Needs the [llamaindex] extra.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

try:
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.types import (BasePydanticVectorStore, VectorStoreQuery,
                                                      VectorStoreQueryMode, VectorStoreQueryResult)
except ImportError as e:  # pragma: no cover - the extra is missing
    from ..errors import MissingPackageError
    raise MissingPackageError("the LlamaIndex adapter needs llama-index-core: pip install 'unembed[llamaindex]'") from e

from ..errors import InputError

SEP = "\x1f"  # between a document's id and a node's id in the store's document key


class UnembedEmbedding(BaseEmbedding):
    """An unembed embedder (minilm by default) as a LlamaIndex embedding model."""

    embedder_name: str = "minilm"
    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: str = "minilm", **kwargs: Any):
        super().__init__(embedder_name=embedder, model_name=f"unembed:{embedder}", **kwargs)
        from ..embed import load_embedder
        self._embedder = load_embedder(embedder)

    @property
    def embedder(self):
        return self._embedder

    def _get_query_embedding(self, query: str) -> List[float]:
        return self._embedder.embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> List[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> List[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: List[str]) -> List[List[float]]:
        return self._embedder.embed(list(texts)).tolist()


def _key(node: BaseNode) -> str:
    ref = node.ref_doc_id or node.node_id
    if SEP in ref or SEP in node.node_id:
        raise InputError("a document or node id contains the control character U+001F")
    return f"{ref}{SEP}{node.node_id}"


class LossyVectorStore(BasePydanticVectorStore):
    """A lossy unembed store at `path` as a LlamaIndex vector store: vectors in, reconstructions out."""

    stores_text: bool = True  # it returns nodes with (read-back) text, so the index keeps no copy
    flat_metadata: bool = True
    path: str
    _rag: Any = PrivateAttr()
    _embedder: Any = PrivateAttr()

    def __init__(self, path, embedder: str = "minilm", preset: Optional[str] = None, steps: Optional[int] = None,
                 beam: Optional[int] = None, encoding: Optional[str] = None, **kwargs: Any):
        super().__init__(path=str(path), **kwargs)
        from ..embed import load_embedder
        from . import open_lossy_rag
        self._embedder = load_embedder(embedder)
        self._rag = open_lossy_rag(path, self._embedder, preset, steps, beam, encoding)

    @classmethod
    def class_name(cls) -> str:
        return "UnembedLossyVectorStore"

    @property
    def client(self) -> Any:
        return self._rag.store

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> List[str]:
        """Chunk, embed and store each node's text (its own embedding is not used: the store keeps
        a vector per chunk of at most 32 tokens, which is what reads back)."""
        from ..rag.ingest import ingest_texts
        docs = [(_key(n), n.get_content()) for n in nodes]
        if docs:
            ingest_texts(docs, self._rag.store, self._embedder)
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        store = self._rag.store
        for key in list(store.documents()):
            if key.split(SEP, 1)[0] == ref_doc_id:
                store.delete(key)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if query.mode != VectorStoreQueryMode.DEFAULT:
            raise InputError(f"this store answers dense queries only, not {query.mode.value!r}")
        if query.filters is not None or query.doc_ids or query.node_ids:
            raise InputError("this store keeps no metadata, so it cannot filter: query without filters or ids")
        if query.query_embedding is None:
            raise InputError("the query has no embedding: give the index embed_model=UnembedEmbedding()")
        hits = self._rag.search([query.query_embedding], k=query.similarity_top_k)[0]
        nodes, ids, sims = [], [], []
        for c in self._rag.contexts(hits, query.query_str):
            ref, sep, node_id = c["doc"].partition(SEP)
            node_id = node_id if sep else ref  # a document ingested by `unembed rag ingest`: one node per document
            node = TextNode(id_=node_id if c["chunk"] == 0 else f"{node_id}#{c['chunk']}", text=c["text"],
                            metadata={"chunk": c["chunk"], "reconstructed": c["reconstructed"]},
                            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=ref)})
            nodes.append(node)
            ids.append(node.node_id)
            sims.append(c["score"])
        return VectorStoreQueryResult(nodes=nodes, similarities=sims, ids=ids)
