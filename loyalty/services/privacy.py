"""Anonymising a member: what the program keeps of a person, erased on request, while the ledgers,
the amounts and the audit stay whole."""

from __future__ import annotations

from django.db import transaction

from loyalty import extensions
from loyalty.models import Event
from members.models import Member
from members.permissions import require_permission
from members.services import erase_profile


@transaction.atomic
def anonymise_member(*, member: Member, reason: str, actor=None) -> Member:
    """Close the membership (if still open) and erase the member's personal data: the profile and
    the notes' text (members.services.erase_profile), then every registered app's copy
    (extensions.personal_data_erasers). One transaction: nothing is half-erased. A staff `actor`
    needs members.anonymise_member and gives a reason, kept with who and when."""
    require_permission(actor, "members.anonymise_member", "You may not erase members' personal data.")
    member = erase_profile(member=member, reason=reason, actor=actor)
    for erase in extensions.personal_data_erasers:
        erase(member)
    return member


def erase_event_data(member: Member) -> None:
    """The free-form `data` storefronts sent with the member's events may hold anything about them."""
    Event.objects.filter(member=member).exclude(data={}).update(data={})


def register() -> None:
    extensions.personal_data_erasers.register("event data", erase_event_data)
