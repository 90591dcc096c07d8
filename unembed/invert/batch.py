"""Invert many vectors as a resumable job, in this process or across Ray workers.

    unembed invert-batch vectors.parquet --out job/                 # here
    unembed invert-batch chroma:db#docs --out job/ --workers 8      # on Ray (RAY_ADDRESS for a real cluster)

The vectors are cut into units of `batch_size` rows. Each unit is inverted by the same function
wherever it runs (a worker loads the inverter once and keeps it), and the driver alone writes its
result as `part-NNNNNN.parquet` (id, text, cosine), atomically. A rerun with the same input and
settings skips the units whose part exists, so a killed job resumes where it stopped; a rerun with
another input or other settings is refused rather than mixed in. The inversion of a unit depends only
on its rows (the search is deterministic and its int8 draft batches within a unit), so the parts are
the same whether one process or many made them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import InputError, MissingPackageError

JOB_FILE = "job.json"
FORMAT = 1


@dataclass(frozen=True)
class BatchJob:
    """What decides a job's output: a rerun must match it to resume."""
    inverter: Optional[str] = None  # shipped inverter, a folder or a spec (load_inverter's argument)
    preset: Optional[str] = None
    embedder: Optional[str] = None
    steps: Optional[int] = None
    beam: Optional[int] = None
    batch_size: int = 8


@dataclass
class Vectors:
    ids: list[str]
    vectors: np.ndarray  # N×d float32

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps(self.ids).encode())
        h.update(np.ascontiguousarray(self.vectors, np.float32).tobytes())
        return h.hexdigest()[:16]


def read_vectors(spec: str, column: Optional[str] = None, id_column: Optional[str] = None) -> Vectors:
    """Vectors from a parquet file (a list-of-floats column), a .npy matrix, or an audit source
    (chroma:PATH#NAME, lancedb:PATH#TABLE, qdrant:…, faiss:…)."""
    from ..audit.sources import KINDS, read_source
    if spec.partition(":")[0] in KINDS:
        src = read_source(spec, column)
        return Vectors(list(src.ids) or [str(i) for i in range(len(src.vectors))], np.asarray(src.vectors, np.float32))
    p = Path(spec)
    if not p.is_file():
        raise InputError(f"{spec}: no such file (expected .parquet, .npy or a source such as chroma:PATH#NAME)")
    if p.suffix == ".npy":
        try:
            v = np.load(p, allow_pickle=False)
        except ValueError as e:
            raise InputError(f"{spec}: not a numeric .npy matrix ({e})") from None
        if v.ndim != 2:
            raise InputError(f"{spec}: expected a 2-d matrix of vectors, got shape {v.shape}")
        return Vectors([str(i) for i in range(len(v))], v.astype(np.float32))
    if p.suffix != ".parquet":
        raise InputError(f"{spec}: expected .parquet or .npy")
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        table = pq.read_table(p)
    except pa.ArrowException as e:
        raise InputError(f"{spec}: not a readable parquet file ({e})") from None
    lists = [f.name for f in table.schema if pa.types.is_list(f.type) or pa.types.is_fixed_size_list(f.type)
             or pa.types.is_large_list(f.type)]
    if column is None:
        named = [c for c in ("vector", "embedding", "embeddings") if c in lists]
        if not named and len(lists) != 1:
            raise InputError(f"{spec}: name the vector column with --column (list columns: {', '.join(lists) or 'none'})")
        column = named[0] if named else lists[0]
    if column not in table.column_names:
        raise InputError(f"{spec}: no column {column!r} (columns: {', '.join(table.column_names)})")
    try:
        v = np.asarray(table.column(column).to_pylist(), dtype=np.float32)
    except (TypeError, ValueError):
        raise InputError(f"{spec}: column {column!r} does not hold vectors of one width") from None
    if v.ndim != 2 or not len(v):
        raise InputError(f"{spec}: column {column!r} holds no vectors")
    if id_column is None and "id" in table.column_names:
        id_column = "id"
    if id_column is not None and id_column not in table.column_names:
        raise InputError(f"{spec}: no id column {id_column!r}")
    ids = [str(x) for x in table.column(id_column).to_pylist()] if id_column else [str(i) for i in range(len(v))]
    if len(set(ids)) != len(ids):
        raise InputError(f"{spec}: the ids in {id_column!r} are not unique")
    return Vectors(ids, v)


def invert_unit(inverter, vectors: np.ndarray, job: BatchJob) -> tuple[list[str], list[float]]:
    """One unit's texts and cosines: the only place either path inverts."""
    got = inverter.invert(vectors, steps=job.steps, beam=job.beam)
    return [str(t) for t in got], [float(t.cosine) for t in got]


def _load(job: BatchJob):
    from ..api import load_inverter
    return load_inverter(job.inverter, job.embedder, preset=job.preset)


class _Worker:
    """A Ray actor: loads the inverter once, then inverts the units it is handed."""

    def __init__(self, job: dict, threads: int):
        import torch
        torch.set_num_threads(max(1, threads))
        self.job = BatchJob(**job)
        self.inverter = _load(self.job)

    def __call__(self, batch: dict) -> dict:
        out = {"unit": [], "texts": [], "cosines": []}
        for unit, blob, rows in zip(batch["unit"], batch["vectors"], batch["rows"]):
            v = np.frombuffer(blob, np.float32).reshape(int(rows), -1)
            texts, cos = invert_unit(self.inverter, v, self.job)
            out["unit"].append(int(unit))
            out["texts"].append(json.dumps(texts))
            out["cosines"].append(json.dumps(cos))
        return {k: np.array(v, dtype=object if k != "unit" else np.int64) for k, v in out.items()}


def _part(out: Path, unit: int) -> Path:
    return out / f"part-{unit:06d}.parquet"


def _write_part(out: Path, unit: int, ids: list[str], texts: list[str], cosines: list[float]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string()),
                      "cosine": pa.array(cosines, pa.float32())})
    tmp = out / f".part-{unit:06d}.parquet.partial"
    pq.write_table(table, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    tmp.replace(_part(out, unit))


def _open_job(out: Path, job: BatchJob, data: Vectors) -> None:
    """Start the job folder, or check that it was started for this input and these settings."""
    meta = {"format": FORMAT, "job": asdict(job), "n": len(data.ids), "dim": int(data.vectors.shape[1]),
            "input": data.fingerprint()}
    f = out / JOB_FILE
    if f.exists():
        try:
            old = json.loads(f.read_text())
        except ValueError:
            raise InputError(f"{out}: its {JOB_FILE} is unreadable; use a new --out") from None
        diff = [k for k in ("job", "n", "dim", "input") if old.get(k) != meta[k]]
        if diff:
            what = "other vectors" if set(diff) & {"n", "dim", "input"} else "other settings"
            raise InputError(f"{out} holds a job started for {what} ({', '.join(diff)} differ); "
                             "use a new --out, or rerun with the same input and settings to resume")
        return
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty and holds no {JOB_FILE}: use a new or empty --out")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (JOB_FILE + ".partial")
    tmp.write_text(json.dumps(meta, indent=1))
    tmp.replace(f)


def run_batch(data: Vectors, out, job: BatchJob = BatchJob(), workers: int = 0, cpus_per_worker: int = 1,
              progress: bool = True, on_part: Optional[Callable[[int], None]] = None) -> dict:
    """Invert every unit not already done in `out`. workers=0: in this process; N ≥ 1: N Ray actors
    (a local cluster, or the one RAY_ADDRESS names). Returns counts and timings."""
    import time

    from tqdm import tqdm
    if job.batch_size < 1:
        raise InputError("batch size must be at least 1")
    if workers < 0 or cpus_per_worker < 1:
        raise InputError("workers must be ≥ 0 and CPUs per worker ≥ 1")
    from ..api import inverter_dim
    want = inverter_dim(job.inverter, job.embedder)
    if data.vectors.shape[1] != want:
        raise InputError(f"the vectors are {data.vectors.shape[1]}-d but this inverter reads {want}-d ones: "
                         "name the inverter (or embedder) that matches them")
    out = Path(out)
    _open_job(out, job, data)
    n, b = len(data.ids), job.batch_size
    units = range((n + b - 1) // b)
    todo = [u for u in units if not _part(out, u).exists()]
    summary = {"vectors": n, "units": len(units), "skipped": len(units) - len(todo), "inverted": 0, "workers": workers}
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc="inverting", unit=" batch", disable=not progress or not todo)

    def done(unit: int, texts: list[str], cosines: list[float]) -> None:
        _write_part(out, unit, data.ids[unit * b:(unit + 1) * b], texts, cosines)
        summary["inverted"] += 1
        bar.update()
        if on_part is not None:
            on_part(unit)

    if todo and workers == 0:
        inv = _load(job)
        for u in todo:
            done(u, *invert_unit(inv, data.vectors[u * b:(u + 1) * b], job))
    elif todo:
        _run_ray(data, todo, job, workers, cpus_per_worker, done)
    bar.close()
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["rows"] = sum(min(b, n - u * b) for u in todo)
    return summary


def _run_ray(data: Vectors, todo: list[int], job: BatchJob, workers: int, cpus: int, done) -> None:
    try:
        import ray
    except ImportError:
        raise MissingPackageError("inverting on Ray needs ray: pip install 'unembed[ray]'") from None
    b = job.batch_size
    if not ray.is_initialized():
        # RAY_ADDRESS, when set, joins that cluster; otherwise a local one with these workers' CPUs
        kw = {} if os.environ.get("RAY_ADDRESS") else {"num_cpus": max(workers * cpus, 1)}
        ray.init(ignore_reinit_error=True, log_to_driver=False, include_dashboard=False, logging_level=logging.WARNING, **kw)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # ours counts parts written
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    items = [{"unit": u, "rows": len(data.vectors[u * b:(u + 1) * b]),
              "vectors": np.ascontiguousarray(data.vectors[u * b:(u + 1) * b], np.float32).tobytes()} for u in todo]
    ds = ray.data.from_items(items, override_num_blocks=min(len(items), workers * 4))
    ds = ds.map_batches(_Worker, fn_constructor_kwargs={"job": asdict(job), "threads": cpus}, batch_size=1,
                        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cpus, batch_format="numpy")
    for batch in ds.iter_batches(batch_size=1, batch_format="numpy", prefetch_batches=0):
        for unit, texts, cos in zip(batch["unit"], batch["texts"], batch["cosines"]):
            done(int(unit), json.loads(texts), json.loads(cos))


def read_results(out) -> "list[dict]":
    """The job's rows in input order: [{id, text, cosine}], from its parts (missing units are absent)."""
    import pyarrow.parquet as pq
    rows = []
    for p in sorted(Path(out).glob("part-*.parquet")):
        rows += pq.read_table(p).to_pylist()
    return rows
