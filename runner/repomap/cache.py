"""Tags cached by content: a SQLite table keyed by git blob id (and the grammar used), so a checkout
of another commit reparses only the blobs that changed. An in-memory layer keeps the rows a
process has already read; `TagCache(None)` is memory only.
"""

from __future__ import annotations

import marshal
import pickle
import sqlite3
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runner.repomap.tags import VERSION

Record = tuple[Any, ...]  # (content flags, FileTags.dump()), see index.py
SNAPSHOT_VERSION = 2  # bump when rank.Snapshot's tables change: stored snapshots are then ignored
KEEP_SNAPSHOTS = 8  # stored snapshots (whole trees) kept in SQLite, least recently used dropped first


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
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS tags (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS snapshots (key TEXT PRIMARY KEY, used REAL NOT NULL, "
                             "value BLOB NOT NULL)")

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
                for i in range(0, len(missing), 500):
                    chunk = missing[i : i + 500]
                    marks = ",".join("?" * len(chunk))
                    for key, value in self._db.execute(f"SELECT key, value FROM tags WHERE key IN ({marks})", chunk):
                        record = marshal.loads(zlib.decompress(value))
                        found[key] = record
                        self._remember(key, record)
        return found

    def put_many(self, records: Mapping[str, Record]) -> None:
        with self._lock:
            for key, record in records.items():
                self._remember(key, record)
            if self._db is not None and records:
                rows = [(k, zlib.compress(marshal.dumps(v), 1)) for k, v in records.items()]
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO tags (key, value) VALUES (?, ?)", rows)
                self._db.execute("COMMIT")

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
            row = self._db.execute("SELECT value FROM snapshots WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            try:
                found = pickle.loads(zlib.decompress(row[0]))
            except Exception:  # a row from another version of the code: rebuild
                return None
            self._db.execute("UPDATE snapshots SET used = julianday('now') WHERE key = ?", (key,))
            self._keep_in_memory(fingerprint, found)
            return found

    def keep_snapshot(self, fingerprint: str, snapshot: Any, keep: int = 4) -> None:
        """Remember a built snapshot (its tables cost more to build than to keep) for the next issue,
        in memory and in SQLite."""
        with self._lock:
            self._keep_in_memory(fingerprint, snapshot, keep)
            if self._db is not None:
                value = zlib.compress(pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL), 1)
                self._db.execute("BEGIN")
                self._db.execute("INSERT OR REPLACE INTO snapshots (key, used, value) VALUES (?, julianday('now'), ?)",
                                 (self._snapshot_key(fingerprint), value))
                self._db.execute("DELETE FROM snapshots WHERE key NOT IN "
                                 "(SELECT key FROM snapshots ORDER BY used DESC LIMIT ?)", (KEEP_SNAPSHOTS,))
                self._db.execute("COMMIT")

    def _keep_in_memory(self, fingerprint: str, snapshot: Any, keep: int = 4) -> None:
        self.snapshots[fingerprint] = snapshot
        while len(self.snapshots) > keep:
            self.snapshots.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __len__(self) -> int:
        if self._db is None:
            return len(self._mem)
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM tags").fetchone()[0])
