"""A concept memory: vectors that merge with their near-duplicates instead of piling up.

A memory is a directory: `memory.json` (embedder, width) and a LanceDB table `memories` with one
row per concept — its unit vector, how many items it stands for, and its provenance (each item's
id, source label and time of arrival). No text is kept; `show` reads concepts back by inverting.

Every change is one LanceDB commit (an upsert, or an overwrite for consolidation), so a process
killed mid-way leaves the memory as it was before the call. Each change reads and writes under the
directory's write lock (store/lock.py), so concurrent adds (threads or processes) all count, and a
consolidation never overwrites an add that arrived after it read the table.
"""
from __future__ import annotations

import json
import secrets
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..embed.base import check_vectors
from ..errors import InputError, MismatchError, StoreError
from ..store.base import dir_bytes
from ..store.crypto import CIPHER, VectorCipher, cipher_for
from ..store.lock import drop_unfinished_table, latest_under_lock, unfinished_create, write_lock

INFO_FILE = "memory.json"
TABLE = "memories"
FORMAT = 1


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class MemoryInfo:
    embedder: str
    dim: int
    kind: str = "memory"
    cipher: str = ""  # vectors sealed at rest (store/crypto.py); key_check fingerprints the key
    key_check: str = ""
    format: int = FORMAT


@dataclass
class Item:
    """Where one added vector came from: its id, the caller's label, and when it arrived."""
    item: str
    source: str
    added: str


@dataclass
class Concept:
    id: str
    vector: np.ndarray
    count: int
    items: list[Item] = field(default_factory=list)
    created: str = ""
    updated: str = ""


def _schema(dim: int, sealed: bool = False) -> pa.Schema:
    item = pa.struct([("item", pa.string()), ("source", pa.string()), ("added", pa.string())])
    return pa.schema([
        pa.field("id", pa.string()), pa.field("vector", pa.binary() if sealed else pa.list_(pa.float32(), dim)),
        pa.field("count", pa.int64()), pa.field("items", pa.list_(item)),
        pa.field("created", pa.string()), pa.field("updated", pa.string()),
    ])


def _merge_vectors(vectors: np.ndarray, counts: np.ndarray) -> np.ndarray:
    s = (counts[:, None] * vectors.astype(np.float64)).sum(0)
    n = np.linalg.norm(s)
    # opposite vectors with equal counts cancel; keep the heavier (first) one's direction then
    return (s / n if n > 1e-9 else vectors[0]).astype(np.float32)


def cluster(vectors: np.ndarray, counts: np.ndarray, threshold: float) -> list[list[int]]:
    """Centroid-linkage agglomerative clustering on cosine, stopping below `threshold`.

    Repeatedly merges the two most similar clusters, each represented by its count-weighted,
    renormalised centroid, until no pair reaches the threshold. Holds an n×n similarity matrix
    (n = 10,000 memories: 400 MB).
    """
    n = len(vectors)
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"threshold must be in (0, 1], got {threshold}")
    groups: list[list[int]] = [[i] for i in range(n)]
    if n < 2:
        return groups
    cent = vectors.astype(np.float32).copy()
    cnt = counts.astype(np.float64).copy()
    alive = np.ones(n, bool)
    sims = cent @ cent.T
    np.fill_diagonal(sims, -np.inf)
    best = sims.argmax(1)
    best_val = sims[np.arange(n), best]
    while True:
        i = int(best_val.argmax())
        if best_val[i] < threshold:
            break
        j = int(best[i])
        if cnt[j] > cnt[i] or (cnt[j] == cnt[i] and j < i):
            i, j = j, i  # the heavier (then older) cluster absorbs the other and keeps its id
        cent[i] = _merge_vectors(cent[[i, j]], cnt[[i, j]])
        cnt[i] += cnt[j]
        groups[i] += groups[j]
        groups[j] = []
        alive[j] = False
        sims[j, :] = sims[:, j] = -np.inf
        row = np.where(alive, cent @ cent[i], -np.inf)
        row[i] = -np.inf
        sims[i, :] = sims[:, i] = row
        best_val[j] = -np.inf
        stale = alive & ((best == i) | (best == j))
        stale[i] = True
        for k in np.flatnonzero(stale):
            best[k] = int(sims[k].argmax())
            best_val[k] = sims[k, best[k]]
        better = alive & (row > best_val)
        best[better], best_val[better] = i, row[better]
    return [sorted(g) for g in groups if g]


@dataclass
class ConsolidationReport:
    before: int
    after: int
    merged: int  # concepts absorbed into others
    items: int  # items the memory stands for (unchanged by consolidation)
    vector_bytes_before: int
    vector_bytes_after: int
    disk_bytes_before: int
    disk_bytes_after: int
    clusters: list[dict]  # only those with more than one member: {id, absorbed, count}

    @property
    def reduction(self) -> float:
        return 1.0 - self.after / self.before if self.before else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "reduction": self.reduction}


class ConceptMemory:
    """Add items, merge near-duplicates (on arrival or in a consolidation pass), keep provenance."""

    def __init__(self, path: Path, info: MemoryInfo, table, cipher: VectorCipher | None = None):
        self.path, self.info, self.table, self.cipher = Path(path), info, table, cipher

    @classmethod
    def open_or_create(cls, path, embedder_name: str | None = None, dim: int | None = None,
                       key: bytes | None = None) -> "ConceptMemory":
        """Open the memory at `path`, or create it; `key` seals a new memory's vectors at rest."""
        path = Path(path)
        if (path / INFO_FILE).exists():
            return cls.open(path, embedder_name, dim, key)
        if embedder_name is None or dim is None:
            raise StoreError(f"{path}: no concept memory here")
        if path.exists() and not path.is_dir():
            raise StoreError(f"{path}: not an unembed concept memory (a file); refusing to write into it")
        with write_lock(path, what="memory"):  # concurrent first adds create it once
            if (path / INFO_FILE).exists():
                return cls.open(path, embedder_name, dim, key)
            if not unfinished_create(path, (f"{TABLE}.lance", INFO_FILE + ".tmp")):
                raise StoreError(f"{path}: not an unembed concept memory (no {INFO_FILE}); refusing to write into it")
            import lancedb
            drop_unfinished_table(path / f"{TABLE}.lance")  # without memory.json, a killed create's
            lancedb.connect(str(path)).create_table(TABLE, schema=_schema(dim, key is not None))
            info = MemoryInfo(embedder_name, dim)
            if key is not None:
                info.cipher, info.key_check = CIPHER, VectorCipher(key).fingerprint
            tmp = path / (INFO_FILE + ".tmp")
            tmp.write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
            tmp.replace(path / INFO_FILE)
        return cls.open(path, key=key)

    @classmethod
    def open(cls, path, embedder_name: str | None = None, dim: int | None = None,
             key: bytes | None = None) -> "ConceptMemory":
        """Open a memory; an encrypted one takes `key`, else the key from the environment."""
        import lancedb
        path = Path(path)
        if not (path / INFO_FILE).is_file():
            raise StoreError(f"{path}: not an unembed concept memory (no {INFO_FILE})")
        try:
            raw = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
            if raw.get("format") != FORMAT or raw.get("kind") != "memory":
                raise ValueError(f"format {raw.get('format')!r}, kind {raw.get('kind')!r}")
            info = MemoryInfo(**raw)
        except (ValueError, TypeError, AttributeError) as e:
            raise StoreError(f"{path}: corrupt memory description ({e})") from None
        if embedder_name is not None and embedder_name != info.embedder:
            raise MismatchError(f"this memory was built with embedder {info.embedder!r}, not {embedder_name!r}")
        if dim is not None and dim != info.dim:
            raise MismatchError(f"this memory holds {info.dim}-d vectors, not {dim}-d")
        cipher = cipher_for(info.cipher, info.key_check, key, path)
        try:
            table = lancedb.connect(str(path)).open_table(TABLE)
            table.count_rows()
        except Exception as e:
            raise StoreError(f"{path}: corrupt memory, the table cannot be read ({type(e).__name__})") from None
        if table.schema != _schema(info.dim, bool(info.cipher)):
            raise StoreError(f"{path}: corrupt memory, {INFO_FILE} ({info.dim}-d, "
                             f"{'sealed' if info.cipher else 'not sealed'}) does not match its table")
        return cls(path, info, table, cipher)

    def writing(self):
        """The memory's write lock, with the table at the latest commit (store/lock.py)."""
        return latest_under_lock(self.path, self.table, what="memory")

    # -- reading
    def count(self) -> int:
        return self.table.count_rows()

    def concepts(self) -> list[Concept]:
        try:
            t = self.table.to_arrow()
        except Exception as e:
            raise StoreError(f"{self.path}: corrupt memory ({type(e).__name__})") from None
        if len(t) == 0:
            return []
        if self.cipher:
            vecs = self.cipher.open(t["vector"].to_pylist(), t["id"].to_pylist(), np.float32, self.info.dim)
        else:
            vecs = t["vector"].combine_chunks().flatten().to_numpy().reshape(len(t), self.info.dim)
        out = [Concept(i, v.astype(np.float32), c, [Item(**x) for x in its], cr, up) for i, v, c, its, cr, up in zip(
            t["id"].to_pylist(), vecs, t["count"].to_pylist(), t["items"].to_pylist(),
            t["created"].to_pylist(), t["updated"].to_pylist())]
        return sorted(out, key=lambda c: (c.created, c.id))

    def get(self, concept_id: str) -> Concept:
        for c in self.concepts():
            if c.id == concept_id:
                return c
        raise InputError(f"no concept with id {concept_id!r} in {self.path}")

    def disk_bytes(self) -> int:
        return dir_bytes(self.path)

    # -- writing
    def _rows(self, concepts: list[Concept]) -> pa.Table:
        vecs = np.stack([c.vector for c in concepts]).astype(np.float32)
        ids = [c.id for c in concepts]
        return pa.table({
            "id": ids,
            "vector": (pa.array(self.cipher.seal(vecs, ids), pa.binary()) if self.cipher else
                       pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1)), self.info.dim)),
            "count": [c.count for c in concepts],
            "items": [[asdict(i) for i in c.items] for c in concepts],
            "created": [c.created for c in concepts], "updated": [c.updated for c in concepts],
        }, schema=_schema(self.info.dim, self.cipher is not None))

    def add(self, vectors, sources: list[str] | None = None, merge_above: float | None = None) -> list[dict]:
        """Add one item per vector. With `merge_above`, an item whose nearest concept (including
        ones added earlier in this call) has at least that cosine joins it instead of adding a row.
        Returns, per item, its id, the concept it landed in, and whether it merged."""
        vecs = check_vectors(vectors, self.info.dim, what="memory items")
        sources = list(sources) if sources is not None else [""] * len(vecs)
        if len(sources) != len(vecs):
            raise InputError(f"{len(sources)} source labels for {len(vecs)} items")
        if merge_above is not None and not 0.0 < merge_above <= 1.0:
            raise InputError(f"--merge-above must be in (0, 1], got {merge_above}")
        with self.writing():  # the read that decides merges and the write that applies them, as one
            return self._add(vecs, sources, merge_above)

    def _add(self, vecs: np.ndarray, sources: list[str], merge_above: float | None) -> list[dict]:
        existing = self.concepts() if merge_above is not None else []
        changed: dict[str, Concept] = {}
        pool = list(existing)
        report = []
        now = _now()
        for v, src in zip(vecs, sources):
            item = Item(f"i-{secrets.token_hex(5)}", src, now)
            target = None
            if merge_above is not None and pool:
                sims = np.stack([c.vector for c in pool]) @ v
                k = int(sims.argmax())
                if sims[k] >= merge_above:
                    target = pool[k]
            if target is None:
                target = Concept(f"m-{secrets.token_hex(5)}", v.copy(), 1, [item], now, now)
                pool.append(target)
                merged = False
            else:
                target.vector = _merge_vectors(np.stack([target.vector, v]), np.array([target.count, 1.0]))
                target.count += 1
                target.items.append(item)
                target.updated = now
                merged = True
            changed[target.id] = target
            report.append({"item": item.item, "concept": target.id, "merged": merged})
        (self.table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all()
         .execute(self._rows(list(changed.values()))))
        return report

    def consolidate(self, threshold: float = 0.9, dry_run: bool = False) -> tuple[ConsolidationReport, list[Concept]]:
        """Replace each cluster of concepts above `threshold` by its count-weighted centroid.

        Returns the report and the concepts after consolidation (written unless `dry_run`). The
        read, the clustering and the write hold the write lock together, so no add is lost."""
        with nullcontext() if dry_run else self.writing():
            return self._consolidate(threshold, dry_run)

    def _consolidate(self, threshold: float, dry_run: bool) -> tuple[ConsolidationReport, list[Concept]]:
        before = self.concepts()
        disk_before = self.disk_bytes()
        if not before:
            rep = ConsolidationReport(0, 0, 0, 0, 0, 0, disk_before, disk_before, [])
            return rep, []
        vecs = np.stack([c.vector for c in before])
        counts = np.array([c.count for c in before], dtype=np.float64)
        groups = cluster(vecs, counts, threshold)
        now = _now()
        after, clusters = [], []
        for g in groups:
            head = min(g, key=lambda k: (-counts[k], k))  # the group's heaviest, then oldest, keeps its id
            if len(g) == 1:
                after.append(before[head])
                continue
            members = [before[k] for k in g]
            items = sorted((i for m in members for i in m.items), key=lambda i: (i.added, i.item))
            merged = Concept(before[head].id, _merge_vectors(vecs[g], counts[g]), int(counts[g].sum()), items,
                             min(m.created for m in members), now)
            after.append(merged)
            clusters.append({"id": merged.id, "absorbed": [before[k].id for k in g if k != head],
                             "count": merged.count})
        if not dry_run and len(after) < len(before):
            self.table.add(self._rows(after), mode="overwrite")  # one commit: all or nothing
            self._compact()
        dim_bytes = 4 * self.info.dim
        rep = ConsolidationReport(len(before), len(after), len(before) - len(after), int(counts.sum()),
                                  len(before) * dim_bytes, len(after) * dim_bytes, disk_before,
                                  disk_before if dry_run else self.disk_bytes(), clusters)
        return rep, after

    def _compact(self) -> None:
        import warnings
        from datetime import timedelta
        try:  # drop the superseded version so the directory shrinks too
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # lance warns that older versions go: that is the point
                self.table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)
        except Exception:
            pass
