"""Vector files an audit reads and a defence rewrites: .npy (N×d), .parquet or .jsonl with a vector column."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError

VECTOR_COLUMNS = ("vector", "embedding", "embeddings", "emb")


def _column(names, where: str, column: str | None) -> str:
    if column:
        if column not in names:
            raise InputError(f"{where}: no column {column!r} (columns: {', '.join(names)})")
        return column
    for c in VECTOR_COLUMNS:
        if c in names:
            return c
    raise InputError(f"{where}: no vector column; name it one of {', '.join(VECTOR_COLUMNS)} or pass --column")


def _matrix(rows, where: str) -> np.ndarray:
    try:
        return np.asarray([np.asarray(r, dtype=np.float32) for r in rows], dtype=np.float32)
    except (ValueError, TypeError):
        raise InputError(f"{where}: the vector column holds rows of different lengths or non-numbers") from None


def load_npy(path) -> np.ndarray:
    """A numeric .npy array as float32; errors name the file and the problem, never its content."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"vectors file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not an .npy file") from None
    except ValueError:
        raise InputError(f"{path} is not a readable .npy array (object arrays are refused)") from None
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{path}: expected numbers, got an array of dtype {arr.dtype.name!r}")
    return arr.astype(np.float32)


def read_vectors(path, column: str | None = None) -> np.ndarray:
    """An N×d float32 array, as stored (not yet validated or normalised)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"vectors file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return load_npy(path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq
        try:
            t = pq.read_table(path)
        except Exception as e:
            raise InputError(f"{path} is not a readable parquet file ({type(e).__name__})") from None
        return _matrix(t[_column(t.column_names, str(path), column)].to_pylist(), str(path))
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        col = column
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise InputError(f"{path}:{n}: not a JSON object") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{n}: not a JSON object")
            col = _column(list(obj), f"{path}:{n}", column)
            rows.append(obj[col])
        if not rows:
            raise InputError(f"{path} holds no rows")
        return _matrix(rows, str(path))
    raise InputError(f"{path}: unsupported vectors file; use .npy, .parquet or .jsonl")


def write_vectors(src, dst, vectors: np.ndarray, column: str | None = None) -> None:
    """Write `vectors` in the format of `dst`; for parquet/jsonl, copy `src`'s other columns."""
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    suffix = dst.suffix.lower()
    if suffix == ".npy":
        np.save(dst, vectors.astype(np.float32))
        return
    if suffix != src.suffix.lower():
        raise InputError(f"write {dst.suffix} only from a {dst.suffix} input (or write .npy)")
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        t = pq.read_table(src)
        col = _column(t.column_names, str(src), column)
        arr = pa.array([r.tolist() for r in vectors.astype(np.float32)], type=pa.list_(pa.float32()))
        pq.write_table(t.set_column(t.column_names.index(col), col, arr), dst)
        return
    lines = [json.loads(ln) for ln in src.read_text(encoding="utf-8").splitlines() if ln.strip()]
    col = _column(list(lines[0]), str(src), column)
    with dst.open("w", encoding="utf-8") as f:
        for obj, v in zip(lines, vectors):
            f.write(json.dumps({**obj, col: [round(float(x), 7) for x in v]}) + "\n")
