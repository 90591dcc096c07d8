"""unembed: turn text embeddings back into text.

    import unembed
    vecs = unembed.embed(["The cat sat on the mat."])
    texts = unembed.invert(vecs)
"""
from __future__ import annotations

# The subpackages `embed` and `invert` share their names with the API's functions. Importing a
# subpackage binds it as an attribute of this package, so they are imported first, here, and the
# functions bound after: a later import of either finds it loaded and leaves the functions alone.
from . import embed as _embed_package, invert as _invert_package  # noqa: F401
from .api import embed, invert, invert_embeddings, load_inverter
from .errors import InputError, MismatchError, MissingPackageError, StoreError, UnembedError, UnknownModelError

__version__ = "0.1.0"

__all__ = ["embed", "invert", "load_inverter", "invert_embeddings", "UnembedError", "InputError",
           "UnknownModelError", "MissingPackageError", "MismatchError", "StoreError"]
