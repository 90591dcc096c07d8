"""Where unembed keeps derived files: ~/.cache/unembed unless UNEMBED_HOME says otherwise."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    path = Path(os.environ.get("UNEMBED_HOME", Path.home() / ".cache" / "unembed"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Shipped checkpoints: `models/` in a source checkout, overridable for installed copies."""
    return Path(os.environ.get("UNEMBED_MODELS", REPO_ROOT / "models"))


def data_dir() -> Path:
    """The built corpus (`unembed data build`); rebuilt by command, never committed."""
    return Path(os.environ.get("UNEMBED_DATA", home() / "data"))
