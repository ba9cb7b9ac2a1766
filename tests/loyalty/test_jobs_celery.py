"""The scheduled jobs through Celery for real: a worker (threads) consuming from Redis, the
orchestrator task fanning a run's chunks out as a chord, the chord's callback finishing the run.

PostgreSQL only: the worker's threads write through their own connections while the test reads."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.result import EagerResult
from django.db import OperationalError, connection

from config.celery import app as celery_app
from loyalty.audit import audit
from loyalty.models import JobChunk, JobRun, PointsEntry
from loyalty.services import adjust_points, bulk
from loyalty.services.jobs import start_job_run
from loyalty.tasks import run_job_chunk_task, run_scheduled_job
from members.models import Member
from tests.factories import MemberFactory, UserFactory
from tests.helpers import UTC, ensure_default_program
from tests.jobs_helpers import expire_entries

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the Celery worker writes from its own threads and connections: needs PostgreSQL; set DATABASE_URL",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("audited_afterwards"),
]

REDIS = "redis://127.0.0.1:6379/5"
AS_OF = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)  # 2027-03-02 00:00 in Shanghai
TIMEOUT = 60


def _forget_connections(app) -> None:
    """Drop the app's cached broker pool and result backend so the next use reads the configuration."""
    app._pool = None
    app._backend_cache = None
    if hasattr(app._local, "backend"):
        del app._local.backend


@pytest.fixture
def worker():
    """A real worker on Redis DB 5 (two threads), torn down and the app's configuration restored."""
    names = ("task_always_eager", "broker_url", "result_backend")
    saved = {name: celery_app.conf[name] for name in names}
    redis.Redis.from_url(REDIS).flushdb()
    celery_app.conf.update(task_always_eager=False, broker_url=REDIS, result_backend=REDIS)
    _forget_connections(celery_app)
    try:
        with start_worker(
            celery_app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30
        ) as running:
            yield running
    finally:
        celery_app.conf.update(saved)
        _forget_connections(celery_app)
        redis.Redis.from_url(REDIS).flushdb()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def wait_for_run(run_id: int, *statuses: str, timeout: float = TIMEOUT) -> JobRun:
    def finished() -> bool:
        return JobRun.objects.get(pk=run_id).status in statuses

    wait_for(finished, f"job run {run_id} to become {' or '.join(statuses)}", timeout)
    return JobRun.objects.get(pk=run_id)


@pytest.fixture
def population() -> list[Member]:
    """Seven members, each with a lot expiring at AS_OF and one expiring a month later."""
    ensure_default_program()  # transactional tests flush the data migrations' rows
    staff = UserFactory()
    members = []
    for i in range(7):
        member = MemberFactory()
        adjust_points(member=member, amount=100 + i, reason="test setup", actor=staff, expires_at=AS_OF)
        adjust_points(member=member, amount=10, reason="test setup", actor=staff, expires_at=AS_OF + timedelta(days=30))
        members.append(member)
    return members


def points_available(members: list[Member]) -> list[int]:
    return [Member.objects.get(pk=m.pk).points_available for m in members]


def test_worker_runs_a_scheduled_job_over_all_chunks(population, worker):
    # Created here with small chunks, so the orchestrator resumes it and fans out four chunk tasks.
    created = start_job_run(job="expire_points", as_of=AS_OF, chunk_size=2)

    result = run_scheduled_job.delay("expire_points", AS_OF.isoformat())
    run_id = result.get(timeout=TIMEOUT)

    assert not isinstance(result, EagerResult), "the task went through Redis to the worker"
    assert run_id == created.pk
    run = wait_for_run(run_id, JobRun.Status.DONE, JobRun.Status.FAILED)
    assert (run.status, run.error) == (JobRun.Status.DONE, "")
    assert (run.chunks_total, run.chunks_done, run.members_changed, run.entries_written) == (4, 4, 7, 7)
    assert (run.period, run.as_of) == ("2027-03-02", AS_OF)
    assert all(chunk.done and chunk.attempts == 1 for chunk in JobChunk.objects.filter(run=run))
    assert points_available(population) == [10] * 7
    assert expire_entries(PointsEntry).count() == 7
    assert audit() == []


def test_a_chunk_failing_in_the_worker_fails_the_run_and_the_next_dispatch_resumes_it(population, worker, monkeypatch):
    created = start_job_run(job="expire_points", as_of=AS_OF, chunk_size=2)
    bad = JobChunk.objects.filter(run=created).order_by("first_member_id")[1]
    original = bulk.expire_points

    def expire_points(first_id, last_id, as_of):
        result = original(first_id, last_id, as_of)
        if first_id == bad.first_member_id:
            raise RuntimeError("disk on fire")
        return result

    monkeypatch.setattr(bulk, "expire_points", expire_points)  # the worker's threads share this module

    run_scheduled_job.delay("expire_points", AS_OF.isoformat()).get(timeout=TIMEOUT)
    failed = wait_for_run(created.pk, JobRun.Status.FAILED, JobRun.Status.DONE)

    assert failed.status == JobRun.Status.FAILED
    assert failed.chunks_done == 3
    assert "RuntimeError: disk on fire" in failed.error
    bad.refresh_from_db()
    assert (bad.done, bad.error) == (False, "RuntimeError: disk on fire")
    assert audit() == []

    monkeypatch.setattr(bulk, "expire_points", original)
    run_scheduled_job.delay("expire_points", (AS_OF + timedelta(hours=2)).isoformat()).get(timeout=TIMEOUT)
    run = wait_for_run(created.pk, JobRun.Status.DONE)

    assert (run.chunks_done, run.entries_written, run.as_of) == (4, 7, AS_OF)
    assert points_available(population) == [10] * 7
    assert all(expire_entries(PointsEntry, member).count() == 1 for member in population)
    assert audit() == []


def test_dispatching_a_finished_run_again_changes_nothing(population, worker):
    run_id = run_scheduled_job.delay("expire_points", AS_OF.isoformat()).get(timeout=TIMEOUT)
    first = wait_for_run(run_id, JobRun.Status.DONE, JobRun.Status.FAILED)
    assert first.status == JobRun.Status.DONE

    again = run_scheduled_job.delay("expire_points", AS_OF.isoformat()).get(timeout=TIMEOUT)

    assert again == run_id
    run = JobRun.objects.get(pk=run_id)
    assert (run.status, run.finished_at, run.entries_written) == (JobRun.Status.DONE, first.finished_at, 7)
    assert expire_entries(PointsEntry).count() == 7
    assert audit() == []


def test_a_chunk_that_keeps_losing_its_connection_still_lets_the_run_finish_as_failed(population, worker, monkeypatch):
    """OperationalError is retried; once the retries are used up the run must not stay 'running'
    forever: it is marked failed so that it shows up, and the next dispatch resumes it."""
    created = start_job_run(job="expire_points", as_of=AS_OF, chunk_size=2)
    bad = JobChunk.objects.filter(run=created).order_by("first_member_id")[1]
    original = bulk.expire_points

    def expire_points(first_id, last_id, as_of):
        if first_id == bad.first_member_id:
            raise OperationalError("server closed the connection unexpectedly")
        return original(first_id, last_id, as_of)

    monkeypatch.setattr(bulk, "expire_points", expire_points)
    monkeypatch.setattr(run_job_chunk_task, "default_retry_delay", 0)

    run_scheduled_job.delay("expire_points", AS_OF.isoformat()).get(timeout=TIMEOUT)
    attempts = 1 + run_job_chunk_task.max_retries
    wait_for(lambda: JobChunk.objects.get(pk=bad.pk).attempts == attempts, f"{attempts} attempts of the chunk")
    run = wait_for_run(created.pk, JobRun.Status.FAILED, JobRun.Status.DONE, timeout=15)

    assert run.status == JobRun.Status.FAILED
    assert "OperationalError" in run.error
    assert run.chunks_done == 3
