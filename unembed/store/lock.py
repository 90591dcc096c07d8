"""One writer at a time per store or memory directory, across threads and processes.

A store's writes are read-modify-write at heart (which documents changed, which concept an item
joins, what consolidation replaces), so two writers interleaving lose or double data even though
each LanceDB commit is atomic. `flock` on a file inside the directory serialises them: the lock
belongs to an open file description, so two threads of one server exclude each other as two CLI
processes do, and the kernel drops it when a holder is killed, so a crash never leaves it held.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError

LOCK_FILE = ".unembed-write.lock"
DEFAULT_TIMEOUT_S = 300.0


@contextmanager
def write_lock(directory, timeout: float = DEFAULT_TIMEOUT_S, what: str = "store"):
    """Hold the directory's write lock (creating the directory if needed) for the `with` body."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"this {what} is busy: another writer held it for over {timeout:.0f} s; "
                                     "retry when it finishes") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        yield
    finally:
        os.close(fd)  # releases the lock


def unfinished_create(directory: Path, leftovers: tuple[str, ...] = ()) -> bool:
    """Whether a directory holds nothing but a write lock and what a create writes before its
    description file (`leftovers`): a create about to happen, or one killed half-way, to redo."""
    return all(p.name == LOCK_FILE or p.name in leftovers for p in Path(directory).iterdir())


def drop_unfinished_table(table_dir: Path) -> None:
    """Remove a table a killed create left (only ever called where no description file exists)."""
    import shutil
    if table_dir.exists():
        shutil.rmtree(table_dir)


@contextmanager
def latest_under_lock(directory, table, what: str = "store"):
    """The directory's write lock, with a LanceDB table moved to the latest commit any writer made:
    a handle opened earlier would otherwise read, and decide on, a version already replaced."""
    with write_lock(directory, what=what):
        table.checkout_latest()
        yield


def lock_held(directory) -> bool:
    """Whether some writer holds the directory's write lock right now."""
    f = Path(directory) / LOCK_FILE
    if not f.exists():
        return False
    fd = os.open(f, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
