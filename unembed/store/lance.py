"""The default store: an embedded LanceDB directory (one `chunks` table plus store.json).

Every write is one LanceDB commit, so a process killed mid-write leaves the previous version
intact. `replace` swaps documents' old rows for their new ones in a single merge-insert commit, so
a reader (or a crash) sees each document's old version or its new one, never neither. Writers
take the directory's write lock (store/lock.py) and re-read the latest version under it, so
concurrent writers in threads or processes serialise instead of losing each other's rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from ..embed.base import check_vectors
from ..errors import InputError, StoreError
from .base import INFO_FILE, Chunk, DocState, Hit, StoreInfo, check_parts, dir_bytes, read_info, write_info
from .crypto import CIPHER, VectorCipher, cipher_for
from .encodings import arrow_array, arrow_type, column_to_numpy, decode, encode, row_dtype, width
from .lock import drop_unfinished_table, latest_under_lock, lock_held, unfinished_create

TABLE = "chunks"


def _vector_type(info: StoreInfo) -> pa.DataType:
    return pa.binary() if info.cipher else arrow_type(info.encoding, info.dim)


def _schema(info: StoreInfo) -> pa.Schema:
    fields = [
        pa.field("id", pa.string()), pa.field("doc", pa.string()), pa.field("chunk", pa.int32()),
        pa.field("source", pa.string()), pa.field("position", pa.int64()), pa.field("hash", pa.string()),
        pa.field("doc_hash", pa.string()), pa.field("n_chunks", pa.int32()),
        pa.field("vector", _vector_type(info)),
    ]
    if info.parts > 1:  # one blob per row: its part vectors' encoded rows end to end (sealed or not)
        fields.append(pa.field("parts", pa.binary()))
    if info.mode != "lossy":  # a lossy store has no text column at all
        fields.append(pa.field("text", pa.string()))
    return pa.schema(fields)


def _guarded(fn):
    """Damaged data files surface only when read: report them as a corrupt store, not a traceback."""
    from functools import wraps

    @wraps(fn)
    def wrapper(self, *a, **k):
        try:
            return fn(self, *a, **k)
        except (RuntimeError, OSError, ValueError) as e:
            if "lance" not in str(e).lower() and "arrow" not in type(e).__module__:
                raise
            raise StoreError(f"{self.path}: corrupt store, reading the chunks table failed "
                             f"({str(e).splitlines()[0][:120]})") from None
    return wrapper


def _rekey_paths(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + ".rekey"), path.with_name(path.name + ".old")


def recover_rekey(path, locked: bool = False) -> None:
    """Finish or undo a rekey that was killed: the `.rekey` copy is whole only once the store has
    been renamed to `.old`, so with the store gone the copy takes its place, and with the store
    still there a leftover copy is dropped. Left alone while a rekey holds the lock (`locked`:
    the caller is that rekey)."""
    import shutil
    path = Path(path)
    fresh, old = _rekey_paths(path)
    if not fresh.exists() and not old.exists():
        return
    holder = path if path.exists() else old
    if not locked and holder.exists() and lock_held(holder):
        return
    if not path.exists() and fresh.exists() and old.exists():
        fresh.rename(path)
    if path.exists():
        for leftover in (fresh, old):
            if leftover.exists():
                shutil.rmtree(leftover)


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class LanceStore:
    def __init__(self, path: Path, info: StoreInfo, table, cipher: VectorCipher | None = None):
        self.path, self.info, self.table, self.cipher = Path(path), info, table, cipher
        self._scan_cache: tuple[int, pa.Table, np.ndarray] | None = None

    @classmethod
    def create(cls, path, info: StoreInfo, key: bytes | None = None) -> "LanceStore":
        """A new, empty store; with `key`, its vectors are sealed at rest (store/crypto.py)."""
        import lancedb
        path = Path(path)
        cipher = VectorCipher(key) if key is not None else None
        info.cipher, info.key_check = (CIPHER, cipher.fingerprint) if cipher else ("", "")
        if path.exists() and (not path.is_dir() or not unfinished_create(path, (f"{TABLE}.lance", INFO_FILE + ".tmp"))):
            read_info(path)  # raises: a file, or a non-empty foreign directory
            raise StoreError(f"{path}: a store already exists here")
        path.mkdir(parents=True, exist_ok=True)
        info.backend = "lance"
        drop_unfinished_table(path / f"{TABLE}.lance")  # without store.json, a killed create's, never a store's
        table = lancedb.connect(str(path)).create_table(TABLE, schema=_schema(info))
        write_info(path, info)  # last: a directory without store.json was never a finished store
        return cls(path, info, table, cipher)

    @classmethod
    def open(cls, path, key: bytes | None = None) -> "LanceStore":
        """Open a store; an encrypted one takes `key`, else the key from the environment."""
        import lancedb
        path = Path(path)
        recover_rekey(path)
        info = read_info(path)
        if info.backend != "lance":
            raise StoreError(f"{path}: a {info.backend} store, not a LanceDB one")
        cipher = cipher_for(info.cipher, info.key_check, key, path)
        try:
            table = lancedb.connect(str(path)).open_table(TABLE)
            table.count_rows()
        except Exception as e:  # lance raises several types for damaged files
            raise StoreError(f"{path}: corrupt store, the chunks table cannot be read ({type(e).__name__})") from None
        if table.schema.field("vector").type != _vector_type(info):
            raise StoreError(f"{path}: corrupt store, the vector column does not match store.json")
        if ("parts" in table.schema.names) != (info.parts > 1):
            raise StoreError(f"{path}: corrupt store, the part-vector column does not match store.json")
        return cls(path, info, table, cipher)

    # -- writing
    def writing(self):
        """The store's write lock, with the table at the latest commit (store/lock.py)."""
        return latest_under_lock(self.path, self.table)

    def _table_of(self, chunks: list[Chunk], vectors: np.ndarray, parts) -> pa.Table:
        """The rows these chunks become: everything checked and encoded (and sealed) before any write."""
        if len(chunks) != len(vectors):
            raise InputError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        rows = encode(check_vectors(vectors, self.info.dim), self.info.encoding)
        parts = check_parts(parts, chunks, self.info)
        ids = [c.id for c in chunks]
        cols = {
            "id": ids, "doc": [c.doc for c in chunks], "chunk": [c.chunk for c in chunks],
            "source": [c.source for c in chunks], "position": [c.position for c in chunks],
            "hash": [self.info.chunk_hash(c.text) for c in chunks], "doc_hash": [c.doc_hash for c in chunks],
            "n_chunks": [c.n_chunks for c in chunks],
            "vector": self._vector_column(rows, ids),
        }
        if self.info.parts > 1:
            cols["parts"] = self._parts_column(parts, ids)
        if self.info.mode != "lossy":
            cols["text"] = [c.text if self.info.keeps_text(c.doc) else None for c in chunks]
        return pa.table(cols, schema=_schema(self.info))

    def add(self, chunks: list[Chunk], vectors: np.ndarray, parts: list[np.ndarray | None] | None = None) -> None:
        """Append rows (one commit). To change documents that may already be here, use `replace`."""
        if not chunks:
            return
        table = self._table_of(chunks, vectors, parts)
        with self.writing():
            self.table.add(table)

    def replace(self, docs: list[str], chunks: list[Chunk], vectors: np.ndarray,
                parts: list[np.ndarray | None] | None = None) -> None:
        """Make `chunks` the whole content of documents `docs`, in one commit: their rows that the
        new chunks do not overwrite go, the rest are updated or inserted. A document in `docs`
        with no chunks is deleted."""
        docs = sorted(set(docs) | {c.doc for c in chunks})
        if not docs:
            return
        table = self._table_of(chunks, vectors, parts) if chunks else None
        gone = "doc IN (" + ", ".join(_quote(d) for d in docs) + ")"
        with self.writing():
            if table is None:
                self.table.delete(gone)
                return
            (self.table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all()
             .when_not_matched_by_source_delete(gone).execute(table))

    def delete(self, doc: str) -> int:
        with self.writing():
            before = self.count()
            self.table.delete(f"doc = {_quote(doc)}")
            return before - self.count()

    def compact(self) -> None:
        """Merge the small fragments many adds leave behind and drop old versions."""
        try:
            with self.writing():
                self.table.optimize()
        except Exception:  # optional housekeeping; never fail an ingest over it
            pass

    # -- reading
    def count(self) -> int:
        return self.table.count_rows()

    @_guarded
    def documents(self) -> dict[str, DocState]:
        t = self.table.search().select(["doc", "doc_hash", "n_chunks"]).limit(max(self.count(), 1)).to_arrow()
        out: dict[str, DocState] = {}
        for doc, h, n in zip(t["doc"].to_pylist(), t["doc_hash"].to_pylist(), t["n_chunks"].to_pylist()):
            st = out.setdefault(doc, DocState(h, 0, n))
            st.rows += 1
            if st.doc_hash != h:
                st.n_chunks = -1  # mixed versions of one file: incomplete by definition
        return out

    def _vector_column(self, rows: np.ndarray, ids: list[str]) -> pa.Array:
        if self.cipher:
            return pa.array(self.cipher.seal(rows, ids), pa.binary())
        return arrow_array(rows, self.info.encoding, self.info.dim)

    def _parts_column(self, parts: list[np.ndarray | None], ids: list[str]) -> pa.Array:
        enc = self.info.encoding
        blobs = [None if p is None else encode(p, enc).tobytes() for p in parts]
        if self.cipher:  # bound to the row and to its role, so a part blob cannot pose as a vector
            blobs = [None if b is None else self.cipher.seal_blob(b, i + "/parts") for b, i in zip(blobs, ids)]
        return pa.array(blobs, pa.binary())

    def _parts(self, t: pa.Table) -> list[np.ndarray | None]:
        if "parts" not in t.column_names:
            return [None] * len(t)
        enc, dim = self.info.encoding, self.info.dim
        out: list[np.ndarray | None] = []
        for b, i in zip(t["parts"].to_pylist(), t["id"].to_pylist()):
            if b is not None:
                b = self.cipher.open_blob(b, i + "/parts") if self.cipher else b
                b = decode(np.frombuffer(b, row_dtype(enc)).reshape(-1, width(enc, dim)), enc, dim)
            out.append(b)
        return out

    def _vectors(self, t: pa.Table) -> np.ndarray:
        enc, dim = self.info.encoding, self.info.dim
        if self.cipher:
            rows = self.cipher.open(t["vector"].to_pylist(), t["id"].to_pylist(), row_dtype(enc), width(enc, dim))
        else:
            rows = column_to_numpy(t["vector"], enc, dim)
        return decode(rows, enc, dim)

    def _hits(self, t: pa.Table, scores, vecs: np.ndarray | None = None) -> list[Hit]:
        """Rows of `t` as hits; `vecs`, when the caller has already decoded them, saves decoding twice."""
        vecs = self._vectors(t) if vecs is None else vecs
        texts = t["text"].to_pylist() if "text" in t.column_names else [None] * len(t)
        return [Hit(i, d, c, float(s), v, tx, src, p, pv) for i, d, c, s, v, tx, src, p, pv in zip(
            t["id"].to_pylist(), t["doc"].to_pylist(), t["chunk"].to_pylist(), scores, vecs, texts,
            t["source"].to_pylist(), t["position"].to_pylist(), self._parts(t))]

    @_guarded
    def _all(self) -> tuple[pa.Table, np.ndarray]:
        version = self.table.version
        if self._scan_cache is None or self._scan_cache[0] != version:
            t = self.table.to_arrow()
            self._scan_cache = (version, t, self._vectors(t))
        return self._scan_cache[1], self._scan_cache[2]

    @_guarded
    def search(self, vector: np.ndarray, k: int = 5, doc: str | None = None) -> list[Hit]:
        """Top-k chunks by cosine, optionally within one document."""
        where = f"doc = {_quote(doc)}" if doc else None
        q = check_vectors(vector, self.info.dim, what="query vector")[0]
        if self.count() == 0:
            return []
        enc = self.info.encoding
        native = not self.cipher  # a sealed column is ciphertext to the database: decrypt and scan, below
        if native and enc in ("f32", "f16"):
            query = self.table.search(q, vector_column_name="vector").distance_type("cosine").limit(k)
            t = (query.where(where, prefilter=True) if where else query).to_arrow()
            return self._hits(t, 1.0 - t["_distance"].to_numpy())
        if native and enc == "binary":  # LanceDB's native Hamming search on the packed sign bits
            packed = encode(q[None], "binary")[0]
            query = self.table.search(packed, vector_column_name="vector").distance_type("hamming").limit(k)
            t = (query.where(where, prefilter=True) if where else query).to_arrow()
            return self._hits(t, 1.0 - 2.0 * t["_distance"].to_numpy() / self.info.dim)
        # int8 (LanceDB has no int8 vector search) and sealed rows: scan exactly, decoded rows, float query
        t, vecs = self._all()
        mask = np.asarray(t["doc"].to_pylist(), dtype=object) == doc if doc else np.ones(len(t), bool)
        scores = np.where(mask, vecs @ q, -np.inf)
        top = [i for i in np.argsort(-scores)[:k] if np.isfinite(scores[i])]
        return self._hits(t.take(top), scores[top], vecs[top])

    @_guarded
    def get(self, ids: list[str]) -> list[Hit]:
        if not ids:
            return []
        cond = "id IN (" + ", ".join(_quote(i) for i in ids) + ")"
        t = self.table.search().where(cond).limit(len(ids)).to_arrow()
        found = {h.id: h for h in self._hits(t, [1.0] * len(t))}
        missing = [i for i in ids if i not in found]
        if missing:
            raise InputError(f"no chunk with id {missing[0]!r} in {self.path}")
        return [found[i] for i in ids]

    def _ordered(self) -> tuple[pa.Table, np.ndarray]:
        """Every row and its decoded vector, by document then chunk: the order `rows()` and
        `copy_with_vectors` share."""
        import pyarrow.compute as pc
        t, vecs = self._all()
        order = pc.sort_indices(t, sort_keys=[("doc", "ascending"), ("chunk", "ascending")]).to_numpy()
        return t.take(order), vecs[order]

    def rows(self) -> list[Hit]:
        """Every chunk, in document order (what an audit reads)."""
        t, vecs = self._ordered()
        return self._hits(t, [1.0] * len(t), vecs)

    def copy_with_vectors(self, path, vectors: np.ndarray, info: StoreInfo, key: bytes | None = None,
                          parts: list[np.ndarray | None] | None = None) -> "LanceStore":
        """A new store at `path` holding this one's rows (same order as `rows()`) with other
        vectors; `parts` (same order) replaces the part vectors too, else they are copied as they are."""
        t, _ = self._ordered()
        new = LanceStore.create(path, info, key)
        rows = encode(check_vectors(vectors, info.dim), info.encoding)
        ids = t["id"].to_pylist()
        cols = {n: t[n] for n in _schema(info).names if n not in ("vector", "parts")}
        cols["vector"] = new._vector_column(rows, ids)
        if info.parts > 1:
            parts = self._parts(t) if parts is None else parts
            if len(parts) != len(ids):
                raise InputError(f"{len(ids)} rows but part vectors for {len(parts)}")
            cols["parts"] = new._parts_column([None if p is None else check_vectors(p, info.dim) for p in parts], ids)
        new.table.add(pa.table(cols, schema=_schema(info)))
        return new

    def rekey(self, new_key: bytes | None) -> "LanceStore":
        """Re-seal every vector under `new_key` (None: store them in the clear), in place.

        Builds the re-sealed copy beside the store and swaps the directories with renames, under
        the write lock. A crash at any point is finished or undone by the next open
        (`recover_rekey`): the store is then wholly under the old key or wholly under the new."""
        import shutil
        from dataclasses import replace
        fresh, old = _rekey_paths(self.path)
        with self.writing():
            recover_rekey(self.path, locked=True)
            if self.count():
                self.copy_with_vectors(fresh, self._ordered()[1], replace(self.info), new_key)
            else:
                LanceStore.create(fresh, replace(self.info), new_key)
            self.path.rename(old)  # from here on the copy is whole: recovery completes the swap
            fresh.rename(self.path)
            shutil.rmtree(old)
        return LanceStore.open(self.path, new_key)

    def disk_bytes(self) -> int:
        return dir_bytes(self.path)
