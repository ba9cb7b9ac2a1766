"""Tags on members and segments kept current: the services, their history and domain events, TTL
expiry, rule tags, versions pinned against edits, static and snapshot segments, and the nightly
job equal to the per-member check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns import definitions
from campaigns.errors import TagKeptByRule, UnknownTag
from campaigns.models import MemberTag, Segment, SegmentMember, Tag, TagChange
from campaigns.selectors import evaluation_context, member_facts, stored_rfm_cut
from campaigns.services import (
    freeze_segment,
    refresh_segment,
    save_segment,
    tag_member,
    tag_members,
    untag_member,
    upload_static_segment,
)
from campaigns.services import segments as segments_service
from campaigns.services.refresh import live_versions, pin_sources
from campaigns.services.segments import compute_version
from loyalty.services.jobs import run_job_now
from members.errors import InvalidInput, NotPermitted
from members.models import DomainEvent, Member
from tests.campaigns.population import AS_OF, DEFINITIONS
from tests.factories import MemberFactory
from tests.helpers import staff_with

pytestmark = pytest.mark.django_db


def events(member, prefix: str) -> list[tuple[str, dict]]:
    rows = DomainEvent.objects.filter(member=member, type__startswith=prefix).order_by("member_sequence")
    return [(row.type, row.payload) for row in rows]


@pytest.fixture
def vip(program):
    return Tag.objects.create(code="vip-event-2026", name="VIP event guest", api_writable=True, ttl_days=30)


def test_a_tag_is_added_once_with_its_history_and_event(vip):
    member = MemberFactory()
    staff = staff_with("campaigns.tag_members")
    row, added = tag_member(member=member, tag="vip-event-2026", source="manual", actor=staff, note="met at the fair")
    assert added and row.set_by == staff
    assert row.expires_at == pytest.approx(row.set_at + timedelta(days=30), abs=timedelta(seconds=1))
    again, added_again = tag_member(member=member, tag="vip-event-2026", source="api")
    assert (again.pk, added_again) == (row.pk, False)
    change = TagChange.objects.get()
    assert (change.action, change.source, change.reason, change.actor, change.note) == (
        "added",
        "manual",
        "set",
        staff,
        "met at the fair",
    )
    ((event_type, payload),) = events(member, "tag.")
    assert (event_type, payload["tag"], payload["source"]) == ("tag.added", "vip-event-2026", "manual")
    assert abs(parse_datetime(payload["expires_at"]) - row.expires_at) < timedelta(milliseconds=1)

    assert untag_member(member=member, tag="vip-event-2026", source="manual", actor=staff)
    assert not untag_member(member=member, tag="vip-event-2026", source="manual", actor=staff)
    assert not MemberTag.objects.exists()
    assert list(TagChange.objects.order_by("pk").values_list("action", flat=True)) == ["added", "removed"]
    assert [event_type for event_type, _ in events(member, "tag.")] == ["tag.added", "tag.removed"]


def test_who_may_set_which_tag(vip):
    member = MemberFactory()
    Tag.objects.create(code="staff-only", name="Staff only")
    with pytest.raises(NotPermitted):
        tag_member(member=member, tag="staff-only", source="api")
    with pytest.raises(NotPermitted):
        tag_member(member=member, tag="vip-event-2026", source="manual", actor=staff_with())
    with pytest.raises(UnknownTag):
        tag_member(member=member, tag="no-such-tag", source="manual")
    with pytest.raises(TagKeptByRule):
        tag_member(member=member, tag="dormant_90d", source="manual")
    Tag.objects.filter(code="staff-only").update(active=False)
    with pytest.raises(UnknownTag):
        tag_member(member=member, tag="staff-only", source="manual")
    with pytest.raises(InvalidInput):
        tag_member(member=member, tag="vip-event-2026", source="api", expires_at=timezone.now() - timedelta(days=1))
    assert not MemberTag.objects.exists() and not TagChange.objects.exists()


def test_expired_tags_are_gone_from_reads_at_once_and_removed_by_the_nightly_job(vip):
    member = MemberFactory()
    tag_member(member=member, tag="vip-event-2026", source="manual", expires_at=timezone.now() + timedelta(days=1))
    later = timezone.now() + timedelta(days=2)
    assert member_facts([member.pk], evaluation_context(later, cut=None))[0].tags == frozenset()
    run_job_now(job="refresh_segments", as_of=later)
    assert not MemberTag.objects.filter(tag=vip).exists()
    removed = TagChange.objects.get(action="removed", tag=vip)
    assert (removed.reason, removed.source) == ("expired", "manual")
    assert ("tag.removed", {"tag": "vip-event-2026", "reason": "expired"}) in events(member, "tag.")


def test_bulk_tagging_reports_unknown_ids_and_skips_members_who_have_it(vip):
    members = [MemberFactory() for _ in range(5)]
    tag_member(member=members[0], tag="vip-event-2026", source="manual")
    result = tag_members(
        external_ids=[m.external_id for m in members] + ["nobody"], tag="vip-event-2026", source="import", batch_size=2
    )
    assert (result.added, result.already, result.missing) == (4, 1, ["nobody"])
    assert MemberTag.objects.filter(tag=vip).count() == 5
    assert DomainEvent.objects.filter(type="tag.added").count() == 5


def test_rule_tags_follow_their_definition(program, tiers):
    Tag.objects.create(code="gold-plus", name="Gold and up", kind="rule", definition={"tier": {"at_least": "gold"}})
    gold = MemberFactory(tier=tiers["gold"])
    silver = MemberFactory(tier=tiers["silver"])
    run_job_now(job="refresh_segments", as_of=timezone.now())
    assert set(MemberTag.objects.filter(tag__code="gold-plus").values_list("member_id", flat=True)) == {gold.pk}
    assert MemberTag.objects.get(tag__code="gold-plus").source == "rule"
    Member.objects.filter(pk=gold.pk).update(tier=tiers["silver"])
    Member.objects.filter(pk=silver.pk).update(tier=tiers["platinum"])
    run_job_now(job="refresh_segments", as_of=timezone.now() + timedelta(days=1))
    assert set(MemberTag.objects.filter(tag__code="gold-plus").values_list("member_id", flat=True)) == {silver.pk}
    gold_plus = [event_type for event_type, payload in events(gold, "tag.") if payload["tag"] == "gold-plus"]
    assert gold_plus == ["tag.added", "tag.removed"]


def test_a_segment_naming_a_tag_follows_it_in_the_same_refresh(program, tiers, vip):
    """The tags a refresh writes (a rule's, an expiry) count for the segments it refreshes next."""
    Tag.objects.create(code="gold-plus", name="Gold and up", kind="rule", definition={"tier": {"at_least": "gold"}})
    gold = MemberFactory(tier=tiers["gold"])
    guest = MemberFactory(tier=tiers["silver"])
    tag_member(member=guest, tag=vip.code, source="manual", expires_at=timezone.now() + timedelta(hours=1))
    save_segment(code="tagged-gold", name="Tagged gold", definition={"tag": "gold-plus"})
    save_segment(code="no-guests", name="No guests", definition={"not": {"tag": vip.code}})
    assert members_of("tagged-gold") == set() and guest.pk not in members_of("no-guests")

    run_job_now(job="refresh_segments", as_of=timezone.now() + timedelta(days=1))
    assert members_of("tagged-gold") == {gold.pk}, "the rule tag written first, then the segment naming it"
    assert guest.pk in members_of("no-guests"), "the expired tag removed first, then the segment naming it"


def members_of(code: str) -> set[int]:
    segment = Segment.objects.select_related("current_version").get(code=code)
    return set(SegmentMember.objects.filter(version=segment.current_version).values_list("member_id", flat=True))


def test_a_segment_is_computed_on_save_and_an_edit_publishes_who_entered_and_left(program, tiers):
    gold = MemberFactory(tier=tiers["gold"])
    silver = MemberFactory(tier=tiers["silver"])
    staff = staff_with("campaigns.add_segment", "campaigns.change_segment")
    segment = save_segment(code="gold-plus", name="Gold and up", definition={"tier": {"at_least": "gold"}}, actor=staff)
    version = segment.current_version
    assert (version.number, version.member_count, members_of("gold-plus")) == (1, 1, {gold.pk})
    assert version.computed_at is not None and version.compute_ms is not None
    assert events(gold, "segment.") == [("segment.entered", {"segment": "gold-plus", "version": 1})]

    segment = save_segment(code="gold-plus", name="Silver and up", definition={"tier": {"at_least": "silver"}})
    assert segment.current_version.number == 2 and members_of("gold-plus") == {gold.pk, silver.pk}
    assert events(silver, "segment.") == [("segment.entered", {"segment": "gold-plus", "version": 2})]
    assert events(gold, "segment.") == [("segment.entered", {"segment": "gold-plus", "version": 1})], "no churn"
    same = save_segment(code="gold-plus", name="Silver+", definition={"tier": {"at_least": "silver"}})
    assert same.current_version.number == 2, "a rename is not a new version"

    with pytest.raises(NotPermitted):
        save_segment(code="other", name="Other", definition={"tier": "gold"}, actor=staff_with())
    with pytest.raises(InvalidInput):
        save_segment(code="other", name="Other", definition={"tier": "no-such-tier"})


def test_a_version_computed_in_the_background_resumes_where_it_stopped_and_never_replaces_a_newer_one(
    program, tiers, monkeypatch
):
    members = [MemberFactory(tier=tiers["gold"]) for _ in range(5)]
    silver = MemberFactory(tier=tiers["silver"])
    segment = save_segment(code="gold-plus", name="Gold and up", definition={"tier": {"at_least": "gold"}})
    segment = save_segment(
        code="gold-plus", name="Silver and up", definition={"tier": {"at_least": "silver"}}, compute=False
    )
    second = segment.versions.get(number=2)
    assert segment.current_version.number == 1 and second.computing and not second.members.exists()

    calls = []
    real = segments_service.refresh_scope

    def stopping_after_two_chunks(**kwargs):
        calls.append(kwargs["scope"])
        if len(calls) == 3:
            raise RuntimeError("the worker died")
        return real(**kwargs)

    monkeypatch.setattr(segments_service, "refresh_scope", stopping_after_two_chunks)
    with pytest.raises(RuntimeError):
        compute_version(version_id=second.pk, chunk_size=2)
    second.refresh_from_db()
    assert (second.computing, second.chunks_done, second.chunks_total) == (True, 2, 3)
    assert second.computed_through == calls[1].last_id
    monkeypatch.setattr(segments_service, "refresh_scope", real)

    compute_version(version_id=second.pk, chunk_size=2)  # resumed: the third chunk only
    second.refresh_from_db()
    segment.refresh_from_db()
    assert not second.computing and second.chunks_done == 3 and segment.current_version == second
    assert set(SegmentMember.objects.filter(version=second).values_list("member_id", flat=True)) == {
        *(m.pk for m in members),
        silver.pk,
    }
    assert events(silver, "segment.") == [("segment.entered", {"segment": "gold-plus", "version": 2})], "once"
    assert events(members[0], "segment.") == [("segment.entered", {"segment": "gold-plus", "version": 1})], (
        "version 2 started from the members of version 1: they did not enter again"
    )
    assert compute_version(version_id=second.pk) == second, "a computed version is left alone"

    # An edit while a version is still being computed abandons it: it never replaces the newer one.
    third = save_segment(code="gold-plus", name="Gold", definition={"tier": "gold"}, compute=False)
    third = third.versions.get(number=3)
    fourth = save_segment(code="gold-plus", name="Diamond", definition={"tier": "diamond"}).current_version
    assert fourth.number == 4
    third.refresh_from_db()
    assert not third.computing
    compute_version(version_id=third.pk)
    assert Segment.objects.get(code="gold-plus").current_version == fourth


def test_a_version_being_computed_follows_the_members_who_change(program, tiers, monkeypatch):
    gold = MemberFactory(tier=tiers["gold"])
    segment = save_segment(code="gold", name="Gold", definition={"tier": "gold"})
    segment = save_segment(code="gold", name="Gold+", definition={"tier": {"at_least": "gold"}}, compute=False)
    second = segment.versions.get(number=2)
    assert second not in live_versions(), "not before it starts from version 1's members"

    def dying(**kwargs):
        raise RuntimeError("the worker died")

    with monkeypatch.context() as patched:
        patched.setattr(segments_service, "refresh_scope", dying)
        with pytest.raises(RuntimeError):
            compute_version(version_id=second.pk)
    assert second in live_versions()
    Member.objects.filter(pk=gold.pk).update(tier=tiers["silver"])
    run_job_now(job="refresh_segments", as_of=timezone.now())
    second.refresh_from_db()
    assert second.computing and second.member_count == 0, "gold left it, and it is still to be computed"


def test_a_pinned_version_keeps_its_audience_when_the_definition_changes(program, tiers):
    gold = MemberFactory(tier=tiers["gold"])
    silver = MemberFactory(tier=tiers["silver"])
    first = save_segment(
        code="gold-plus", name="Gold and up", definition={"tier": {"at_least": "gold"}}
    ).current_version
    pin_sources.register("a running campaign", lambda: [first.pk])
    try:
        save_segment(code="gold-plus", name="Silver and up", definition={"tier": {"at_least": "silver"}})
        Member.objects.filter(pk=silver.pk).update(tier=tiers["diamond"])
        Member.objects.filter(pk=gold.pk).update(tier=tiers["normal"])
        run_job_now(job="refresh_segments", as_of=timezone.now())
        first.refresh_from_db()
        pinned = set(SegmentMember.objects.filter(version=first).values_list("member_id", flat=True))
        assert pinned == {silver.pk} and first.member_count == 1, "version 1 still means gold and up"
        assert members_of("gold-plus") == {silver.pk}
    finally:
        pin_sources.unregister("a running campaign")


def test_static_and_snapshot_segments(program, tiers):
    members = [MemberFactory(tier=tiers["gold"]) for _ in range(3)]
    segment, missing = upload_static_segment(
        code="fair-guests", name="Fair guests", external_ids=[members[0].external_id, members[1].external_id, "nobody"]
    )
    assert missing == ["nobody"] and members_of("fair-guests") == {members[0].pk, members[1].pk}
    upload_static_segment(
        code="fair-guests", name="Fair guests", external_ids=[members[1].external_id, members[2].external_id]
    )
    assert members_of("fair-guests") == {members[1].pk, members[2].pk}
    assert [t for t, _ in events(members[0], "segment.")] == ["segment.entered", "segment.left"]

    source = save_segment(code="gold", name="Gold", definition={"tier": "gold"})
    snapshot = freeze_segment(segment=source, code="gold-dec", name="Gold in December")
    Member.objects.filter(pk=members[0].pk).update(tier=tiers["silver"])
    version, changes = refresh_segment(code="gold")
    assert (changes.left, version.member_count) == ({"segment:gold": 1}, 2)
    run_job_now(job="refresh_segments", as_of=timezone.now())
    assert members_of("gold") == {members[1].pk, members[2].pk}
    assert members_of("gold-dec") == {m.pk for m in members}, "a snapshot is never recomputed"
    assert snapshot.current_version.member_count == 3


def test_the_nightly_job_equals_the_per_member_check(population):
    """The refresh job over id-range chunks gives each rule tag and segment exactly the members the
    per-member check selects (the seeded population of test_definitions)."""
    for index, definition in enumerate(DEFINITIONS[:12]):
        save_segment(code=f"s-{index}", name=f"S {index}", definition=definition, as_of=AS_OF)
    Tag.objects.create(code="r", name="R", kind="rule", definition=DEFINITIONS[21])
    run_job_now(job="refresh_segments", as_of=AS_OF, chunk_size=17)
    context = evaluation_context(AS_OF, cut=stored_rfm_cut())
    facts = [f for f in member_facts(population, context) if f.status != Member.Status.CLOSED]
    for index, definition in enumerate(DEFINITIONS[:12]):
        node = definitions.parse(definition)
        assert members_of(f"s-{index}") == {f.id for f in facts if definitions.holds(node, f, context)}, definition
    node = definitions.parse(DEFINITIONS[21])
    carried = set(MemberTag.objects.filter(tag__code="r").values_list("member_id", flat=True))
    assert carried == {f.id for f in facts if definitions.holds(node, f, context)}


def test_tags_are_configured_through_their_writer(program):
    from loyalty.services.configuration import writer_for

    writer = writer_for(Tag)
    with pytest.raises(InvalidInput) as refused:
        writer.save(Tag(code="bad", name="Bad", kind="rule", definition={"tier": "no-such-tier"}), actor=None)
    assert "definition" in refused.value.fields
    with pytest.raises(InvalidInput):
        writer.save(Tag(code="bad", name="Bad", kind="manual", definition={"tier": "gold"}), actor=None)
    with pytest.raises(InvalidInput):
        writer.save(Tag(code="bad", name="Bad", colour="red"), actor=None)
    saved = writer.save(Tag(code="good", name="Good", kind="rule", definition={"tier": "gold"}), actor=None)
    assert saved.created and Tag.objects.filter(code="good").exists()


def test_refresh_segments_prints_what_changed_and_a_dry_run_writes_nothing(program, tiers):
    from io import StringIO

    from django.core.management import CommandError, call_command

    gold = MemberFactory(tier=tiers["gold"])
    save_segment(code="gold", name="Gold", definition={"tier": "gold"})
    Member.objects.filter(pk=gold.pk).update(tier=tiers["silver"])
    silver = MemberFactory(tier=tiers["gold"])

    out = StringIO()
    call_command("refresh_segments", "--segment", "gold", "--dry-run", stdout=out)
    assert "segment gold: 1 entered, 1 left" in out.getvalue() and "Dry run" in out.getvalue()
    assert members_of("gold") == {gold.pk}

    out = StringIO()
    call_command("refresh_segments", "--as-of", "2026-12-07T06:00+08:00", stdout=out)
    assert "segment gold: 1 entered, 1 left" in out.getvalue() and "tag new_30d" in out.getvalue()
    assert members_of("gold") == {silver.pk}
    with pytest.raises(CommandError):
        call_command("refresh_segments", "--segment", "nope", stdout=StringIO())
