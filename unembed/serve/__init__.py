"""The HTTP service: `unembed serve --config FILE` (FastAPI + uvicorn)."""
from .config import ServerConfig, Tenant, hash_key

__all__ = ["ServerConfig", "Tenant", "hash_key", "create_app"]


def create_app(config: ServerConfig):
    from .app import create_app as _create
    return _create(config)
