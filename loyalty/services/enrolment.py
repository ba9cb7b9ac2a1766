"""Enrolling a member: the member row, on the program's lowest tier, with its first tier change."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.models import Tier, TierChange
from members.errors import InvalidInput, MemberExists, MemberNotFound
from members.inputs import text_problem
from members.models import Member
from members.outbox import publish
from members.selectors import get_member
from members.services import clean_profile


@transaction.atomic
def enrol_member(
    *,
    external_id: Any,
    name: str = "",
    email: str = "",
    phone: str = "",
    birthday: date | str | None = None,
    referrer: str | None = None,
    joined_at: datetime | None = None,
    language: str = "",
    marketing_opt_in: bool = False,
) -> Member:
    """Create a member on the lowest tier. `referrer` is the external_id of the member who invited them."""
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 64:
        raise InvalidInput("external_id is required.", fields={"external_id": ["A string of 1-64 characters."]})
    external_id = external_id.strip()
    if problem := text_problem(external_id):
        raise InvalidInput("external_id is not valid text.", fields={"external_id": [problem]})
    profile = clean_profile(
        {
            "name": name,
            "email": email,
            "phone": phone,
            "birthday": birthday,
            "language": language,
            "marketing_opt_in": marketing_opt_in,
        }
    )
    referrer_member = None
    if referrer not in (None, ""):
        if not isinstance(referrer, str) or text_problem(referrer):
            raise InvalidInput("referrer must be a member's external_id.", fields={"referrer": ["Must be a string."]})
        try:
            referrer_member = get_member(external_id=referrer)
        except MemberNotFound:
            raise InvalidInput(
                f"No member with external_id {referrer!r} to be the referrer.", fields={"referrer": ["Unknown member."]}
            ) from None
    if Member.objects.filter(external_id=external_id).exists():
        raise MemberExists(f"A member with external_id {external_id!r} already exists.")
    lowest = Tier.objects.order_by("rank").first()
    if lowest is None:
        raise InvalidInput("The program has no tiers; import a program file first.")
    joined = joined_at or timezone.now()
    try:
        with transaction.atomic():
            member = Member.objects.create(
                external_id=external_id,
                referrer=referrer_member,
                tier=lowest,
                tier_since=joined,
                joined_at=joined,
                marketing_opt_in_changed_at=joined if profile["marketing_opt_in"] else None,
                **profile,
            )
    except IntegrityError:
        raise MemberExists(f"A member with external_id {external_id!r} already exists.") from None
    TierChange.objects.create(
        member=member,
        from_tier=None,
        to_tier=lowest,
        reason=TierChange.Reason.ENROLMENT,
        growth_value=0,
        created_at=joined,
    )
    publish(
        "member.enrolled",
        member=member,
        payload={"tier": lowest.code, "referrer": referrer_member.external_id if referrer_member else None},
        occurred_at=joined,
    )
    return member
