"""The only module that opens whoosh writers and searchers.

Several processes (gunicorn workers, the follower, the CLI) share one index directory per host:

- Writing: one writer at a time, under whoosh's own file lock (fcntl, released if a process dies).
  What to write comes from the database's search change log (sync.py); the index remembers which
  changes it applied in a small file beside it (`position`: the last change below which all are applied,
  and the changes beyond it applied already), written after the documents are committed, so a crash in
  between only makes the next writer apply those changes again (an update is idempotent: it replaces
  the document by the product's current row).
- Reading: one searcher per thread and index, reopened only when a writer has committed since
  (`up_to_date()`; whoosh-reloaded's `Searcher.refresh()` can return documents twice after a merge,
  so it is never called). Opening tolerates a writer deleting an old table of contents meanwhile.
"""
import json
import logging
import os
import re
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.multiproc import MpWriter
from whoosh.writing import CLEAR, SegmentWriter

from marketplace.search.documents import document
from marketplace.search.schema import SCHEMA, SCHEMA_VERSION

log = logging.getLogger("marketplace.search")

INDEX_NAME = "MAIN"
VERSION_FILE = "schema_version"
POSITION_FILE = "position"
OPEN_RETRIES = 10  # a writer may delete the table of contents we are about to read: read the newer one


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
    """True when `path` holds an index of the current schema (never raises while another process writes)."""
    path = Path(path)
    try:
        if int((path / VERSION_FILE).read_text().strip()) != SCHEMA_VERSION:
            return False
    except (OSError, ValueError):
        return False
    try:
        return _open(path).latest_generation() > -1
    except whoosh_index.EmptyIndexError:
        return False


def _open(path):
    """Open the index, retrying when a writer deletes the table of contents being read.

    whoosh lists the newest `_MAIN_<generation>.toc` and then opens it; a writer committing in between
    removes it (FileNotFoundError). The next listing finds the newer one. Raises EmptyIndexError when
    there is no index.
    """
    for attempt in range(OPEN_RETRIES):
        try:
            return whoosh_index.open_dir(str(path), indexname=INDEX_NAME)
        except FileNotFoundError:
            if attempt == OPEN_RETRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


# ---------------------------------------------------------------- locking and the position

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


class Position(NamedTuple):
    """What the index at a path has applied of the change log (see sync.py).

    change: the (txid, id) position at or before which every change is applied; applied: the
    (txid, id) of changes after it that are applied too; checked_at: when the index was last known up
    to date (UTC seconds)."""

    change: tuple
    applied: frozenset
    checked_at: float


NO_POSITION = Position((0, 0), frozenset(), 0.0)


def position(path):
    """The index's Position; NO_POSITION for an index that has recorded none, or whose file is unreadable
    (its checked_at of 0 makes sync.py rebuild the index). A file of the older format, without
    `applied`, reads as having applied nothing beyond its position."""
    file = Path(path) / POSITION_FILE
    try:
        data = json.loads(file.read_text())
        return Position((int(data["txid"]), int(data["id"])),
                        frozenset((int(txid), int(id_)) for txid, id_ in data.get("applied", ())),
                        float(data.get("checked_at", 0)))
    except FileNotFoundError:
        return NO_POSITION
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        log.warning("search index: the position file %s is unreadable; the index will be rebuilt", file)
        return NO_POSITION


def save_position(path, change_position, applied=(), checked_at=None):
    """Record what the index applied (under the write lock; atomically: write, then rename)."""
    folder = Path(path)
    data = {"txid": change_position[0], "id": change_position[1], "applied": sorted(map(list, applied)),
            "checked_at": checked_at or time.time()}
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".position", suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
    os.replace(temporary, folder / POSITION_FILE)


# ---------------------------------------------------------------- writing

def apply(path, ids, fetch):
    """Under the write lock (the caller holds it): replace the documents of `ids` by their current records
    (delete the others)."""
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


def update(path, ids, fetch):
    """Replace the documents of product `ids` by `fetch(ids)` ({id: record} of the public ones; the
    others are deleted), waiting for the write lock. Raises IndexUnavailable when there is no index."""
    if not exists(path):
        raise IndexUnavailable(str(path))
    with write_lock(path):
        apply(path, ids, fetch)


def build_index(path, records, procs=1, limitmb=1024, progress=None, needed=None, change_position=(0, 0),
                applied=()):
    """(Re)build the index at `path` from an iterable of records; returns the number of documents.

    Safe while the site runs: readers keep the previous documents until the new ones are committed
    in one step (whoosh's CLEAR merge). `change_position` and `applied` are the change log's position
    read before the records were (sync.py): changes after it, except those applied, are applied next.
    `procs` > 1 indexes in parallel processes; `limitmb` is the memory each one may use before spilling
    to disk. `progress(n)` is called every 500 documents. `needed`, when given, is asked once the lock is
    held: when it answers False (another process built the index meanwhile) nothing is done and None is
    returned.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with write_lock(path):
        if needed is not None and not needed():
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
        save_position(path, change_position, applied)
        if progress and count % 500:
            progress(count % 500)
    return count


# ---------------------------------------------------------------- reading

_local = threading.local()
_TOC = re.compile(rf"^_{INDEX_NAME}_([0-9]+)\.toc$")  # whoosh's name of a table of contents (index.TOC)


def generation(path):
    """The index's latest generation, as whoosh counts it (each writer's commit adds one; a searcher opened
    before it is out of date); -1 when there is none. One directory listing, no file opened."""
    try:
        names = os.listdir(path)
    except OSError:
        return -1
    return max((int(found.group(1)) for found in map(_TOC.match, names) if found), default=-1)


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
