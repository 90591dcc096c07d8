"""Defences applied to stored vectors, by spec string.

| spec | stored vector | query vector |
|---|---|---|
| `noise:L` | v + L·ε, ε ~ N(0, I) per coordinate, renormalised (noise norm ≈ L·√d) | unchanged |
| `int8` / `binary` | quantised and decoded (the store encodings) | unchanged |
| `pq:M` | product quantisation: M sub-spaces × 256 k-means centroids, decoded | unchanged |
| `rotate` | Q·v, Q a secret orthogonal matrix derived from a key | Q·q (same key) |
| `rotate+scale` | Q·S·v, S a secret diagonal scaling in [0.5, 2] | Q·S·q |
| `rotate+noise:L` | Q·v + L·ε | Q·q |

Noise, quantisation and PQ are public transforms: anyone can apply them, so an attacker can
simulate them to learn an undo map. Keyed transforms need the key, or a few leaked pairs.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..embed.base import check_vectors, l2_normalise
from ..errors import InputError

KEY_ENV = "UNEMBED_DEFENCE_KEY"
KEY_FILE_ENV = "UNEMBED_DEFENCE_KEY_FILE"


def read_key(key_file: str | os.PathLike | None = None) -> bytes:
    """The secret for keyed transforms: a key file's bytes ($UNEMBED_DEFENCE_KEY_FILE), else $UNEMBED_DEFENCE_KEY."""
    key_file = key_file or os.environ.get(KEY_FILE_ENV)
    if key_file:
        try:
            key = Path(key_file).read_bytes()
        except FileNotFoundError:
            raise InputError(f"key file not found: {key_file} (make one: head -c 32 /dev/urandom > {key_file})") from None
    else:
        key = os.environ.get(KEY_ENV, "").encode()
    if len(key) < 16:
        raise InputError(f"a keyed defence needs a secret of at least 16 bytes: --key-file FILE, ${KEY_FILE_ENV} or ${KEY_ENV}")
    return key


def _rng(key: bytes, purpose: str) -> np.random.Generator:
    seed = hashlib.sha256(purpose.encode() + b"\0" + key).digest()
    return np.random.default_rng(np.frombuffer(seed, dtype=np.uint32))


def keyed_orthogonal(key: bytes, dim: int) -> np.ndarray:
    """A Haar-random orthogonal matrix determined by the key (QR of a Gaussian, signs fixed)."""
    g = _rng(key, f"rotate:{dim}").standard_normal((dim, dim))
    q, r = np.linalg.qr(g)
    return (q * np.sign(np.diag(r))).astype(np.float32)


def kmeans(x: np.ndarray, k: int, iterations: int = 20, seed: int = 0) -> np.ndarray:
    """Plain Lloyd's k-means (k-means++ would not change PQ's picture); returns k × d centroids."""
    rng = np.random.default_rng(seed)
    k = min(k, len(x))
    cent = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iterations):
        d = (x * x).sum(1)[:, None] - 2 * x @ cent.T + (cent * cent).sum(1)[None]
        assign = d.argmin(1)
        for j in range(k):
            members = x[assign == j]
            if len(members):
                cent[j] = members.mean(0)
    return cent


class Defence:
    """A transform of stored vectors (`apply`) and of queries (`query`); `spec` names it, never the key."""

    keyed = False

    def __init__(self, spec: str):
        self.spec = spec

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def query(self, vectors: np.ndarray) -> np.ndarray:
        return check_vectors(vectors)

    def undo(self, vectors: np.ndarray) -> np.ndarray:
        """What the key holder reads back before inverting (public defences cannot be undone)."""
        return check_vectors(vectors)


class Noise(Defence):
    def __init__(self, spec: str, scale: float, seed: int | None = None):
        super().__init__(spec)
        if not scale >= 0:
            raise InputError(f"noise scale must be ≥ 0, got {scale}")
        self.scale, self.rng = scale, np.random.default_rng(seed)

    def apply(self, vectors):
        v = check_vectors(vectors)
        return l2_normalise(v + self.scale * self.rng.standard_normal(v.shape).astype(np.float32))


class Quantise(Defence):
    def __init__(self, spec: str, encoding: str):
        super().__init__(spec)
        self.encoding = encoding

    def apply(self, vectors):
        from ..store.encodings import decode, encode
        v = check_vectors(vectors)
        return l2_normalise(decode(encode(v, self.encoding), self.encoding, v.shape[1]))


class ProductQuantise(Defence):
    """M sub-spaces, 256 centroids each (one byte per sub-space): M bytes per vector."""

    def __init__(self, spec: str, m: int, codebook_from: np.ndarray | None = None, seed: int = 0):
        super().__init__(spec)
        if m < 1:
            raise InputError(f"pq needs at least one sub-space, got {m}")
        self.m, self.seed, self.codebook_from = m, seed, codebook_from

    def apply(self, vectors):
        v = check_vectors(vectors)
        d = v.shape[1]
        if d % self.m:
            raise InputError(f"pq:{self.m}: {self.m} sub-spaces do not divide dimension {d}")
        train = v if self.codebook_from is None else check_vectors(self.codebook_from, d)
        w = d // self.m
        out = np.empty_like(v)
        for s in range(self.m):
            sl = slice(s * w, (s + 1) * w)
            cent = kmeans(train[:, sl], 256, seed=self.seed + s)
            dist = (v[:, sl] ** 2).sum(1)[:, None] - 2 * v[:, sl] @ cent.T + (cent ** 2).sum(1)[None]
            out[:, sl] = cent[dist.argmin(1)]
        return l2_normalise(out)


class KeyedRotation(Defence):
    keyed = True

    def __init__(self, spec: str, key: bytes, scale: bool = False, noise: float = 0.0, seed: int | None = None):
        super().__init__(spec)
        if len(key) < 16:
            raise InputError("a keyed defence needs a secret of at least 16 bytes")
        self.key, self.scale, self.noise = key, scale, noise
        self.rng = np.random.default_rng(seed)
        self._mats: dict[int, np.ndarray] = {}

    def matrix(self, dim: int) -> np.ndarray:
        if dim not in self._mats:
            q = keyed_orthogonal(self.key, dim)
            if self.scale:
                s = np.exp(_rng(self.key, f"scale:{dim}").uniform(np.log(0.5), np.log(2.0), dim)).astype(np.float32)
                q = q * s[None, :]  # Q·S: scale the coordinates, then rotate
            self._mats[dim] = q
        return self._mats[dim]

    def query(self, vectors):
        v = check_vectors(vectors)
        return l2_normalise(v @ self.matrix(v.shape[1]).T)

    def undo(self, vectors):
        v = check_vectors(vectors)
        return l2_normalise(v @ np.linalg.inv(self.matrix(v.shape[1])).T)

    def apply(self, vectors):
        out = self.query(vectors)
        if self.noise:
            out = l2_normalise(out + self.noise * self.rng.standard_normal(out.shape).astype(np.float32))
        return out


def load_defence(spec: str, key: bytes | None = None, key_file=None, seed: int | None = None) -> Defence:
    """Parse a spec (see the module table). Keyed specs read the key from `key` or `key_file`/env."""
    spec = spec.strip()
    kind, _, arg = spec.partition(":")

    def number(x: str, what: str) -> float:
        try:
            return float(x)
        except ValueError:
            raise InputError(f"{spec!r}: {what} must be a number") from None

    if kind == "noise":
        return Noise(spec, number(arg, "the noise scale"), seed)
    if spec in ("int8", "binary"):
        return Quantise(spec, spec)
    if kind == "pq":
        return ProductQuantise(spec, int(number(arg or "16", "the number of sub-spaces")))
    if kind.startswith("rotate"):
        parts = spec.split("+")
        scale = "scale" in parts
        noise = 0.0
        for p in parts[1:]:
            if p.startswith("noise:"):
                noise = number(p.partition(":")[2], "the noise scale")
            elif p != "scale":
                raise InputError(f"unknown rotate option {p!r} in {spec!r}: use rotate, rotate+scale, rotate+noise:L")
        return KeyedRotation(spec, key if key is not None else read_key(key_file), scale, noise, seed)
    raise InputError(f"unknown defence {spec!r}: use noise:L, int8, binary, pq:M, rotate, rotate+scale or rotate+noise:L")
