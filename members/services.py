"""Changing a member's profile and status (enrolling, which puts the member on the program's lowest
tier, is the engine's: loyalty.services.enrol_member)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from members.errors import InvalidInput, MemberClosed
from members.inputs import text_problem
from members.permissions import require_permission

from .models import Member, MemberNote
from .outbox import publish
from .selectors import lock_member

PROFILE_FIELDS = ("name", "email", "phone", "birthday", "language", "marketing_opt_in")
LANGUAGE_CODES = tuple(code for code, _name in settings.LANGUAGES)
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
    if "language" in changes:
        language = changes["language"] if changes["language"] is not None else ""
        if language not in ("", *LANGUAGE_CODES):
            errors["language"] = [f"One of: {', '.join(LANGUAGE_CODES)} (or blank for the program's)."]
        else:
            cleaned["language"] = language
    if "marketing_opt_in" in changes:
        if not isinstance(changes["marketing_opt_in"], bool):
            errors["marketing_opt_in"] = ["Must be true or false."]
        else:
            cleaned["marketing_opt_in"] = changes["marketing_opt_in"]
    if errors:
        raise InvalidInput("The member's details are not valid.", fields=errors)
    return cleaned


def _birthday(value: Any, errors: dict) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        errors["birthday"] = ["Must be a date (YYYY-MM-DD)."]
        return None
    parsed: date | None
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
def update_member(*, member: Member, changes: Mapping[str, Any], actor=None) -> Member:
    """Change profile fields (name, email, phone, birthday, language, marketing consent); other
    fields are refused, and so is any
    personal data for a member whose personal data was erased. A staff `actor` needs
    members.change_member."""
    require_permission(actor, "members.change_member", "You may not change members' profiles.")
    cleaned = clean_profile(changes)
    member = lock_member(member_id=member.pk)
    if member.anonymised_at is not None and any(cleaned.values()):
        raise MemberClosed(f"Member {member.external_id} is closed and their personal data was erased.")
    changed = sorted(name for name, value in cleaned.items() if getattr(member, name) != value)
    for name, value in cleaned.items():
        setattr(member, name, value)
    written = [*cleaned, "updated_at"]
    if "marketing_opt_in" in changed:
        member.marketing_opt_in_changed_at = timezone.now()
        written.append("marketing_opt_in_changed_at")
    member.save(update_fields=written)
    if changed:  # the names only: a profile's values are personal data
        publish("member.updated", member=member, payload={"fields": changed})
    return member


def _set_status(member: Member, status: str, expected_from: tuple[str, ...]) -> Member:
    member = lock_member(member_id=member.pk)
    if member.status not in expected_from:
        raise InvalidInput(
            f"Member {member.external_id} is {member.status}; cannot become {status}.",
            fields={"status": [f"Currently {member.status}."]},
        )
    was, member.status = member.status, status
    member.save(update_fields=["status", "updated_at"])
    publish("member.status_changed", member=member, payload={"from": was, "to": status})
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


NOTE_MAX_LENGTH = 2000


@transaction.atomic
def close_member(*, member: Member, reason: str = "", actor=None) -> Member:
    """A closed member keeps their ledgers but can never earn, spend or be reopened. A staff `actor`
    needs members.close_member and gives a reason, kept as the member's note of the closing."""
    require_permission(actor, "members.close_member", "You may not close memberships.")
    reason = _note_text(reason, "reason", required=actor is not None)
    member = _set_status(member, Member.Status.CLOSED, (Member.Status.ACTIVE, Member.Status.FROZEN))
    MemberNote.objects.create(member=member, kind=MemberNote.Kind.CLOSED, text=reason, author=actor)
    return member


@transaction.atomic
def add_member_note(*, member: Member, text: str, actor) -> MemberNote:
    """A note staff keep on a member (what the customer asked, what was promised). Needs
    members.add_membernote."""
    require_permission(actor, "members.add_membernote", "You may not write notes on members.")
    member = lock_member(member_id=member.pk)
    if member.anonymised_at is not None:
        raise InvalidInput("This member's personal data was erased: no new notes.", fields={"text": ["Erased."]})
    return MemberNote.objects.create(member=member, text=_note_text(text, "text", required=True), author=actor)


@transaction.atomic
def erase_profile(*, member: Member, reason: str, actor) -> Member:
    """The members' part of anonymising (loyalty.services.privacy.anonymise_member, which holds the
    transaction and the permission): the member closed if not yet, their name, email, phone and
    birthday and the text of the notes about them erased, and a note of the erasure with who did it
    and why. Ledgers and the external id (the storefront's key for the member) are kept."""
    reason = _note_text(reason, "reason", required=actor is not None)
    member = lock_member(member_id=member.pk)
    if member.anonymised_at is not None:
        raise InvalidInput(f"Member {member.external_id} is anonymised already.", fields={"member": ["Anonymised."]})
    if member.status != Member.Status.CLOSED:
        member = _set_status(member, Member.Status.CLOSED, (Member.Status.ACTIVE, Member.Status.FROZEN))
    member.name, member.email, member.phone, member.birthday = "", "", "", None
    member.language, member.marketing_opt_in = "", False
    member.anonymised_at = timezone.now()
    member.save(update_fields=[*PROFILE_FIELDS, "anonymised_at", "updated_at"])
    member.notes.update(text="")
    MemberNote.objects.create(member=member, kind=MemberNote.Kind.ANONYMISED, text=reason, author=actor)
    publish("member.anonymised", member=member, payload={})
    return member


def _note_text(value: Any, field: str, *, required: bool) -> str:
    text = str(value or "").strip()
    problem = text_problem(text) or (f"At most {NOTE_MAX_LENGTH} characters." if len(text) > NOTE_MAX_LENGTH else None)
    if problem is None and required and not text:
        problem = "Required."
    if problem:
        raise InvalidInput(f"The {field} is not valid.", fields={field: [problem]})
    return text
