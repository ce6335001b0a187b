"""The only module that opens whoosh writers and searchers.

Several processes (gunicorn workers, the CLI) share one index directory:

- Writing: one writer at a time, under whoosh's own file lock (fcntl, released if a process dies).
  A process that must update documents first appends the product ids to a small journal
  (`pending/` in the index directory), then takes the lock, drains the whole journal, loads those
  products' *current* rows (through the `fetch` callback, after taking the lock, so the last writer
  always indexes the last committed data), updates the documents and commits. If the lock is busy
  for longer than `timeout` (e.g. during a full rebuild) it returns at once: whoever holds the lock
  drains the journal again after releasing it, so no change is lost and no request waits long.
- Reading: one searcher per thread and index, reopened only when a writer has committed since
  (`up_to_date()`; whoosh-reloaded's `Searcher.refresh()` can return documents twice after a merge,
  so it is never called).
"""
import logging
import os
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.multiproc import MpWriter
from whoosh.writing import CLEAR, SegmentWriter

from marketplace.search.documents import document
from marketplace.search.schema import SCHEMA, SCHEMA_VERSION

log = logging.getLogger("marketplace.search")

INDEX_NAME = "MAIN"
VERSION_FILE = "schema_version"
PENDING_DIR = "pending"
WRITE_TIMEOUT = 2.0  # seconds a web request waits for the lock before leaving its ids in the journal


class Codec(W3Codec):
    """whoosh's codec without block length statistics: they serve BM25 shortcuts this index does not
    use (query.py ranks by its own rules), and computing them costs a file-system stat per posting,
    which made a rebuild four times slower. Uncompressed, larger blocks: fewer, cheaper block reads."""

    length_stats = False

    def __init__(self):
        super().__init__(blocklimit=1024, compression=0)


class IndexUnavailable(Exception):
    """The index directory holds no index (or one of an older schema): run `flask search rebuild`."""


def exists(path):
    """True when `path` holds an index of the current schema."""
    path = Path(path)
    if not whoosh_index.exists_in(str(path), indexname=INDEX_NAME):
        return False
    try:
        return int((path / VERSION_FILE).read_text().strip()) == SCHEMA_VERSION
    except (OSError, ValueError):
        return False


def _open(path):
    return whoosh_index.open_dir(str(path), indexname=INDEX_NAME)


# ---------------------------------------------------------------- locking and the journal

@contextmanager
def write_lock(path, timeout=None):
    """Hold the index's write lock; yields False (holding nothing) if not acquired within `timeout`.

    timeout=None waits as long as it takes (rebuilds, the CLI).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    # whoosh's FileIndex.lock("WRITELOCK") names this same file, so whoosh's own writers would wait too.
    from whoosh.filedb.filestore import FileStorage

    lock = FileStorage(str(path)).lock(f"{INDEX_NAME}_WRITELOCK")
    deadline = None if timeout is None else time.monotonic() + timeout
    while not lock.acquire(blocking=False):
        if deadline is not None and time.monotonic() >= deadline:
            yield False
            return
        time.sleep(0.02)
    try:
        yield True
    finally:
        lock.release()


def _journal_dir(path):
    return Path(path) / PENDING_DIR


def journal(path, ids):
    """Record product ids whose documents must be brought up to date (atomically: write, then rename)."""
    folder = _journal_dir(path)
    folder.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(str(int(i)) for i in sorted(ids)))
    os.replace(temporary, folder / f"{time.time_ns()}-{uuid.uuid4().hex}.ids")


def _read_journal(path):
    folder = _journal_dir(path)
    files, ids = [], set()
    if not folder.is_dir():
        return files, ids
    for entry in sorted(folder.glob("*.ids")):
        try:
            ids.update(int(line) for line in entry.read_text().split())
        except FileNotFoundError:
            continue  # drained by another writer meanwhile
        files.append(entry)
    return files, ids


def pending_ids(path):
    """Ids waiting in the journal (for `flask search check`)."""
    return _read_journal(path)[1]


# ---------------------------------------------------------------- writing

def _apply(path, ids, fetch):
    """Under the lock: replace the documents of `ids` by their current records (delete the others)."""
    records = fetch(ids)  # {id: record} for the ids that are public now
    writer = SegmentWriter(_open(path), _lk=False, codec=Codec())
    try:
        for product_id in sorted(ids):
            record = records.get(product_id)
            if record is None:
                writer.delete_by_term("id", str(product_id))
            else:
                writer.update_document(**document(record))
        writer.commit()
    except BaseException:
        writer.cancel()
        raise


def update(path, ids, fetch, timeout=WRITE_TIMEOUT):
    """Bring the documents of product `ids` up to date; `fetch(ids)` returns {id: record} of public ones.

    Returns True when this call drained the journal itself, False when it left the work to the
    current lock holder. Raises IndexUnavailable when there is no index (nothing is journaled then:
    the rebuild that creates the index reads everything).
    """
    if not exists(path):
        raise IndexUnavailable(str(path))
    if ids:
        journal(path, ids)
    drained, wait = False, timeout
    while True:
        with write_lock(path, timeout=wait) as locked:
            if not locked:
                return drained
            files, pending = _read_journal(path)
            if not files:
                return drained
            _apply(path, pending, fetch)
            for entry in files:
                entry.unlink(missing_ok=True)
            drained = True
        # Released: a process that journaled while we held the lock may have given up waiting.
        wait = 0


def build_index(path, records, procs=1, limitmb=1024, fetch=None, progress=None, if_missing=False):
    """(Re)build the index at `path` from an iterable of records; returns the number of documents.

    Safe while the site runs: readers keep the previous documents until the new ones are committed
    in one step (whoosh's CLEAR merge), and writers waiting meanwhile find their ids in the journal,
    which is drained afterwards with `fetch` (the database loader). `procs` > 1 indexes in parallel
    processes; `limitmb` is the memory each one may use before spilling to disk. `progress(n)` is
    called every 500 documents. With `if_missing`, does nothing (and returns None) when an index
    exists once the lock is held: several processes finding no index build it once.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with write_lock(path):
        if if_missing and exists(path):
            return None
        if not exists(path):
            whoosh_index.create_in(str(path), SCHEMA, indexname=INDEX_NAME)
            (path / VERSION_FILE).write_text(f"{SCHEMA_VERSION}\n")
        ix = _open(path)
        if procs > 1:
            writer = MpWriter(ix, procs=procs, batchsize=500, _lk=False, limitmb=limitmb, codec=Codec(),
                              subargs={"limitmb": limitmb, "codec": Codec()})
        else:
            writer = SegmentWriter(ix, _lk=False, limitmb=limitmb, codec=Codec())
        count = 0
        try:
            for record in records:
                writer.add_document(**document(record))
                count += 1
                if progress and count % 500 == 0:
                    progress(500)
            writer.commit(mergetype=CLEAR, optimize=True)
        except BaseException:
            writer.cancel()
            raise
        if progress and count % 500:
            progress(count % 500)
    if fetch is not None:
        update(path, (), fetch, timeout=None)
    return count


# ---------------------------------------------------------------- reading

_local = threading.local()


def searcher(path):
    """This thread's searcher of the index at `path`, reopened when a writer has committed since.

    Raises IndexUnavailable when there is no index.
    """
    key = os.path.realpath(path)
    cache = _local.__dict__.setdefault("searchers", {})
    current = cache.get(key)
    if current is not None:
        try:
            if current.up_to_date():
                return current
        except Exception:  # noqa: BLE001 — the directory was replaced or removed: open afresh below
            log.info("search index at %s changed under its searcher; reopening", key)
        cache.pop(key, None)
        current.close()
    if not exists(path):
        raise IndexUnavailable(str(path))
    # whoosh retries when a merge deletes a segment file between reading the TOC and opening it.
    opened = _open(path).searcher()
    cache[key] = opened
    return opened


def close_searchers():
    """Close this thread's searchers (tests; a worker about to exit)."""
    for opened in _local.__dict__.pop("searchers", {}).values():
        opened.close()


def stored_documents(path):
    """(docnum, stored fields) of every live document (for `flask search check`)."""
    with _open(path).searcher() as reader_searcher:
        reader = reader_searcher.reader()
        return [(docnum, reader.stored_fields(docnum)) for docnum in reader.all_doc_ids()]
