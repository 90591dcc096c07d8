"""LangChain over the lossy store: its own retriever and a chain with its offline fake LLM read back
what `unembed rag ask` reads back, and no ingested sentence reaches disk."""
from pathlib import Path

import pytest

pytest.importorskip("langchain_core")
pytestmark = pytest.mark.slow  # reads back chunks through the default inverter: about a minute

QA = Path(__file__).resolve().parent.parent / "benchmarks" / "rag_qa"
QUESTION = "When did Vesuvius last erupt?"


def test_a_langchain_retriever_and_chain_over_the_lossy_store(tmp_path, minilm):
    from langchain_core.language_models.fake import FakeListLLM
    from langchain_core.runnables import RunnableLambda

    from unembed.data.sources import split_sentences
    from unembed.integrations.langchain import LossyVectorStore
    from unembed.rag import RAG
    from unembed.rag.ask import build_prompt
    from unembed.store import open_store

    docs = {p.stem: p.read_text(encoding="utf-8") for p in sorted((QA / "docs").glob("*.txt"))}  # four documents
    assert "volcano" in docs
    store = LossyVectorStore(tmp_path / "kb", steps=1, beam=2)
    assert store.add_texts(list(docs.values()), metadatas=[{"secret": "x"}] * len(docs), ids=list(docs)) == list(docs)
    got = store.as_retriever(search_kwargs={"k": 2}).invoke(QUESTION)
    assert len(got) == 2 and all(d.metadata["reconstructed"] for d in got) and got[0].metadata["id"] == "volcano"
    rag = RAG(open_store(tmp_path / "kb"), minilm, steps=1, beam=2)  # the same store through `rag ask`'s code
    assert [d.page_content for d in got] == [c["text"] for c in rag.ask([QUESTION], k=2, generate=False)[0]["contexts"]]

    llm = FakeListLLM(responses=["In 1944."])
    prompts = []
    chain = (store.as_retriever(search_kwargs={"k": 2})
             | RunnableLambda(lambda ds: prompts.append(build_prompt(QUESTION, [d.page_content for d in ds])) or prompts[-1])
             | llm)
    assert chain.invoke(QUESTION) == "In 1944." and got[0].page_content in prompts[0]

    sentences = [s for t in docs.values() for s in split_sentences(t) if len(s) > 30]
    blob = b"".join(p.read_bytes() for p in (tmp_path / "kb").rglob("*") if p.is_file())
    assert sentences and not any(s.encode() in blob for s in sentences)
    assert b"secret" not in blob  # metadata is not kept either
    before = open_store(tmp_path / "kb").count()
    store.delete(["volcano"])
    assert open_store(tmp_path / "kb").count() < before
    assert all(d.metadata["id"] != "volcano" for d in store.similarity_search(QUESTION, k=2))
