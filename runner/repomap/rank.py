"""Ranking: fuse what the issue names with lexical relevance and the reference graph.

Each file gets evidence from seven sources, each scaled to [0, 1] by its best file so that no
source's units matter:
- lexical: BM25 of the issue's words (identifiers split into parts, environment dumps removed)
  against the file's words and path, plus the BM25 of its best 40-line window, so words that
  meet in one function beat words scattered over a big module;
- title: the same for the title's words alone. The title is the reporter's summary; the body is
  mostly examples, logs and output, whose words often belong to the code that prints them (a
  test runner's report, a reporter, a config loader) rather than to the code at fault;
- symbol: BM25 of the identifiers the issue names against each file's defined names, plus a
  bonus where `Owner.member` matches a member defined inside `Owner`;
- literal: string-literal fragments of the file (error messages, option names) that appear
  verbatim in the issue, rare and long ones counting most;
- path: the issue names the file (a path or path tail, a traceback frame, a module path);
- tests: the file's own tests (found by the naming conventions of test frameworks) match the
  issue's words, as an issue's example often reads like the tests of the code at fault;
- graph: personalised PageRank over the definition/reference graph, seeded by the above and
  divided by the square root of the global PageRank, so what the seeds lead to rises without
  the pull towards hubs that plain PageRank has.
A file's kind scales the sum: tests, docs and other text rank below code because an issue's fix
is made in code; they are still ranked.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from runner.repomap.graph import Graph
from runner.repomap.index import FileEntry
from runner.repomap.issue_text import Mentions
from runner.repomap.languages import Kind
from runner.repomap.lexical import Lexical, best_chunk_scores
from runner.repomap.tags import MIN_FRAGMENT, split_identifier

# Relative weight of each source in the fused score (each source is first scaled to [0, 1]).
# Chosen among a few round values on the SWE-bench dev split, not fitted finely: lexical is the
# most reliable source; named symbols, verbatim strings and paths are precise but sparse, so they
# count half; the graph only breaks ties (it lowered recall@1 at any larger weight).
# The tests source is indirect evidence (words met in a file's tests, not in the file), so it counts
# between the graph's tie-breaking and the named sources (sensitivity: bench/localize/README.md).
# The title counts half as much as the whole text, which includes it (sensitivity: bench/localize/README.md).
WEIGHTS = {"lexical": 1.0, "title": 0.5, "symbol": 0.5, "literal": 0.5, "path": 0.5, "tests": 0.25, "graph": 0.1}
_FIRST_WORD = re.compile(r"[a-z0-9_]+")
KIND_PRIOR = {Kind.CODE: 1.0, Kind.TEST: 0.5, Kind.DOC: 0.3, Kind.TEXT: 0.3}
CHUNK_CANDIDATES = 300  # files whose windows are scored (by whole-file BM25); the rest score 0 there
EXPLAINED_FILES = 2000  # files that carry their evidence and reasons (for --explain)
SYMBOL_FILES = 400  # files whose definitions are scored (no map shows more files with definitions)
MAX_SYMBOLS = 60
DEF_KIND = {"class": 1.0, "function": 1.0, "method": 1.0, "struct": 1.0, "interface": 1.0, "trait": 1.0,
            "enum": 1.0, "type": 0.8, "module": 0.8, "impl": 0.5, "macro": 0.8, "constant": 0.5, "field": 0.3}


@dataclass
class RankedFile:
    path: str
    score: float
    kind: Kind
    evidence: dict[str, float] = field(default_factory=dict)  # source -> normalised contribution
    reasons: list[str] = field(default_factory=list)  # human-readable, strongest first
    symbols: list[tuple[int, float]] = field(default_factory=list)  # (definition index, relevance), best first


@dataclass
class Ranking:
    files: list[RankedFile]  # best first; ranked kinds only
    unranked: list[tuple[str, Kind]]  # vendored, generated, minified, binary, huge: listed by path
    chosen: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


class Snapshot:
    """Derived tables for one set of files (one commit): built once, used for every issue."""

    def __init__(self, entries: Sequence[FileEntry]) -> None:
        self.entries = [e for e in entries if e.kind.ranked and e.has_tags]
        self.unranked = [(e.path, e.kind) for e in entries if not e.kind.ranked or not e.has_tags]
        self.paths = [e.path for e in self.entries]
        self.ids = {p: i for i, p in enumerate(self.paths)}
        self.n = len(self.entries)
        self.definers: dict[str, list[int]] = defaultdict(list)
        for i, e in enumerate(self.entries):
            assert e.tags is not None
            for name in {d.name for d in e.tags.defs}:
                self.definers[name].append(i)
        self.by_name: dict[str, list[int]] = defaultdict(list)  # lower-cased basename -> files
        self.modules: dict[str, list[int]] = defaultdict(list)  # dotted module suffix -> files
        for i, path in enumerate(self.paths):
            name = path.rsplit("/", 1)[-1]
            self.by_name[name.lower()].append(i)
            stem = path.rsplit(".", 1)[0] if "." in name else path
            parts = stem.split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            for k in range(len(parts)):
                self.modules[".".join(parts[k:])].append(i)
        self.subjects = _test_subjects(self.paths, [e.kind for e in self.entries])
        self.kind_prior = np.array([KIND_PRIOR.get(e.kind, 0.3) for e in self.entries])
        self._ref_files: Counter[str] | None = None
        self._lexical: Lexical | None = None
        self._definitions: Lexical | None = None
        self._avg_chunk: float | None = None
        self._global: np.ndarray | None = None
        self._literals: dict[str, dict[str, list[int]]] | None = None
        self._graph: Graph | None = None

    def prepared(self) -> Snapshot:
        """Build every table now (before the snapshot is stored), not on first use."""
        _ = self.lexical, self.definitions, self.literals, self.global_rank, self.ref_files, self.avg_chunk_length
        return self

    @property
    def lexical(self) -> Lexical:
        if self._lexical is None:
            docs = []
            for e in self.entries:
                assert e.tags is not None
                terms = dict(e.tags.terms)
                for word in _path_words(e.path):
                    terms[word] = terms.get(word, 0) + 1
                docs.append(terms)
            self._lexical = Lexical(docs)
        return self._lexical

    @property
    def avg_chunk_length(self) -> float:
        if self._avg_chunk is None:
            windows = sum(len(e.tags.chunks) for e in self.entries if e.tags is not None)
            self._avg_chunk = float(self.lexical.lengths.sum()) / max(windows, 1)
        return self._avg_chunk

    @property
    def definitions(self) -> Lexical:
        """Each file's defined names (as written), weighted by kind, as a BM25 field."""
        if self._definitions is None:
            docs = []
            for e in self.entries:
                assert e.tags is not None
                bag: dict[str, int] = {}
                for d in e.tags.defs:
                    bag[d.name] = bag.get(d.name, 0) + 1
                docs.append(bag)
            self._definitions = Lexical(docs)
        return self._definitions

    @property
    def literals(self) -> dict[str, dict[str, list[int]]]:
        """First word of a string-literal fragment -> fragment -> files containing it."""
        if self._literals is None:
            index: dict[str, dict[str, list[int]]] = defaultdict(dict)
            for i, e in enumerate(self.entries):
                assert e.tags is not None
                for frag in e.tags.literals:
                    first = _FIRST_WORD.search(frag)
                    if first:
                        index[first.group(0)].setdefault(frag, []).append(i)
            self._literals = index
        return self._literals

    @property
    def global_rank(self) -> np.ndarray:
        if self._global is None:
            self._global = self.graph.pagerank()
        return self._global

    @property
    def ref_files(self) -> Counter[str]:
        """Name -> how many files reference it (a definition's centrality)."""
        if self._ref_files is None:
            self._ref_files = Counter()
            for e in self.entries:
                if e.tags is not None:
                    self._ref_files.update(e.tags.refs.keys())
        return self._ref_files

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = Graph.build([e.tags.refs if e.tags else {} for e in self.entries], self.definers)
        return self._graph


# What test frameworks put around the name of the unit under test: test_x.py, unittest_x.py,
# x_test.go, x_tests.py, x.test.ts, x.spec.js, x_spec.rb, XTest.java, TestX.java, XTests.cs.
_TEST_AFFIX = re.compile(
    r"^(?:test|tests|unittest|spec)[_.-]|^Test(?=[A-Z])|[_.-](?:test|tests|spec)$|(?<=[a-z0-9])(?:Tests?|Spec)$")


def _test_subjects(paths: Sequence[str], kinds: Sequence[Kind]) -> dict[int, list[int]]:
    """Test file -> the code files it tests, by the naming conventions of test frameworks (the
    strongest of the test-to-code traceability heuristics): `test_x.py`, `x_test.go`, `x.test.ts`,
    `XTest.java`, `x_spec.rb` test the code file `x` with the same extension. Where several code
    files have that name, the ones whose directories share most with the test's win."""
    code: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (path, kind) in enumerate(zip(paths, kinds, strict=True)):
        if kind is Kind.CODE:
            name = path.rsplit("/", 1)[-1]
            stem, dot, ext = name.rpartition(".")
            if dot:
                code[(stem.lower(), ext)].append(i)
    out: dict[int, list[int]] = {}
    for i, (path, kind) in enumerate(zip(paths, kinds, strict=True)):
        if kind is not Kind.TEST:
            continue
        name = path.rsplit("/", 1)[-1]
        stem, dot, ext = name.rpartition(".")
        if not dot:
            continue
        subject = _TEST_AFFIX.sub("", stem)
        if subject == stem or not subject:
            continue
        candidates = code.get((subject.lower(), ext))
        if not candidates:
            continue
        dirs = set(path.lower().split("/")[:-1])
        shared = [len(dirs & set(paths[j].lower().split("/")[:-1])) for j in candidates]
        top = max(shared)
        out[i] = [j for j, k in zip(candidates, shared, strict=True) if k == top]
    return out


def _path_words(path: str) -> list[str]:
    out: list[str] = []
    for part in path.replace(".", "/").replace("-", "_").split("/"):
        lower = part.lower()
        if lower:
            out.append(lower)
            out.extend(p for p in split_identifier(part) if p != lower)
    return out


def _chunks(entry: FileEntry) -> list[dict[str, int]]:
    return entry.tags.chunks if entry.tags is not None else []


def _normalised(x: np.ndarray) -> np.ndarray:
    top = float(x.max()) if x.size else 0.0
    return x / top if top > 0 else x


class _Evidence:
    def __init__(self, n: int) -> None:
        self.score = np.zeros(n)
        self.why: dict[int, list[tuple[float, str]]] = defaultdict(list)

    def add(self, i: int, amount: float, reason: str) -> None:
        self.score[i] += amount
        self.why[i].append((amount, reason))


def path_evidence(snap: Snapshot, m: Mentions) -> _Evidence:
    ev = _Evidence(snap.n)
    for written, weight in m.paths.items():
        parts = [p for p in written.split("/") if p and p != "."]
        if not parts:
            continue
        candidates = snap.by_name.get(parts[-1].lower(), [])
        if not candidates:
            continue
        best: list[tuple[int, int]] = []
        for i in candidates:
            repo_parts = snap.paths[i].lower().split("/")
            k = 0
            while k < min(len(parts), len(repo_parts)) and parts[-1 - k].lower() == repo_parts[-1 - k]:
                k += 1
            best.append((k, i))
        top = max(k for k, _ in best)
        winners = [i for k, i in best if k == top]
        for i in winners:
            ev.add(i, weight * min(top, 3) / len(winners), f"names its path `{written}`")
    for dotted, weight in m.modules.items():
        parts = dotted.split(".")
        for k in range(len(parts), 0, -1):
            prefix = ".".join(parts[:k])
            files = snap.modules.get(prefix)
            if files and k >= 2:
                for i in files:
                    ev.add(i, weight * min(k, 3) / len(files) / 2, f"names module `{prefix}`")
                break
    return ev


def symbol_evidence(snap: Snapshot, m: Mentions) -> _Evidence:
    """BM25 of the mentioned identifiers against each file's bag of defined names (a BM25F-like
    field): rare definitions count more, and a file defining hundreds of names gains less from
    each, so hubs do not win just by defining everything an example touches."""
    ev = _Evidence(snap.n)
    query = {ident: w for ident, w in m.idents.items() if ident in snap.definers}
    scores = snap.definitions.scores(query, weighted=True)
    for ident in query:
        for i in snap.definers[ident]:
            if scores[i] > 0:
                ev.why[i].append((query[ident], f"defines `{ident}`"))
    ev.score = scores
    for (owner, member), weight in m.qualified.items():
        for i in snap.definers.get(member, []):
            tags = snap.entries[i].tags
            assert tags is not None
            if any(d.name == member and d.parent >= 0 and tags.defs[d.parent].name == owner for d in tags.defs):
                ev.add(i, weight * float(scores.max() or 1.0) / 4, f"defines `{owner}.{member}`")
    return ev


def literal_evidence(snap: Snapshot, m: Mentions) -> _Evidence:
    """Files whose string literals (messages, option names) appear verbatim in the issue, such as
    an error message pasted from a terminal or `--an-option`. Rare, long fragments count most."""
    ev = _Evidence(snap.n)
    text = m.normalised
    n = max(snap.n, 2)
    for word in set(_FIRST_WORD.findall(text)):
        for frag, files in snap.literals.get(word, {}).items():
            if frag in text:
                weight = math.log(1 + n / len(files)) * (1 + math.log(len(frag) / MIN_FRAGMENT))
                for i in files:
                    ev.add(i, weight, f"has the string `{frag}`")
    ev.score = np.log1p(ev.score)  # many matches in one file (a help screen, a report) saturate
    return ev


def evidence_from_tests(snap: Snapshot, lexical: np.ndarray) -> _Evidence:
    """Code files whose tests match the issue's words. An issue's example often reads like the
    tests of the code at fault (same calls, same options), and tests rank below code, so what
    they match is passed on, at the best of its tests, to the unit they test."""
    ev = _Evidence(snap.n)
    for t, subjects in snap.subjects.items():
        if lexical[t] <= 0:
            continue
        for j in subjects:
            if lexical[t] > ev.score[j]:
                ev.score[j] = lexical[t]
                ev.why[j] = [(0.0, f"its tests `{snap.paths[t]}` match the issue's words")]
    return ev


def symbol_scores(snap: Snapshot, i: int, m: Mentions) -> list[tuple[int, float]]:
    """A file's definitions by relevance to the issue: named > sharing words > widely used."""
    tags = snap.entries[i].tags
    if tags is None:
        return []
    owners = defaultdict(set)
    for owner, member in m.qualified:
        owners[member].add(owner)
    out: list[tuple[int, float]] = []
    for k, d in enumerate(tags.defs):
        score = 2.0 * m.idents.get(d.name, 0.0)
        parts = split_identifier(d.name)
        if parts:
            score += sum(1 for p in parts if p in m.words) / len(parts)
        if d.parent >= 0 and tags.defs[d.parent].name in owners.get(d.name, ()):
            score += 3.0
        score += 0.1 * math.log1p(snap.ref_files.get(d.name, 0))
        score *= DEF_KIND.get(d.kind, 0.5)
        if d.name.startswith("_") and not d.name.endswith("__"):
            score *= 0.5
        out.append((k, score))
    out.sort(key=lambda item: -item[1])
    return out[:MAX_SYMBOLS]


def _windowed(snap: Snapshot, words: dict[str, float]) -> np.ndarray:
    """Whole-file BM25 plus the BM25 of the best CHUNK_LINES window (words must also meet in one
    place), each scaled to [0, 1]. Windows are read only for the CHUNK_CANDIDATES files whose
    whole-file score is best, so the cost does not grow with the repository."""
    query = {w: c for w, c in words.items() if len(w) > 1}
    idf = snap.lexical.idf_of(query)
    whole = snap.lexical.scores(query, idf=idf)
    candidates = np.argsort(-whole * snap.kind_prior, kind="stable")[:CHUNK_CANDIDATES]
    windows = [_chunks(snap.entries[i]) for i in candidates]
    local = np.zeros(snap.n)
    local[candidates] = best_chunk_scores(windows, query, idf, snap.avg_chunk_length)
    both: np.ndarray = _normalised(whole) + _normalised(local)
    return both


def rank_files(snap: Snapshot, m: Mentions, chosen: Sequence[str] = ()) -> Ranking:
    paths, symbols, literals = path_evidence(snap, m), symbol_evidence(snap, m), literal_evidence(snap, m)
    lexical = _windowed(snap, m.words)
    parts = {"path": _normalised(paths.score), "symbol": _normalised(symbols.score), "lexical": _normalised(lexical),
             "literal": _normalised(literals.score), "title": _normalised(_windowed(snap, m.title))}
    tests = evidence_from_tests(snap, lexical)
    parts["tests"] = _normalised(tests.score)
    seed = sum(WEIGHTS[k] * v for k, v in parts.items()) * snap.kind_prior
    chosen_ids = [snap.ids[p] for p in chosen if p in snap.ids]
    personal = seed.copy()
    if chosen_ids:
        personal[chosen_ids] += personal.max() + 1.0
    # Personalised rank over the global rank's square root: what the issue's files lead to, without
    # the bias towards hubs that everything leads to (plain PageRank's failure on SWE-bench).
    ppr = snap.graph.pagerank(personal)
    parts["graph"] = _normalised(ppr / np.sqrt(snap.global_rank * max(ppr.size, 1)))
    total = sum(WEIGHTS[k] * v for k, v in parts.items()) * snap.kind_prior
    order = np.argsort(-total, kind="stable")
    first = list(dict.fromkeys(chosen_ids))
    taken = set(first)
    rest = [i for i in order.tolist() if i not in taken]
    files: list[RankedFile] = []
    for i in first + rest:
        e = snap.entries[i]
        if len(files) >= EXPLAINED_FILES:  # the long tail: order only
            files.append(RankedFile(e.path, float(total[i]), e.kind))
            continue
        evidence = {k: float(v[i]) for k, v in parts.items() if v[i] > 0}
        why = paths.why.get(i, []) + symbols.why.get(i, []) + literals.why.get(i, []) + tests.why.get(i, [])
        reasons = [r for _, r in sorted(why, reverse=True)]
        best = symbol_scores(snap, i, m) if len(files) < SYMBOL_FILES else []
        files.append(RankedFile(e.path, float(total[i]), e.kind, evidence, reasons, best))
    return Ranking(files, list(snap.unranked), list(chosen))
