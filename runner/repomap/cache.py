"""Tags cached by content: a SQLite table keyed by git blob id (and the grammar used), so a checkout
of another commit reparses only the blobs that changed. An in-memory layer keeps the rows a
process has already read or written; `TagCache(None)` is memory only.

Writes go to SQLite behind the caller's back, on one writer thread: compressing and storing a
tree's tags and snapshot took a quarter of a cold map (0.15 s of 0.65 s on pylint), and nothing
in this process needs them on disk, since the memory layer already has them. Another process, or
another `TagCache` on the same file in this one (which waits for the pending writes when it is
opened), reads them from disk. A write that fails (disk full, database locked) costs a later
cache miss, never the map: it is logged and dropped. Likewise a read that fails or a damaged row is
a miss, and a file that cannot be opened as a database leaves the cache in memory only.
"""

from __future__ import annotations

import logging
import marshal
import pickle
import sqlite3
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from runner.repomap.tags import VERSION

Record = tuple[Any, ...]  # (content flags, FileTags.dump()), see index.py
SNAPSHOT_VERSION = 2  # bump when rank.Snapshot's tables change: stored snapshots are then ignored
KEEP_SNAPSHOTS = 8  # stored snapshots (whole trees) kept in SQLite, least recently used dropped first
log = logging.getLogger(__name__)
# One writer thread for every cache of the process (writes are rare and serialised anyway). Its
# thread is joined when the interpreter exits, so a short-lived process (`ai-fix map`) still stores
# what it parsed. Pending writes by database file, so a new TagCache on the same file waits for them.
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tag-cache-writer")
_pending: dict[str, list[Future[None]]] = {}
_pending_lock = threading.Lock()


def _writes_key(path: Path | None) -> str:
    """One key per database file, however its path is spelled."""
    return str(Path(path).resolve()) if path is not None else ""


def _wait_for_writes(path: str) -> None:
    with _pending_lock:
        futures = list(_pending.get(path, ()))
    wait(futures)


class TagCache:
    """Blob-keyed store of extracted tags. Safe to share between threads; one writer at a time."""

    def __init__(self, path: Path | None = None, *, memory_limit: int = 200_000) -> None:
        self.path = path
        self._mem: dict[str, Record] = {}
        self._memory_limit = memory_limit
        self._lock = threading.Lock()
        self.snapshots: OrderedDict[str, Any] = OrderedDict()  # fingerprint -> rank.Snapshot, most recent last
        self._db: sqlite3.Connection | None = None
        if path is not None:
            _wait_for_writes(_writes_key(path))
            try:
                self._db = self._open(path)
            except (OSError, sqlite3.Error) as exc:  # unwritable, not a database, locked: work in memory
                log.warning("tag cache %s cannot be used (%s); caching in memory only", path, exc)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS tags (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS snapshots (key TEXT PRIMARY KEY, used REAL NOT NULL, "
                       "value BLOB NOT NULL)")
        except sqlite3.Error:
            db.close()
            raise
        return db

    @staticmethod
    def key(blob: str, grammar: str | None) -> str:
        return f"{VERSION}:{grammar or '-'}:{blob}"

    def get_many(self, keys: Iterable[str]) -> dict[str, Record]:
        found: dict[str, Record] = {}
        missing: list[str] = []
        with self._lock:
            for key in keys:
                hit = self._mem.get(key)
                if hit is None:
                    missing.append(key)
                else:
                    found[key] = hit
            if self._db is not None and missing:
                rows: list[tuple[str, bytes]] = []
                try:
                    for i in range(0, len(missing), 500):
                        chunk = missing[i : i + 500]
                        marks = ",".join("?" * len(chunk))
                        rows.extend(self._db.execute(f"SELECT key, value FROM tags WHERE key IN ({marks})", chunk))
                except sqlite3.Error as exc:  # locked, corrupt: these are misses, parsed again
                    log.warning("tag cache %s: reading failed (%s); parsing instead", self.path, exc)
                    rows = []
                for key, value in rows:
                    try:
                        record = marshal.loads(zlib.decompress(value))
                    except (zlib.error, ValueError, EOFError, TypeError):  # a damaged row: a miss
                        continue
                    found[key] = record
                    self._remember(key, record)
        return found

    def put_many(self, records: Mapping[str, Record]) -> None:
        with self._lock:
            for key, record in records.items():
                self._remember(key, record)
        if self._db is not None and records:
            self._behind(self._write_tags, dict(records))

    def _write_tags(self, records: dict[str, Record]) -> None:
        rows = [(k, zlib.compress(marshal.dumps(v), 1)) for k, v in records.items()]
        self._transaction(("INSERT OR REPLACE INTO tags (key, value) VALUES (?, ?)", rows, True))

    def _transaction(self, *statements: tuple[str, Any, bool]) -> None:
        """(sql, parameters, many) in one transaction, rolled back under the same lock if one fails,
        so no other statement on the shared connection can slip into it."""
        with self._lock:
            if self._db is None:
                return
            self._db.execute("BEGIN")
            try:
                for sql, params, many in statements:
                    (self._db.executemany if many else self._db.execute)(sql, params)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _behind(self, write: Callable[..., None], *args: Any) -> None:
        """Run `write` on the writer thread; its failure is logged, never raised."""
        path = _writes_key(self.path)

        def run() -> None:
            try:
                write(*args)
            except Exception:  # a cache that cannot be written is a slower cache, not a failed map
                log.warning("tag cache %s: a write failed; it will be recomputed when needed", path, exc_info=True)

        future = _writer.submit(run)
        with _pending_lock:
            _pending.setdefault(path, []).append(future)
        future.add_done_callback(lambda done: self._forget(path, done))

    @staticmethod
    def _forget(path: str, done: Future[None]) -> None:
        with _pending_lock:
            futures = _pending.get(path, [])
            if done in futures:
                futures.remove(done)
            if not futures:
                _pending.pop(path, None)

    def flush(self) -> None:
        """Wait until every write made so far is on disk."""
        if self.path is not None:
            _wait_for_writes(_writes_key(self.path))

    def _remember(self, key: str, record: Record) -> None:
        if len(self._mem) >= self._memory_limit:
            self._mem.clear()
        self._mem[key] = record

    @staticmethod
    def _snapshot_key(fingerprint: str) -> str:
        return f"{VERSION}.{SNAPSHOT_VERSION}:{fingerprint}"

    def snapshot(self, fingerprint: str) -> Any | None:
        """The snapshot kept for this tree: from memory, else from SQLite (written by this or an
        earlier process), so a fresh process on a known tree decodes one row instead of
        rebuilding every table from the files' tags."""
        with self._lock:
            found = self.snapshots.get(fingerprint)
            if found is not None:
                self.snapshots.move_to_end(fingerprint)
                return found
            if self._db is None:
                return None
            key = self._snapshot_key(fingerprint)
            try:
                row = self._db.execute("SELECT value FROM snapshots WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:  # locked, corrupt: rebuild
                log.warning("tag cache %s: reading a snapshot failed (%s); rebuilding it", self.path, exc)
                return None
            if row is None:
                return None
            try:
                found = pickle.loads(zlib.decompress(row[0]))
            except Exception:  # a row from another version of the code, or damaged: rebuild
                return None
            self._keep_in_memory(fingerprint, found)
        self._behind(self._transaction, ("UPDATE snapshots SET used = julianday('now') WHERE key = ?", (key,), False))
        return found

    def keep_snapshot(self, fingerprint: str, snapshot: Any, keep: int = 4) -> None:
        """Remember a built snapshot (its tables cost more to build than to keep) for the next issue,
        in memory and in SQLite."""
        with self._lock:
            self._keep_in_memory(fingerprint, snapshot, keep)
        if self._db is not None:
            self._behind(self._write_snapshot, self._snapshot_key(fingerprint), snapshot)

    def _write_snapshot(self, key: str, snapshot: Any) -> None:
        value = zlib.compress(pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL), 1)
        self._transaction(
            ("INSERT OR REPLACE INTO snapshots (key, used, value) VALUES (?, julianday('now'), ?)",
             (key, value), False),
            ("DELETE FROM snapshots WHERE key NOT IN (SELECT key FROM snapshots ORDER BY used DESC LIMIT ?)",
             (KEEP_SNAPSHOTS,), False))

    def _keep_in_memory(self, fingerprint: str, snapshot: Any, keep: int = 4) -> None:
        self.snapshots[fingerprint] = snapshot
        while len(self.snapshots) > keep:
            self.snapshots.popitem(last=False)

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __len__(self) -> int:
        if self._db is None:
            return len(self._mem)
        self.flush()
        with self._lock:
            if self._db is None:
                return len(self._mem)
            return int(self._db.execute("SELECT count(*) FROM tags").fetchone()[0])
