"""A repository's files at one moment: their paths, blob ids, kinds and tags.

Listing uses git when the directory is a work tree (index blob ids for clean files, hashing only
modified and untracked ones), and a plain walk otherwise. Tags come from the cache by blob id;
only missing blobs are read and parsed, in parallel across cores when there are many.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.errors import GitError
from runner.file_kinds import SKIPPED_DIRS
from runner.git import git
from runner.repomap.cache import Record, TagCache
from runner.repomap.languages import (
    HUGE_BYTES,
    SNIFF_BYTES,
    Kind,
    kind_by_content,
    kind_by_name,
    kind_by_path,
    tag_language,
)
from runner.repomap.tags import FileTags, extract
from runner.safe_read import open_inside

PARALLEL_MIN = 400  # below this many files to parse, a process pool costs more than it saves


class FileEntry:
    """A listed file: its path, kind and (for ranked files) tags, decoded from their marshalled
    form on first use, so a snapshot read back from the cache decodes only the files an issue
    actually looks at."""

    __slots__ = ("path", "kind", "_raw", "_tags")

    def __init__(self, path: str, kind: Kind, tags: FileTags | None = None, raw: bytes | None = None) -> None:
        self.path, self.kind, self._raw, self._tags = path, kind, raw, tags

    @property
    def tags(self) -> FileTags | None:  # None for files listed but not ranked
        if self._tags is None and self._raw is not None:
            self._tags = FileTags.load(marshal.loads(self._raw))
        return self._tags

    @property
    def has_tags(self) -> bool:
        return self._tags is not None or self._raw is not None

    def __getstate__(self) -> tuple[str, str, bytes | None]:
        raw = self._raw if self._raw is not None or self._tags is None else marshal.dumps(self._tags.dump())
        return (self.path, self.kind.value, raw)

    def __setstate__(self, state: tuple[str, str, bytes | None]) -> None:
        self.path, self.kind, self._raw, self._tags = state[0], Kind(state[1]), state[2], None


def blob_id(data: bytes) -> str:
    """The id git gives this content (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _git(root: Path, *args: str) -> list[str] | None:
    """git's NUL-separated listing, or None when git cannot list `root` (not a checkout, no git)."""
    try:
        out = git(args, cwd=root, timeout=120)
    except (GitError, OSError):
        return None
    return [p for p in out.split("\0") if p]


def list_files(root: Path) -> list[tuple[str, str | None]]:
    """(path, blob id or None when it must be hashed from disk), sorted by path."""
    staged = _git(root, "ls-files", "-s", "-z")
    if staged is None or not (root / ".git").exists():
        return [(p, None) for p in sorted(_walk(root))]
    blobs: dict[str, str | None] = {}
    for line in staged:
        meta, _, path = line.partition("\t")
        mode, blob, _stage = meta.split(" ")
        if mode in ("100644", "100755"):
            blobs[path] = blob
    status = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames") or []
    for entry in status:
        code, path = entry[:2], entry[3:]
        if "D" in code:
            blobs.pop(path, None)
        elif code != "!!":
            blobs[path] = None  # modified, added or untracked: hash what is on disk
    return sorted(blobs.items())


def _walk(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                yield name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")


def _read(root: Path, path: str) -> bytes | None:
    """The file's bytes (at most one byte past the "huge" size, which is all the classifier needs); None for
    symlinks (on any path component), non-files and unreadable paths."""
    fd = open_inside(root, path)
    if fd is None:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(HUGE_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)


def _record(path: str, data: bytes) -> Record:
    content_kind = kind_by_content(len(data), data[:SNIFF_BYTES])
    if content_kind is not None:
        return (content_kind.value, None)
    return (None, extract(path, data).dump())


def _parse_batch(root: str, paths: list[str]) -> list[tuple[str, Record | None]]:
    out: list[tuple[str, Record | None]] = []
    for path in paths:
        data = _read(Path(root), path)
        out.append((path, None if data is None else _record(path, data)))
    return out


def _parse(root: Path, paths: list[str], workers: int,
           meanwhile: Callable[[], object] | None = None) -> list[tuple[str, Record | None]]:
    """Read and extract `paths`: this process takes one share, `workers - 1` helper processes the rest.

    Helpers are plain `python -m runner.repomap._helper` subprocesses speaking marshal over pipes,
    so they work from any caller (threads, scripts without a main guard, servers). `meanwhile`
    runs once the helpers have their shares, so this process's other start-up (importing the
    ranking code) overlaps their parsing. (A shared queue of small batches balanced no better on
    two cores and cost more in messages.)"""
    if workers <= 1 or len(paths) < PARALLEL_MIN:
        if meanwhile is not None:
            meanwhile()
        return _parse_batch(str(root), paths)
    shares = [paths[i::workers] for i in range(workers)]  # interleaved: a fair mix of big and small files
    helpers = [
        subprocess.Popen([sys.executable, "-m", "runner.repomap._helper", str(root)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, cwd=str(Path(__file__).resolve().parents[2]))
        for _ in shares[1:]
    ]
    for helper, share in zip(helpers, shares[1:], strict=True):
        assert helper.stdin is not None
        helper.stdin.write(marshal.dumps(share))
        helper.stdin.close()
    if meanwhile is not None:
        meanwhile()
    out = _parse_batch(str(root), shares[0])
    for helper, share in zip(helpers, shares[1:], strict=True):
        assert helper.stdout is not None
        data = helper.stdout.read()
        if helper.wait() == 0 and data:
            out.extend(marshal.loads(data))
        else:  # a helper died (out of memory, killed): do its share here
            out.extend(_parse_batch(str(root), share))
    return out


@dataclass
class Listing:
    """The work tree's files with their kinds and cache keys, and a fingerprint of the whole set
    (paths and contents): equal fingerprints, equal snapshots. Costs a `git ls-files` and a
    `git status`, no tags."""

    listed: list[tuple[str, str | None]]
    kinds: dict[str, Kind]
    wanted: dict[str, str]  # path -> cache key, for ranked files
    fingerprint: str


def listing(root: Path) -> Listing:
    listed = list_files(root)
    kinds: dict[str, Kind] = {}
    wanted: dict[str, str] = {}  # path -> cache key, for files whose blob id git told us
    to_read: list[str] = []
    for path, blob in listed:
        kind = kind_by_path(path) or kind_by_name(path)
        kinds[path] = kind
        if not kind.ranked:
            continue
        if blob is None:
            to_read.append(path)
        else:
            wanted[path] = TagCache.key(blob, tag_language(path))
    for path in to_read:  # modified or untracked, or no git: hash the content
        data = _read(root, path)
        if data is None:
            kinds[path] = Kind.OTHER
        else:
            wanted[path] = TagCache.key(blob_id(data), tag_language(path))
    digest = hashlib.sha1()
    for path, _blob in listed:
        digest.update(f"{path}\0{wanted.get(path, kinds[path].value)}\n".encode("utf-8", "surrogateescape"))
    return Listing(listed, kinds, wanted, digest.hexdigest())


def load(root: Path, cache: TagCache, workers: int | None = None, listed: Listing | None = None,
         meanwhile: Callable[[], object] | None = None) -> list[FileEntry]:
    """Every file of the work tree at `root` with its kind and (for ranked files) its tags.
    `meanwhile` runs while helpers parse (or at once when nothing needs parsing)."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    found = listed if listed is not None else listing(root)
    kinds, wanted = dict(found.kinds), found.wanted
    hits = cache.get_many(wanted.values())
    records: dict[str, Record] = {p: hits[key] for p, key in wanted.items() if key in hits}
    missing = [p for p, key in wanted.items() if key not in hits]
    if missing:
        fresh: dict[str, Record] = {}
        for path, record in _parse(root, missing, workers, meanwhile):
            if record is None:
                kinds[path] = Kind.OTHER
                continue
            records[path] = record
            # Under the key it was looked up by: for a clean file that is git's blob id, which differs
            # from the bytes on disk when checkout converts them (eol=crlf, filters).
            fresh[wanted[path]] = record
        cache.put_many(fresh)
    elif meanwhile is not None:
        meanwhile()
    entries: list[FileEntry] = []
    for path, _blob in found.listed:
        kind, record = kinds[path], records.get(path)
        if record is not None and record[0] is not None:
            kind = Kind(record[0])
        tags = FileTags.load(record[1]) if record is not None and record[1] is not None and kind.ranked else None
        entries.append(FileEntry(path, kind, tags))
    return entries

