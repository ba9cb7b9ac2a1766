"""Tags and segments in the admin: tags saved through their writer, a segment's definition
previewed (count, sample, who would enter and leave) before it is saved as a new version, and
every screen checked against the staff member's permissions."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from campaigns.models import Segment, Tag
from campaigns.services import save_segment
from campaigns.services.segments import compute_version
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_the_tag_list_shows_chips_and_how_many_carry_each(login_as, client):
    login_as("campaigns.view_tag")
    page = client.get(reverse("admin:campaigns_tag_changelist"))
    assert page.status_code == 200
    assert b"tag-chip" in page.content and b"dormant_90d" in page.content


def test_a_rule_tag_with_a_bad_definition_is_refused_on_the_form(login_as, client):
    login_as("campaigns.add_tag", "campaigns.view_tag")
    page = client.post(
        reverse("admin:campaigns_tag_add"),
        {
            "code": "bad",
            "name": "Bad",
            "group": "",
            "colour": "#123456",
            "kind": "rule",
            "definition": '{"tier": "nope"}',
        },
    )
    assert page.status_code == 200, page
    assert page.context["adminform"].form.errors == {"definition": ["Unknown tiers: nope."]}
    assert not Tag.objects.filter(code="bad").exists()


def test_a_new_segment_is_previewed_then_created_and_computed_by_the_workers(
    login_as, client, tiers, monkeypatch, django_capture_on_commit_callbacks
):
    gold = MemberFactory(tier=tiers["gold"])
    MemberFactory(tier=tiers["silver"])
    login_as("campaigns.add_segment", "campaigns.view_segment", "campaigns.change_segment")
    url = reverse("admin:campaigns_segment_definition_new")
    body = {"code": "gold-plus", "name": "Gold and up", "definition": json.dumps({"tier": {"at_least": "gold"}})}
    preview = client.post(url, {**body, "step": "preview"})
    assert preview.status_code == 200
    assert preview.context["preview"].count == 1 and preview.context["preview"].sample == [gold]
    assert not Segment.objects.exists(), "a preview saves nothing"

    bad = client.post(url, {**body, "definition": '{"tier": {"above": 1}}', "step": "preview"})
    assert bad.status_code == 200 and bad.context["form"].errors["definition"]

    dispatched = []
    monkeypatch.setattr("campaigns.admin.dispatch_computation", dispatched.append)
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(url, {**body, "step": "save"})
    segment = Segment.objects.get(code="gold-plus")
    version = segment.versions.get()
    assert saved.status_code == 302 and segment.current_version is None, "the page does not wait for the members"
    assert dispatched == [version.pk] and version.computing

    page = client.get(saved.url)
    assert b"segment-computation" in page.content and "Its members are being computed" in page.content.decode()
    assert client.get(reverse("admin:campaigns_segment_progress", args=[segment.pk])).json()["computing"] is True

    compute_version(version_id=version.pk)  # what the worker does
    segment.refresh_from_db()
    assert segment.current_version == version and version.members.get().member_id == gold.pk
    progress = client.get(reverse("admin:campaigns_segment_progress", args=[segment.pk])).json()
    assert progress == {
        "computing": False,
        "version": 1,
        "chunks_done": 1,
        "chunks_total": 1,
        "current_version": 1,
        "member_count": 1,
    }


def test_an_edit_previews_who_would_enter_and_leave(
    login_as, client, tiers, monkeypatch, django_capture_on_commit_callbacks
):
    gold = MemberFactory(tier=tiers["gold"])
    silver = MemberFactory(tier=tiers["silver"])
    segment = save_segment(code="gold", name="Gold", definition={"tier": "gold"})
    login_as("campaigns.change_segment", "campaigns.view_segment")
    url = reverse("admin:campaigns_segment_definition", args=[segment.pk])
    assert client.get(url).status_code == 200
    body = {"name": "Silver", "description": "", "definition": json.dumps({"tier": "silver"})}
    preview = client.post(url, {**body, "step": "preview"}).context["preview"]
    assert (preview.entering_sample, preview.leaving_sample) == ([silver], [gold])
    monkeypatch.setattr("campaigns.admin.dispatch_computation", lambda version_id: None)
    client.post(url, {**body, "step": "save"})
    segment.refresh_from_db()
    assert segment.current_version.number == 1 and segment.name == "Silver", "version 1 stays until 2 is computed"
    listed = client.get(reverse("admin:campaigns_segment_changelist")).content.decode()
    assert "computing version 2: 0 of" in listed

    dispatched = []
    monkeypatch.setattr("campaigns.admin.dispatch_computation", dispatched.append)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:campaigns_segment_changelist"), {"action": "refresh_now", "_selected_action": [segment.pk]}
        )
    assert dispatched == [segment.versions.get(number=2).pk], "recomputing a stopped computation resumes it"


def test_the_segment_list_and_its_refresh_action(login_as, client, tiers):
    member = MemberFactory(tier=tiers["gold"])
    segment = save_segment(code="gold", name="Gold", definition={"tier": "gold"})
    Member.objects.filter(pk=member.pk).update(tier=tiers["silver"])
    login_as("campaigns.view_segment")
    url = reverse("admin:campaigns_segment_changelist")
    listed = client.get(url)
    assert listed.status_code == 200 and "refresh_now" not in listed.context["cl"].model_admin.get_actions(
        listed.wsgi_request
    )
    assert client.get(reverse("admin:campaigns_segment_definition", args=[segment.pk])).status_code == 403

    login_as("campaigns.view_segment", "campaigns.change_segment", username="marketer")
    client.post(url, {"action": "refresh_now", "_selected_action": [segment.pk]})
    segment.refresh_from_db()
    assert segment.current_version.member_count == 0


def test_the_member_page_shows_their_tags_and_segments(login_as, client, tiers):
    from campaigns.services import tag_member

    member = MemberFactory(tier=tiers["gold"])
    Tag.objects.create(code="guest", name="Fair guest", colour="#0891b2")
    tag_member(member=member, tag="guest", source="manual")
    save_segment(code="gold", name="Gold members", definition={"tier": "gold"})
    login_as("members.view_member")
    page = client.get(reverse("admin:members_member_change", args=[member.pk])).content.decode()
    assert "Fair guest" in page and "background:#0891b2" in page and "Gold members" in page


def test_the_member_list_shows_tags_filters_by_tag_and_segment_and_tags_after_a_confirmation(login_as, client, tiers):
    from campaigns.models import MemberTag
    from campaigns.services import tag_member

    gold, silver = MemberFactory(tier=tiers["gold"]), MemberFactory(tier=tiers["silver"])
    Tag.objects.create(code="guest", name="Fair guest", colour="#0891b2")
    tag_member(member=gold, tag="guest", source="manual")
    save_segment(code="silver", name="Silver", definition={"tier": "silver"})
    url = reverse("admin:members_member_changelist")

    login_as("members.view_member")
    listed = client.get(url)
    assert "background:#0891b2" in listed.content.decode()
    assert "add_tag" not in listed.context["cl"].model_admin.get_actions(listed.wsgi_request)
    assert list(client.get(url, {"tag": "guest"}).context["cl"].result_list) == [gold]
    assert list(client.get(url, {"segment": "silver"}).context["cl"].result_list) == [silver]

    login_as("members.view_member", "campaigns.tag_members", username="tagger")
    selected = {"action": "add_tag", "_selected_action": [gold.pk, silver.pk]}
    asked = client.post(url, selected)
    assert asked.status_code == 200 and b"confirm-action-form" in asked.content
    assert MemberTag.objects.filter(tag__code="guest").count() == 1, "nothing before the confirmation"
    client.post(url, {**selected, "post": "yes", "tag": "guest"})
    assert MemberTag.objects.filter(tag__code="guest").count() == 2
    client.post(url, {"action": "remove_tag", "_selected_action": [gold.pk], "post": "yes", "tag": "guest"})
    assert list(MemberTag.objects.filter(tag__code="guest").values_list("member_id", flat=True)) == [silver.pk]


def test_tags_are_imported_from_a_csv_and_bad_lines_are_listed(login_as, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from campaigns.models import MemberTag

    alice, bob = MemberFactory(external_id="alice"), MemberFactory(external_id="bob")
    Tag.objects.create(code="guest", name="Fair guest")
    csv = (
        "external_id,tag,expires_at\n"
        "alice,guest,\n"
        "bob,guest,2099-01-31T23:59+08:00\n"
        "nobody,guest,\n"
        "alice,dormant_90d,\n"
        "bob,guest,next week\n"
    )
    url = reverse("admin:campaigns_tag_import")
    login_as("campaigns.view_tag")
    assert client.get(url).status_code == 403
    login_as("campaigns.view_tag", "campaigns.tag_members", username="importer")
    page = client.post(url, {"file": SimpleUploadedFile("tags.csv", csv.encode())})
    result = page.context["result"]
    assert (result.added, result.already) == (2, 0)
    assert [line for line, _ in result.problems] == [4, 5, 6]
    assert set(MemberTag.objects.filter(tag__code="guest").values_list("member_id", "source")) == {
        (alice.pk, "import"),
        (bob.pk, "import"),
    }


def test_everyone_in_a_segment_is_tagged_after_a_confirmation(login_as, client, tiers):
    from campaigns.models import MemberTag

    golds = {MemberFactory(tier=tiers["gold"]).pk for _ in range(3)}
    MemberFactory(tier=tiers["silver"])
    Tag.objects.create(code="guest", name="Fair guest")
    segment = save_segment(code="gold", name="Gold", definition={"tier": "gold"})
    login_as("campaigns.view_segment", "campaigns.tag_members")
    url = reverse("admin:campaigns_segment_changelist")
    selected = {"action": "tag_everyone", "_selected_action": [segment.pk]}
    assert b"confirm-action-form" in client.post(url, selected).content
    client.post(url, {**selected, "post": "yes", "tag": "guest"})
    assert set(MemberTag.objects.filter(tag__code="guest").values_list("member_id", flat=True)) == golds
