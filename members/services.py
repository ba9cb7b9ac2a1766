"""Enrolling members and changing their profile and status."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from loyalty.errors import InvalidInput, MemberExists, MemberNotFound
from loyalty.inputs import text_problem
from loyalty.models import Tier, TierChange
from loyalty.permissions import require_permission

from .models import Member
from .selectors import get_member, lock_member

PROFILE_FIELDS = ("name", "email", "phone", "birthday")
_MAX_LENGTHS = {"name": 200, "email": 254, "phone": 32}


def clean_profile(changes: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name in set(changes) - set(PROFILE_FIELDS):
        errors[name] = ["Unknown field."]
    for name in ("name", "email", "phone"):
        if name not in changes:
            continue
        value = changes[name]
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[name] = ["Must be a string."]
            continue
        if problem := text_problem(value):
            errors[name] = [problem]
            continue
        if len(value) > _MAX_LENGTHS[name]:
            errors[name] = [f"At most {_MAX_LENGTHS[name]} characters."]
            continue
        cleaned[name] = value.strip()
    if cleaned.get("email"):
        try:
            validate_email(cleaned["email"])
        except ValidationError:
            errors["email"] = ["Enter a valid email address."]
    if "birthday" in changes:
        cleaned["birthday"] = _birthday(changes["birthday"], errors)
    if errors:
        raise InvalidInput("The member's details are not valid.", fields=errors)
    return cleaned


def _birthday(value: Any, errors: dict) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        errors["birthday"] = ["Must be a date (YYYY-MM-DD)."]
        return None
    if isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = parse_date(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
    if parsed is None:
        errors["birthday"] = ["Must be a date (YYYY-MM-DD)."]
    elif parsed > timezone.now().date() or parsed.year < 1900:
        errors["birthday"] = ["Must be a past date after 1900."]
        return None
    return parsed


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
) -> Member:
    """Create a member on the lowest tier. `referrer` is the external_id of the member who invited them."""
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 64:
        raise InvalidInput("external_id is required.", fields={"external_id": ["A string of 1-64 characters."]})
    external_id = external_id.strip()
    if problem := text_problem(external_id):
        raise InvalidInput("external_id is not valid text.", fields={"external_id": [problem]})
    profile = clean_profile({"name": name, "email": email, "phone": phone, "birthday": birthday})
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
    return member


@transaction.atomic
def update_member(*, member: Member, changes: Mapping[str, Any], actor=None) -> Member:
    """Change profile fields (name, email, phone, birthday); other fields are refused. A staff
    `actor` needs members.change_member."""
    require_permission(actor, "members.change_member", "You may not change members' profiles.")
    cleaned = clean_profile(changes)
    member = lock_member(member_id=member.pk)
    for name, value in cleaned.items():
        setattr(member, name, value)
    member.save(update_fields=[*cleaned, "updated_at"])
    return member


def _set_status(member: Member, status: str, expected_from: tuple[str, ...]) -> Member:
    member = lock_member(member_id=member.pk)
    if member.status not in expected_from:
        raise InvalidInput(
            f"Member {member.external_id} is {member.status}; cannot become {status}.",
            fields={"status": [f"Currently {member.status}."]},
        )
    member.status = status
    member.save(update_fields=["status", "updated_at"])
    return member


FREEZE_REFUSED = "You may not freeze or unfreeze members."


@transaction.atomic
def freeze_member(*, member: Member, actor=None) -> Member:
    """A frozen member keeps its balances but cannot earn or spend until unfrozen. A staff `actor`
    needs members.freeze_member."""
    require_permission(actor, "members.freeze_member", FREEZE_REFUSED)
    return _set_status(member, Member.Status.FROZEN, (Member.Status.ACTIVE,))


@transaction.atomic
def unfreeze_member(*, member: Member, actor=None) -> Member:
    require_permission(actor, "members.freeze_member", FREEZE_REFUSED)
    return _set_status(member, Member.Status.ACTIVE, (Member.Status.FROZEN,))


@transaction.atomic
def close_member(*, member: Member) -> Member:
    return _set_status(member, Member.Status.CLOSED, (Member.Status.ACTIVE, Member.Status.FROZEN))
