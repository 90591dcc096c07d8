"""Server configuration (TOML): tenants with hashed API keys, limits, where data lives.

    data_dir = "/var/lib/unembed"
    store_key_file = "/etc/unembed/store.key"   # or $UNEMBED_STORE_KEY_FILE / $UNEMBED_STORE_KEY
    max_body_bytes = 1_000_000
    max_batch = 64
    max_invert_queue = 8                  # inversions running or waiting; more are shed with 503
    max_invert_queue_per_tenant = 4       # optional: at most this many of them from one tenant

    [tenants.acme]
    key_sha256 = ["9f86d08…"]          # unembed serve --hash-key KEY prints this
    embed_per_minute = 600              # texts embedded per minute
    invert_per_minute = 60              # vectors inverted per minute
    stores = ["notes", "ideas"]         # optional: the only store/memory names it may use

A tenant's stores live under data_dir/tenants/<tenant>/: names are resolved there only, so one
tenant cannot name, list or probe another's. Every store and memory the server creates has its
vectors sealed with the store key (store/crypto.py says what that does and does not protect);
without a key the server refuses to start unless the config says `encrypt_at_rest = false`.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Tenant:
    name: str
    key_sha256: list[str]
    embed_per_minute: int = 600
    invert_per_minute: int = 60
    stores: list[str] | None = None  # the store and memory names it may use; None: any it creates


@dataclass
class ServerConfig:
    data_dir: Path
    tenants: dict[str, Tenant] = field(default_factory=dict)
    max_body_bytes: int = 1_000_000
    read_timeout_s: float = 30.0  # a request body that has not fully arrived by then is refused (408)
    max_batch: int = 64
    max_invert_queue: int = 8  # inversions running or waiting; more get 503 at once
    max_invert_queue_per_tenant: int | None = None  # of those, at most this many from one tenant (None: no cap)
    embedder: str = "minilm"
    inverter: str | None = None
    encrypt_at_rest: bool = True
    store_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def load(cls, path) -> "ServerConfig":
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{path}: not valid TOML ({e})") from None
        tenants = {}
        for name, t in (raw.pop("tenants", {}) or {}).items():
            if not NAME.fullmatch(name):
                raise InputError(f"{path}: tenant name {name!r} must be letters, digits, '_', '.', '-'")
            keys = t.get("key_sha256", [])
            keys = [keys] if isinstance(keys, str) else list(keys)
            if not keys or not all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys):
                raise InputError(f"{path}: tenant {name!r} needs key_sha256 = 64 hex digits (unembed serve --hash-key KEY)")
            stores = t.get("stores")
            if stores is not None and not (isinstance(stores, list) and all(isinstance(x, str) and NAME.fullmatch(x) for x in stores)):
                raise InputError(f"{path}: tenant {name!r}: stores = a list of names (letters, digits, '_', '.', '-')")
            tenants[name] = Tenant(name, keys, int(t.get("embed_per_minute", 600)), int(t.get("invert_per_minute", 60)),
                                   stores)
        data_dir = Path(raw.pop("data_dir", path.parent / "unembed-data"))
        key_file = raw.pop("store_key_file", None)
        known = {"max_body_bytes", "read_timeout_s", "max_batch", "max_invert_queue", "max_invert_queue_per_tenant", "embedder",
                 "inverter", "encrypt_at_rest"}
        unknown = set(raw) - known
        if unknown:
            raise InputError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
        from ..store.crypto import read_store_key
        key = read_store_key(path.parent / key_file if key_file else None)
        cfg = cls(data_dir=data_dir, tenants=tenants, store_key=key, **raw)
        if cfg.encrypt_at_rest and key is None:
            raise InputError(f"{path}: encryption at rest needs a key: set store_key_file, or $UNEMBED_STORE_KEY_FILE "
                             "or $UNEMBED_STORE_KEY (or, knowingly, encrypt_at_rest = false)")
        if not cfg.encrypt_at_rest:
            cfg.store_key = None
        return cfg

    def tenant_for(self, key: str) -> Tenant | None:
        digest = hash_key(key)
        for t in self.tenants.values():
            if any(hmac.compare_digest(digest, k) for k in t.key_sha256):
                return t
        return None

    def store_path(self, tenant: Tenant, store: str) -> Path:
        if not NAME.fullmatch(store or ""):
            raise InputError("a store name is 1-64 letters, digits, '_', '.', '-' and starts with a letter or digit")
        return self.data_dir / "tenants" / tenant.name / "stores" / store

    def memory_path(self, tenant: Tenant, memory: str) -> Path:
        if not NAME.fullmatch(memory or ""):
            raise InputError("a memory name is 1-64 letters, digits, '_', '.', '-' and starts with a letter or digit")
        return self.data_dir / "tenants" / tenant.name / "memories" / memory
