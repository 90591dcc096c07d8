"""LlamaIndex over the lossy store: a VectorStoreIndex's own retriever and query engine (with its
offline mock LLM) read back what `unembed rag ask` reads back, and no ingested sentence reaches disk,
neither in the store nor in the index's persisted storage."""
from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")
pytestmark = pytest.mark.slow  # reads back chunks through the default inverter: about a minute

QA = Path(__file__).resolve().parent.parent / "benchmarks" / "rag_qa"
QUESTION = "When did Vesuvius last erupt?"


def test_a_llamaindex_index_retriever_and_query_engine_over_the_lossy_store(tmp_path, minilm):
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.llms import MockLLM

    from unembed.data.sources import split_sentences
    from unembed.errors import InputError
    from unembed.integrations.llamaindex import LossyVectorStore, UnembedEmbedding
    from unembed.rag import RAG
    from unembed.store import open_store

    docs = {p.stem: p.read_text(encoding="utf-8") for p in sorted((QA / "docs").glob("*.txt"))}
    store = LossyVectorStore(tmp_path / "kb", steps=1, beam=2)
    documents = [Document(text=t, id_=name, metadata={"secret": "x"}) for name, t in docs.items()]
    index = VectorStoreIndex.from_documents(documents, storage_context=StorageContext.from_defaults(vector_store=store),
                                            embed_model=UnembedEmbedding())
    got = index.as_retriever(similarity_top_k=2).retrieve(QUESTION)
    assert len(got) == 2 and all(n.node.metadata["reconstructed"] for n in got)
    assert got[0].node.ref_doc_id == "volcano"
    rag = RAG(open_store(tmp_path / "kb"), minilm, steps=1, beam=2)  # the same store through `rag ask`'s code
    assert [n.node.get_content() for n in got] == [c["text"] for c in rag.ask([QUESTION], k=2, generate=False)[0]["contexts"]]
    assert [round(n.score, 4) for n in got] == [c["score"] for c in rag.ask([QUESTION], k=2, generate=False)[0]["contexts"]]

    response = index.as_query_engine(llm=MockLLM(max_tokens=8), similarity_top_k=2).query(QUESTION)
    assert [n.node.get_content() for n in response.source_nodes] == [n.node.get_content() for n in got]

    index.storage_context.persist(tmp_path / "index")  # LlamaIndex's own files: no text there either
    sentences = [s for t in docs.values() for s in split_sentences(t) if len(s) > 30]
    blob = b"".join(p.read_bytes() for d in ("kb", "index") for p in (tmp_path / d).rglob("*") if p.is_file())
    assert sentences and not any(s.encode() in blob for s in sentences)
    assert b"secret" not in blob

    before = open_store(tmp_path / "kb").count()
    index.delete_ref_doc("volcano")
    assert open_store(tmp_path / "kb").count() < before
    assert all(n.node.ref_doc_id != "volcano" for n in index.as_retriever(similarity_top_k=3).retrieve(QUESTION))

    from llama_index.core.vector_stores.types import MetadataFilters, ExactMatchFilter
    with pytest.raises(InputError, match="cannot filter"):
        index.as_retriever(filters=MetadataFilters(filters=[ExactMatchFilter(key="secret", value="x")])).retrieve(QUESTION)
