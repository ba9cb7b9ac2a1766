"""loyalty_audit also proves the campaigns' derived state: segment counts against their
materialised members, and the tags members carry against their tag history."""

import pytest

from campaigns.models import MemberTag, SegmentVersion, Tag, TagChange
from campaigns.services import save_segment, tag_member, untag_member
from loyalty.audit import audit
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def checks() -> set[tuple[str, str]]:
    return {
        (finding.check, finding.subject) for finding in audit() if finding.check in ("segment count", "tag history")
    }


def test_counts_and_tag_histories_are_proven(program, tiers):
    members = [MemberFactory(tier=tiers["gold"]) for _ in range(3)]
    Tag.objects.create(code="guest", name="Guest")
    for member in members:
        tag_member(member=member, tag="guest", source="manual")
    untag_member(member=members[0], tag="guest", source="manual")
    save_segment(code="gold", name="Gold", definition={"tier": "gold"})
    assert checks() == set()

    SegmentVersion.objects.update(member_count=2)
    MemberTag.objects.filter(member=members[1], tag__code="guest").delete()
    TagChange.objects.filter(member=members[2], tag__code="guest").delete()
    assert checks() == {
        ("segment count", "gold v1"),
        ("tag history", members[1].external_id),
        ("tag history", members[2].external_id),
    }
