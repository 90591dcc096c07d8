"""Encryption at rest for stored vectors: AES-256-GCM, one sealed blob per row.

What it protects: the files. A copied store directory, a backup, a stolen disk or a snapshot
left in a bucket yields ciphertext, and each blob is bound to its row id (GCM associated data),
so rows cannot be swapped or edited undetected. What it does not protect: anything the running
process can see. Whoever holds the key, or can query the service, gets vectors and inversions
as before; row ids, document ids, chunk counts, source names and timestamps stay readable; and
the number of rows tells how much was stored.

The key is any secret of at least 16 bytes (a key file, or an environment variable); the AES
key is derived from it with HKDF-SHA256, and a keyed fingerprint in the store's description
lets a wrong key be refused by name instead of failing as a decryption error on every row.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import numpy as np

from ..errors import InputError, StoreError, StoreKeyError

CIPHER = "aes-256-gcm"
KEY_FILE_ENV = "UNEMBED_STORE_KEY_FILE"
KEY_ENV = "UNEMBED_STORE_KEY"
NONCE = 12


def read_store_key(key_file: str | os.PathLike | None = None) -> bytes | None:
    """The store key from `key_file`, else $UNEMBED_STORE_KEY_FILE, else $UNEMBED_STORE_KEY; None if unset."""
    key_file = key_file or os.environ.get(KEY_FILE_ENV)
    if key_file:
        try:
            key = Path(key_file).read_bytes().strip()
        except OSError as e:
            raise InputError(f"store key file {key_file}: cannot be read ({e.strerror})") from None
    elif os.environ.get(KEY_ENV):
        key = os.environ[KEY_ENV].encode()
    else:
        return None
    if len(key) < 16:
        raise InputError("the store key is shorter than 16 bytes; use e.g. `openssl rand -hex 32 > store.key`")
    return key


def key_to_encrypt(encrypt: bool) -> bytes | None:
    """The key a new store or memory is sealed with when `--encrypt` asks for it; None when it does not."""
    if not encrypt:
        return None
    key = read_store_key()
    if key is None:
        raise InputError(f"--encrypt needs a key: set ${KEY_FILE_ENV} (or ${KEY_ENV})")
    return key


class VectorCipher:
    """Seals float rows to bytes and back; `fingerprint` identifies the key without revealing it."""

    def __init__(self, secret: bytes):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"unembed store v1", info=b"vectors").derive(secret)
        self._aead = AESGCM(key)
        self.fingerprint = hmac.new(key, b"unembed key check", hashlib.sha256).hexdigest()[:16]

    def seal_blob(self, data: bytes, row_id: str) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, data, row_id.encode())

    def open_blob(self, blob: bytes, row_id: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        try:
            return self._aead.decrypt(blob[:NONCE], blob[NONCE:], row_id.encode())
        except (InvalidTag, ValueError, TypeError):
            raise StoreError(f"row {row_id!r}: encrypted vector fails its integrity check "
                             "(tampered, or moved from another row)") from None

    def seal(self, rows: np.ndarray, ids: list[str]) -> list[bytes]:
        rows = np.ascontiguousarray(rows)
        return [self.seal_blob(r.tobytes(), i) for r, i in zip(rows, ids)]

    def open(self, blobs: list[bytes], ids: list[str], dtype, width: int) -> np.ndarray:
        out = np.empty((len(blobs), width), dtype=dtype)
        for k, (b, i) in enumerate(zip(blobs, ids)):
            out[k] = np.frombuffer(self.open_blob(b, i), dtype=dtype)
        return out


def cipher_for(cipher: str, key_check: str, key: bytes | None, where) -> VectorCipher | None:
    """The cipher an opened store or memory needs, refusing a missing or wrong key by name."""
    if not cipher:
        return None
    if cipher != CIPHER:
        raise StoreError(f"{where}: unknown cipher {cipher!r}")
    key = key if key is not None else read_store_key()
    if key is None:
        raise StoreKeyError(f"{where}: its vectors are encrypted; give the key with ${KEY_FILE_ENV} or ${KEY_ENV}")
    c = VectorCipher(key)
    if not hmac.compare_digest(c.fingerprint, key_check):
        raise StoreKeyError(f"{where}: wrong store key (it does not match the one the vectors were sealed with)")
    return c
