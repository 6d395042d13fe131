import threading
from pathlib import Path

from bot.routing import JobKind, JobSpec
from bot.store import Store


def _spec(number: int = 1, kind: JobKind = "run") -> JobSpec:
    return JobSpec(kind=kind, owner="o", repo="r", installation_id=1, issue_number=number,
                   sender="alice", trigger="label")


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "db" / "ai-fix.db")
    store.migrate()
    return store


def test_delivery_and_job_are_recorded_together_and_repeats_do_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    first = store.record("guid-1", "issues", "labeled", _spec(), "job:run")
    again = store.record("guid-1", "issues", "labeled", _spec(), "job:run")
    assert first.job_id is not None and not first.duplicate
    assert again.duplicate and again.job_id is None
    assert [job.id for job in store.jobs()] == [first.job_id]
    assert store.record("guid-2", "ping", None, None, "ignored").job_id is None


def test_claims_are_exclusive_across_threads(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for i in range(20):
        store.record(f"g{i}", "issues", "labeled", _spec(i), "job:run")
    claimed: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        while (job := store.claim("new", "queued")) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == [job.id for job in store.jobs()]
    assert len(set(claimed)) == 20


def test_a_newer_trigger_supersedes_queued_and_cancels_running(tmp_path: Path) -> None:
    store = _store(tmp_path)
    running = store.record("a", "issues", "labeled", _spec(), "").job_id
    queued = store.record("b", "issue_comment", "created", _spec(), "").job_id
    other_issue = store.record("c", "issues", "labeled", _spec(2), "").job_id
    newest = store.record("d", "issue_comment", "created", _spec(), "").job_id
    assert running and queued and other_issue and newest
    store.set_state(running, "running")
    store.set_state(queued, "queued")
    assert sorted(store.supersede(_spec(), newest)) == [running, queued]
    assert store.job(queued).state == "superseded"
    assert store.job(running).state == "running" and store.cancel_requested(running)
    assert store.job(other_issue).state == "new" and not store.cancel_requested(other_issue)


def test_interrupted_jobs_are_requeued_until_they_ran_too_often(tmp_path: Path) -> None:
    store = _store(tmp_path)
    job_id = store.record("a", "issues", "labeled", _spec(), "").job_id
    assert job_id
    store.set_state(job_id, "queued")
    for _ in range(3):
        assert store.claim("queued", "running") is not None
        store.requeue_interrupted(max_runs=3)
    assert store.job(job_id).state == "failed"


def test_issue_memory(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.issue_memory("o", "r", 1) == (None, None)
    store.remember("o", "r", 1, progress_comment_id=5)
    store.remember("o", "r", 1, pull_number=7)
    assert store.issue_memory("o", "r", 1) == (5, 7)


def test_recovery_after_a_crash_leaves_no_job_stuck(tmp_path: Path) -> None:
    store = _store(tmp_path)
    checking, cancelled, running = (store.record(g, "issues", "labeled", _spec(n), "").job_id for g, n in
                                    (("a", 1), ("b", 2), ("c", 3)))
    assert checking and cancelled and running
    store.set_state(checking, "checking")
    for job_id in (cancelled, running):
        store.set_state(job_id, "queued")
        assert store.claim("queued", "running") is not None
    store.supersede(_spec(2), newer_id=999)  # a /cancel arrived for #2 before the crash
    assert store.requeue_interrupted() == 1
    assert [store.job(i).state for i in (checking, cancelled, running)] == ["new", "cancelled", "queued"]


def test_state_moves_can_be_guarded(tmp_path: Path) -> None:
    store = _store(tmp_path)
    job_id = store.record("a", "issues", "labeled", _spec(), "").job_id
    assert job_id
    store.set_state(job_id, "superseded")
    assert not store.set_state(job_id, "queued", expect="checking")
    assert store.job(job_id).state == "superseded"
