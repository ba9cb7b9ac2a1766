"""The retry schedule as plain arithmetic (webhooks.retries): no database, no network."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from webhooks.retries import MOST_ATTEMPTS, RETRY_DELAYS, Verdict, judge, parse_retry_after

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_the_schedule_is_the_documented_one():
    assert [d.total_seconds() for d in RETRY_DELAYS] == [
        5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400,
    ]  # fmt: skip
    assert MOST_ATTEMPTS == 10


@pytest.mark.parametrize("attempt", range(1, MOST_ATTEMPTS))
def test_each_retry_waits_its_step_within_ten_percent(attempt):
    outcome = judge(status_code=503, attempts_made=attempt, rng=random.Random(attempt))
    step = RETRY_DELAYS[attempt - 1]
    assert outcome.verdict is Verdict.RETRY
    assert step * 0.9 <= outcome.retry_in <= min(step * 1.1, timedelta(hours=24))


def test_jitter_spreads_the_waits():
    waits = {judge(status_code=None, attempts_made=2, rng=random.Random(seed)).retry_in for seed in range(20)}
    assert len(waits) > 10


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, Verdict.DELIVERED), (204, Verdict.DELIVERED), (299, Verdict.DELIVERED), (None, Verdict.RETRY),
     (429, Verdict.RETRY), (500, Verdict.RETRY), (503, Verdict.RETRY), (410, Verdict.GONE), (400, Verdict.FAILED),
     (404, Verdict.FAILED), (301, Verdict.FAILED), (307, Verdict.FAILED), (100, Verdict.FAILED)],
)  # fmt: skip
def test_what_each_answer_means(status, verdict):
    assert judge(status_code=status, attempts_made=1).verdict is verdict


def test_the_tenth_failure_gives_up_and_a_refused_address_at_once():
    assert judge(status_code=500, attempts_made=MOST_ATTEMPTS).verdict is Verdict.FAILED
    assert judge(status_code=None, attempts_made=1, sent=False).verdict is Verdict.FAILED


def test_retry_after_is_honoured_when_longer_and_capped_at_a_day():
    asked = judge(status_code=429, attempts_made=1, retry_after=timedelta(minutes=10))
    assert asked.retry_in == timedelta(minutes=10)
    shorter = judge(status_code=429, attempts_made=2, retry_after=timedelta(seconds=1), rng=random.Random(1))
    assert shorter.retry_in > timedelta(minutes=4)
    capped = judge(status_code=503, attempts_made=1, retry_after=timedelta(days=3))
    assert capped.retry_in == timedelta(hours=24)


def test_retry_after_in_seconds_or_as_a_date():
    assert parse_retry_after("120", now=NOW) == timedelta(seconds=120)
    assert parse_retry_after("Mon, 07 Dec 2026 12:05:00 GMT", now=NOW) == timedelta(minutes=5)
    assert parse_retry_after("Mon, 07 Dec 2026 11:00:00 GMT", now=NOW) == timedelta(0)
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after("99999999999", now=NOW) == timedelta(hours=24)
