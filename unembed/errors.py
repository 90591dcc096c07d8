"""One family of exceptions. The CLI prints their message without a traceback and exits 2."""


class UnembedError(Exception):
    """Base class: a problem the user can act on, described in words."""


class UnknownModelError(UnembedError):
    """An embedder or inverter name that is neither registered nor a usable path."""


class MissingPackageError(UnembedError):
    """An optional package is not installed; the message carries the install line."""


class InputError(UnembedError):
    """Bad input: empty list, wrong dimension, NaN/inf, zero vector, unreadable file."""


class MismatchError(UnembedError):
    """An inverter or store built for another embedder than the one in use."""


class StoreError(UnembedError):
    """A store directory that is corrupt, foreign, or locked."""


class StoreKeyError(StoreError):
    """A sealed store or memory opened without its key or with another: on a server, its operator's problem."""
