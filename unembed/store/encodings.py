"""How a unit vector is kept on disk: float32, float16, int8 or one bit per dimension.

Cosine does not care about scale, so int8 keeps no per-vector scale: each row is rescaled to use
the full [-127, 127] range and decoding simply re-normalises. Binary keeps the sign of each
dimension (packed, 8 dimensions per byte); decoding gives the ±1 corner of the cube, normalised.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..embed.base import check_vectors, l2_normalise
from ..errors import InputError

ENCODINGS = ("f32", "f16", "int8", "binary")


def check_encoding(encoding: str) -> str:
    if encoding not in ENCODINGS:
        raise InputError(f"unknown encoding {encoding!r}: use one of {', '.join(ENCODINGS)}")
    return encoding


def width(encoding: str, dim: int) -> int:
    """Elements per stored row (bytes for int8 and binary)."""
    return (dim + 7) // 8 if encoding == "binary" else dim


def bytes_per_vector(encoding: str, dim: int) -> int:
    return {"f32": 4 * dim, "f16": 2 * dim, "int8": dim, "binary": (dim + 7) // 8}[check_encoding(encoding)]


def row_dtype(encoding: str) -> np.dtype:
    return np.dtype({"f32": np.float32, "f16": np.float16, "int8": np.int8, "binary": np.uint8}[encoding])


def arrow_type(encoding: str, dim: int) -> pa.DataType:
    element = {"f32": pa.float32(), "f16": pa.float16(), "int8": pa.int8(), "binary": pa.uint8()}[encoding]
    return pa.list_(element, width(encoding, dim))


def encode(vectors: np.ndarray, encoding: str) -> np.ndarray:
    v = check_vectors(vectors)
    if encoding == "f32":
        return v
    if encoding == "f16":
        return v.astype(np.float16)
    if encoding == "int8":
        scale = 127.0 / np.abs(v).max(axis=1, keepdims=True)
        return np.clip(np.rint(v * scale), -127, 127).astype(np.int8)
    if encoding == "binary":
        return np.packbits(v > 0, axis=1)
    raise InputError(f"unknown encoding {encoding!r}")


def decode(rows: np.ndarray, encoding: str, dim: int) -> np.ndarray:
    """Stored rows -> float32 unit vectors (what the inverter and the scorer see)."""
    rows = np.asarray(rows)
    if encoding == "binary":
        bits = np.unpackbits(rows.astype(np.uint8), axis=1)[:, :dim]
        return l2_normalise(bits.astype(np.float32) * 2 - 1)
    return l2_normalise(rows.astype(np.float32))


def arrow_array(rows: np.ndarray, encoding: str, dim: int) -> pa.FixedSizeListArray:
    w = width(encoding, dim)
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(rows).reshape(-1)), w)


def column_to_numpy(column: pa.ChunkedArray | pa.Array, encoding: str, dim: int) -> np.ndarray:
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(len(arr), width(encoding, dim))
