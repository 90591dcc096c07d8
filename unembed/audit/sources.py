"""The stores people already have, read in place for an audit and never written.

    chroma:PATH#COLLECTION     a Chroma persistent directory
    lancedb:PATH#TABLE         a LanceDB table of any schema (--column names the vector column)
    qdrant:PATH#COLLECTION     a Qdrant local directory (or qdrant:http://host:6333#COLLECTION)
    faiss:INDEX[#IDS.json]     a FAISS index file whose vectors can be reconstructed, with an optional id list
    pgvector:URI#TABLE         a PostgreSQL table with a pgvector column (URI: postgresql://user@host/db)

Chroma and Qdrant's local clients write to the directory they open (locks, logs, migrations), so
they open a throwaway copy; the user's files are only read. PostgreSQL is read through a
read-only session: the server refuses any write. Stored texts, where a store keeps them,
become the audit's truth.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, MissingPackageError

KINDS = ("chroma", "lancedb", "qdrant", "faiss", "pgvector")
TEXT_COLUMNS = ("text", "document", "documents", "content", "chunk", "body", "page_content")


@dataclass
class Source:
    vectors: np.ndarray  # N×d float32, as stored
    texts: list[str] | None  # the stored texts, where the store keeps them
    ids: list[str] = field(default_factory=list)
    kind: str = ""


def _split(spec: str) -> tuple[str, str, str]:
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in KINDS:
        raise InputError(f"--source {spec!r}: use one of " + ", ".join(f"{k}:PATH#NAME" for k in KINDS))
    where, _, name = rest.rpartition("#") if "#" in rest else (rest, "", "")
    if not where:
        raise InputError(f"--source {spec!r}: no path before '#'")
    return kind, where, name


def _copy(path: Path) -> tempfile.TemporaryDirectory:
    if not path.is_dir():
        raise InputError(f"{path} is not a directory")
    tmp = tempfile.TemporaryDirectory(prefix="unembed-audit-")
    shutil.copytree(path, Path(tmp.name) / "store")
    return tmp


def _need(module: str, extra: str = "stores"):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(f"reading this source needs {module}: pip install 'unembed[{extra}]'") from None


def _pick(names: list[str], wanted: str | None, default: tuple[str, ...], what: str, where: str) -> str | None:
    if wanted:
        if wanted not in names:
            raise InputError(f"{where}: no column {wanted!r} (columns: {', '.join(names)})")
        return wanted
    return next((c for c in default if c in names), None)


def _named(what: str, names: list[str], name: str, where: str) -> str:
    """The collection or table `name`, or the only one there is; an error listing them otherwise."""
    if name:
        if name not in names:
            raise InputError(f"{where}: no {what} {name!r} (there are: {', '.join(names) or 'none'})")
        return name
    if len(names) == 1:
        return names[0]
    raise InputError(f"{where}: name the {what} after '#' (there are: {', '.join(names) or 'none'})")


def read_chroma(path: str, name: str) -> Source:
    chromadb = _need("chromadb")
    tmp = _copy(Path(path))
    try:
        client = chromadb.PersistentClient(path=str(Path(tmp.name) / "store"))
        names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
        coll = client.get_collection(_named("collection", names, name, path), embedding_function=None)
        got = coll.get(include=["embeddings", "documents"])
        vectors = np.asarray(got["embeddings"], np.float32)
        docs = got.get("documents")
        texts = list(docs) if docs is not None and all(isinstance(d, str) for d in docs) and len(docs) else None
        return Source(vectors, texts, list(got["ids"]), "chroma")
    finally:
        tmp.cleanup()


def read_lancedb(path: str, name: str, column: str | None = None, text_column: str | None = None) -> Source:
    import lancedb
    import pyarrow as pa
    if not Path(path).is_dir():
        raise InputError(f"{path} is not a LanceDB directory")
    db = lancedb.connect(path)
    names = list(db.table_names())
    table = db.open_table(_named("table", names, name, path)).to_arrow()  # a read: nothing is written
    cols = table.column_names
    vec_cols = [c for c in cols if pa.types.is_fixed_size_list(table.schema.field(c).type)
                or pa.types.is_list(table.schema.field(c).type)]
    col = _pick(cols, column, ("vector", "embedding", "embeddings") + tuple(vec_cols), "vector", path)
    if col is None:
        raise InputError(f"{path}#{name}: no vector column; pass --column (columns: {', '.join(cols)})")
    try:
        vectors = np.asarray(table[col].to_pylist(), np.float32)
    except (ValueError, TypeError):
        raise InputError(f"{path}#{name}: column {col!r} does not hold equal-length number lists") from None
    tcol = _pick(cols, text_column, TEXT_COLUMNS, "text", path)
    texts = [str(t) for t in table[tcol].to_pylist()] if tcol else None
    ids = [str(i) for i in table["id"].to_pylist()] if "id" in cols else [str(i) for i in range(len(vectors))]
    return Source(vectors, texts, ids, "lancedb")


def read_qdrant(where: str, name: str) -> Source:
    qdrant = _need("qdrant_client", "qdrant")
    tmp = None
    if where.startswith(("http://", "https://")):
        client = qdrant.QdrantClient(url=where)
    else:
        tmp = _copy(Path(where))
        client = qdrant.QdrantClient(path=str(Path(tmp.name) / "store"))
    try:
        names = [c.name for c in client.get_collections().collections]
        coll = _named("collection", names, name, where)
        points, offset = [], None
        while True:
            batch, offset = client.scroll(coll, limit=1024, offset=offset, with_vectors=True, with_payload=True)
            points += batch
            if offset is None:
                break
        vecs = [p.vector if not isinstance(p.vector, dict) else next(iter(p.vector.values())) for p in points]
        texts = [next((str(p.payload[k]) for k in TEXT_COLUMNS if p.payload and k in p.payload), None) for p in points]
        return Source(np.asarray(vecs, np.float32), texts if texts and all(t is not None for t in texts) else None,
                      [str(p.id) for p in points], "qdrant")
    finally:
        client.close()
        if tmp is not None:
            tmp.cleanup()


def read_faiss(path: str, ids_file: str) -> Source:
    faiss = _need("faiss")
    if not os.path.isfile(path):
        raise InputError(f"FAISS index file not found: {path}")
    try:
        index = faiss.read_index(path)
        vectors = index.reconstruct_n(0, index.ntotal)
    except RuntimeError as e:
        raise InputError(f"{path}: its vectors cannot be read back ({str(e).splitlines()[0][:120]}); "
                         "flat and HNSW-flat indexes can, compressed ones cannot") from None
    ids = [str(i) for i in range(index.ntotal)]
    if ids_file:
        try:
            ids = [str(i) for i in json.loads(Path(ids_file).read_text())]
        except (OSError, ValueError):
            raise InputError(f"{ids_file}: not a JSON list of ids") from None
        if len(ids) != index.ntotal:
            raise InputError(f"{ids_file} lists {len(ids)} ids for {index.ntotal} vectors")
    return Source(np.asarray(vectors, np.float32), None, ids, "faiss")


def _parse_vector(text: str) -> list[float]:
    """pgvector's text form, '[1,2.5,-3]' (vector and halfvec), or a float array's, '{1,2.5,-3}'."""
    return [float(x) for x in text.strip()[1:-1].split(",") if x.strip()]


def read_pgvector(uri: str, name: str, column: str | None = None, text_column: str | None = None) -> Source:
    psycopg = _need("psycopg", "pgvector")
    from psycopg import sql
    where = "the PostgreSQL server"  # never the URI: it may hold a password
    try:
        # a read-only session: the server itself refuses any write this audit could attempt
        conn = psycopg.connect(uri, options="-c default_transaction_read_only=on", connect_timeout=10)
    except psycopg.Error as e:
        raise InputError(f"pgvector: could not connect to {where} ({type(e).__name__}); check the URI") from None
    try:
        conn.read_only = True
        rows = conn.execute(
            "SELECT table_schema, table_name, column_name, udt_name FROM information_schema.columns "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
        tables: dict[str, list[tuple[str, str]]] = {}
        for schema, table, col, udt in rows:
            tables.setdefault(table if schema == "public" else f"{schema}.{table}", []).append((col, udt))
        with_vectors = [t for t, cols in tables.items() if any(u in ("vector", "halfvec") for _, u in cols)]
        table = _named("table", sorted(tables) if name else with_vectors, name, "pgvector")
        cols = [c for c, _ in tables[table]]
        vec_cols = [c for c, u in tables[table] if u in ("vector", "halfvec", "_float4", "_float8")]
        col = _pick(cols, column, ("embedding", "vector", "embeddings") + tuple(vec_cols), "vector", f"pgvector#{table}")
        if col is None or col not in vec_cols:
            raise InputError(f"pgvector#{table}: no vector column; pass --column (columns: {', '.join(cols)})")
        tcol = _pick(cols, text_column, TEXT_COLUMNS, "text", f"pgvector#{table}")
        idcol = "id" if "id" in cols else None
        ident = sql.Identifier(*table.split(".", 1))
        fields = [sql.SQL("{}::text").format(sql.Identifier(col))]
        fields += [sql.SQL("{}::text").format(sql.Identifier(c)) for c in (idcol, tcol) if c]
        order = sql.SQL(" ORDER BY {}").format(sql.Identifier(idcol)) if idcol else sql.SQL("")
        got = conn.execute(sql.SQL("SELECT {} FROM {}{}").format(sql.SQL(", ").join(fields), ident, order)).fetchall()
    except psycopg.Error as e:
        raise InputError(f"pgvector: the server refused the read ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    finally:
        conn.close()
    got = [r for r in got if r[0] is not None]
    try:
        vectors = np.asarray([_parse_vector(r[0]) for r in got], np.float32)
    except ValueError:
        raise InputError(f"pgvector#{table}: column {col!r} does not hold vectors of one width") from None
    ids = [str(r[1]) for r in got] if idcol else [str(i) for i in range(len(got))]
    texts = [str(r[-1]) for r in got] if tcol else None
    return Source(vectors.reshape(len(got), -1), texts, ids, "pgvector")


def read_source(spec: str, column: str | None = None, text_column: str | None = None) -> Source:
    kind, where, name = _split(spec)
    if kind == "chroma":
        src = read_chroma(where, name)
    elif kind == "lancedb":
        src = read_lancedb(where, name, column, text_column)
    elif kind == "qdrant":
        src = read_qdrant(where, name)
    elif kind == "pgvector":
        src = read_pgvector(where, name, column, text_column)
    else:
        src = read_faiss(where, name)
    if not len(src.vectors):
        raise InputError(f"{spec}: the collection holds no vectors")
    return src


def detect_embedder(vectors: np.ndarray, texts: list[str] | None, named: str | None, say=print):
    """The embedder that made these vectors: the one named; else a local one whose embeddings of the
    stored texts match the stored vectors (cosine ≥ 0.99); else the only local one of that width.
    Says which way it was chosen; a width no local embedder has is an error asking for --embedder."""
    from ..embed import load_embedder
    from ..embed.registry import KNOWN
    if named:
        return load_embedder(named)
    dim = vectors.shape[1]
    widths = {"minilm": 384, "mpnet": 768}
    fits = [k for k in KNOWN if widths.get(k) == dim]
    if texts:
        for k in fits:
            try:
                emb = load_embedder(k)
            except MissingPackageError:
                continue
            v = vectors[:8] / np.linalg.norm(vectors[:8], axis=1, keepdims=True).clip(1e-12)
            if float(np.mean((emb.embed(texts[:8]) * v).sum(1))) >= 0.99:
                say(f"embedder: {k} (its embeddings of the stored texts match the stored vectors)")
                return emb
    if len(fits) == 1:
        say(f"embedder: {fits[0]} assumed from the width ({dim}); pass --embedder if it is another")
        return load_embedder(fits[0])
    raise InputError(f"no local embedder makes {dim}-d vectors that match these: pass --embedder NAME "
                     f"(known: {', '.join(f'{k} ({widths[k]}-d)' for k in KNOWN)}, a folder, or MODEL@URL)")
