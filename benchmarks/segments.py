"""Tags and segments at a million members (issue 18): one typical segment recomputed, the nightly
refresh of the shipped rule tags and 10 segments, and the member list filtered by a tag and by a
segment, each against a naive per-member loop (the per-member check over each member's facts) on a
sample, in the same run. Writes the `segments` section of docs/benchmarks.md.

The data is the monthly run's (benchmarks/monthly_data.py, cloned with --reuse-data), given what
segments read: birthdays, last activity, one to five purchases a member over the last year (three
on average; a return for one member in ten), last purchases, and the stored RFM (the store_member_rfm job).

    .venv/bin/python benchmarks/segments.py --members 1000000 --sample 2000 --reuse-data
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import (  # noqa: E402
    clone_database,
    database_exists,
    fresh_database,
    keep_database,
    setup_django,
    write_section,
)

TYPICAL = ("win-back", {"all": [{"days_since_last_purchase": {"gte": 60}}, {"tier": {"at_least": "silver"}}]})
SEGMENTS = [
    TYPICAL,
    ("gold-plus", {"tier": {"at_least": "gold"}}),
    ("rich-in-points", {"points_available": {"gte": 1000}}),
    ("regulars", {"purchases_in_days": {"days": 90, "count": {"gte": 2}}}),
    ("big-spenders", {"purchases_in_days": {"days": 365, "amount": {"gte": "1000"}}}),
    ("birthday-next-30", {"birthday_within_days": 30}),
    ("champions", {"rfm_quadrant": "high_spend_high_frequency"}),
    ("lapsing", {"all": [{"days_since_last_activity": {"gte": 30}}, {"not": {"tag": "dormant_90d"}}]}),
    ("returners", {"returns_in_days": {"days": 365, "count": {"gte": 1}}}),
    ("silver-or-bronze", {"any": [{"tier": "silver"}, {"tier": "bronze"}]}),
]


def augment(members: int) -> float:
    """What segments read and the monthly data lacks; returns the seconds it took."""
    from django.db import connection

    from loyalty.models import Tier

    lowest = Tier.objects.order_by("rank").first().pk
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO loyalty_event (source, event_id, member_id, event_type_id, occurred_at, amount, order_id,
                                          original_order_id, data, fingerprint, growth_delta, points_delta,
                                          tier_after_id, tier_changed, recorded_at)
               SELECT 'bench', 'p' || m || '-' || k, m, 'purchase',
                      now() - ((m * 7919 + k * 104729) %% 365) * interval '1 day' - (m %% 1440) * interval '1 minute',
                      ((m * k * 7) %% 600) + 9.90, 'o' || m || '-' || k, '', '{}', 'bench', 0, 0, %s, false, now()
               FROM generate_series(1::bigint, %s::bigint) AS m, generate_series(1, 5) AS k
               WHERE k <= 1 + (m * 7) %% 5""",
            [lowest, members],
        )
        cursor.execute(
            """INSERT INTO loyalty_event (source, event_id, member_id, event_type_id, occurred_at, amount, order_id,
                                          original_order_id, data, fingerprint, growth_delta, points_delta,
                                          tier_after_id, tier_changed, recorded_at)
               SELECT 'bench', 'r' || m, m, 'return', now() - ((m * 37) %% 300) * interval '1 day', 5, '',
                      'o' || m || '-1', '{}', 'bench', 0, 0, %s, false, now()
               FROM generate_series(10, %s, 10) AS m""",
            [lowest, members],
        )
        cursor.execute(
            """UPDATE members_member AS m
               SET birthday = DATE '1960-01-01' + ((m.id * 7919) %% 16000)::int,
                   last_activity_at = now() - ((m.id * 13) %% 200) * interval '1 day',
                   last_purchase_at = p.last, purchase_count = p.n, purchase_amount = p.spent
               FROM (SELECT member_id, MAX(occurred_at) AS last, COUNT(*) AS n, SUM(amount) AS spent
                     FROM loyalty_event WHERE event_type_id = 'purchase' GROUP BY member_id) AS p
               WHERE p.member_id = m.id""",
            [],
        )
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def best_page(client, url: str, tries: int = 3) -> float:
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--reuse-data", action="store_true", help="clone the monthly run's kept data (see there)")
    args = parser.parse_args()

    template = f"loyalty_bench_jobs_data_{args.members}"
    kept = args.reuse_data and database_exists(template)
    if kept:
        clone_database(template, "loyalty_bench_segments")
    else:
        fresh_database("loyalty_bench_segments")
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not kept:
        from benchmarks.monthly_data import generate

        generate(args.members)
        if args.reuse_data:
            from django.db import connection

            connection.close()
            keep_database("loyalty_bench_segments", template, comment="0")
    import random
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from campaigns import definitions, selectors
    from campaigns.models import Segment, Tag
    from campaigns.selectors import evaluation_context, member_facts, stored_rfm_cut
    from campaigns.services import refresh_segment, save_segment
    from campaigns.services.segments import compute_version
    from loyalty.models import Event
    from loyalty.services.jobs import run_job_now
    from members.models import Member

    print(f"Data: {'cloned from ' + template if kept else 'generated'}; augmenting...", flush=True)
    augmenting = augment(args.members)
    rfm_seconds, _ = timed(run_job_now, job="store_member_rfm")
    print(f"  {augmenting:.0f} s; stored RFM in {rfm_seconds:.0f} s", flush=True)

    code, definition = TYPICAL
    first, segment = timed(save_segment, code=code, name=code, definition=definition)
    typical_members = segment.current.member_count
    again, _ = timed(refresh_segment, code=code)
    print(f"  typical segment: first compute {first:.1f} s, recompute {again:.1f} s", flush=True)
    creating, _ = timed(
        lambda: [save_segment(code=c, name=c, definition=d) for c, d in SEGMENTS[1:]],
    )
    counts = {s.code: s.current.member_count for s in Segment.objects.select_related("current_version")}
    tomorrow = timezone.now() + timedelta(days=1)
    first_night, run = timed(run_job_now, job="refresh_segments", as_of=tomorrow)
    second_night, run2 = timed(run_job_now, job="refresh_segments", as_of=tomorrow + timedelta(days=1))
    print(f"  nightly: first {first_night:.1f} s, second {second_night:.1f} s", flush=True)
    edited = {"all": [{"days_since_last_purchase": {"gte": 45}}, {"tier": {"at_least": "silver"}}]}
    saving, _ = timed(save_segment, code=code, name=code, definition=edited, compute=False)
    version = selectors.version_in_computation(Segment.objects.get(code=code))
    computing, _ = timed(compute_version, version_id=version.pk)
    version.refresh_from_db()
    edit_entered = version.member_count - typical_members
    print(f"  edit: saved in {saving:.2f} s, computed in {computing:.1f} s", flush=True)

    staff = get_user_model().objects.create_superuser("bench-admin", "", "x")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    listing = "/admin/members/member/"
    pages = {
        "unfiltered": best_page(client, listing),
        "tag high_value": best_page(client, f"{listing}?tag=high_value"),
        f"segment {code}": best_page(client, f"{listing}?segment={code}"),
    }
    print(f"  member list: {pages}", flush=True)

    ids = random.Random(7).sample(list(Member.objects.values_list("pk", flat=True)), args.sample)
    context = evaluation_context(tomorrow, cut=stored_rfm_cut())
    trees = [definitions.parse(d) for _, d in SEGMENTS] + [
        definitions.parse(tag.definition) for tag in Tag.objects.filter(kind=Tag.Kind.RULE, active=True)
    ]
    naive_typical, _ = timed(lambda: [definitions.holds(trees[0], f, context) for f in member_facts(ids, context)])
    naive_all, _ = timed(
        lambda: [definitions.holds(tree, f, context) for f in member_facts(ids, context) for tree in trees]
    )
    scale = args.members / args.sample
    purchases = Event.objects.filter(event_type_id="purchase").count()
    command = f"benchmarks/segments.py --members {args.members} --sample {args.sample}"
    command += " --reuse-data" if args.reuse_data else ""
    sizes = ", ".join(f"{c} {n:,}" for c, n in sorted(counts.items()))
    source = "cloned" if kept else "generated"
    rows = [
        (f"one typical segment (`{code}`: {typical_members:,} members), first computation", f"{first:.1f} s", "", ""),
        (
            "the same segment recomputed (nobody moved)",
            f"**{again:.1f} s**",
            "<= 10 s",
            f"{naive_typical * scale:,.0f} s",
        ),
        ("the nightly refresh, 5 rule tags and 10 segments, first night", f"{first_night:.1f} s", "", ""),
        (
            "the nightly refresh, the night after",
            f"**{second_night:.1f} s**",
            "<= 120 s",
            f"{naive_all * scale:,.0f} s",
        ),
        (
            f"an edit of `{code}` saved in the admin (60 → 45 days; the computation handed to the workers)",
            f"{saving:.2f} s",
            "",
            "",
        ),
        (f"that edit's version computed ({edit_entered:,} entered)", f"{computing:.1f} s", "", ""),
        ("the member list, unfiltered", f"{pages['unfiltered']:.2f} s", "", ""),
        ("the member list filtered by tag `high_value`", f"**{pages['tag high_value']:.2f} s**", "< 1 s", ""),
        (f"the member list filtered by segment `{code}`", f"**{pages[f'segment {code}']:.2f} s**", "< 1 s", ""),
    ]
    table = "\n".join(f"| {what} | {took} | {target} | {naive} |" for what, took, target, naive in rows)
    body = f"""Command: `.venv/bin/python {command}`

Data: {args.members:,} members (the monthly run's, {source}), given birthdays, last activity,
{purchases:,} purchases and {args.members // 10:,} returns over the last year ({augmenting:.0f} s),
and the stored RFM ({rfm_seconds:.0f} s). Everything in one process, one chunk after another (the
job's Celery workers would share the chunks out). First computations make every member enter.

| what | time | target | naive per-member loop, extrapolated from {args.sample:,} members |
|---|---|---|---|
{table}

Creating the other 9 segments (each computed as it is saved): {creating:.0f} s. Segment sizes: {sizes}.
Job runs: first night {run.members_changed:,} changes, second {run2.members_changed:,}.
"""
    write_section("segments", body)
    print(body)


if __name__ == "__main__":
    main()
