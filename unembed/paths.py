"""Where unembed keeps derived files: ~/.cache/unembed unless UNEMBED_HOME says otherwise."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    path = Path(os.environ.get("UNEMBED_HOME", Path.home() / ".cache" / "unembed"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """The shipped inverters, one folder per embedder: the package `unembed_models` (models/ in the
    repository), found the same way in editable and ordinary installs; UNEMBED_MODELS points elsewhere."""
    if "UNEMBED_MODELS" in os.environ:
        return Path(os.environ["UNEMBED_MODELS"])
    try:
        import unembed_models
    except ImportError:
        return REPO_ROOT / "models"  # a source tree run without installing
    return Path(unembed_models.__file__).resolve().parent


def data_dir() -> Path:
    """The built corpus (`unembed data build`); rebuilt by command, never committed."""
    return Path(os.environ.get("UNEMBED_DATA", home() / "data"))
