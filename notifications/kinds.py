"""The kinds of notification: which domain event each tells of, whether it is marketing, and what
it keeps of the event to be written later. A new kind (paid membership's renewal reminder) is a
`register` call here, two templates, and a job or event that makes it; it starts off in a program's
settings until turned on.

Transactional kinds tell the member about their account (a tier moved, a coupon arrived, goods
shipped) and go out whenever they happen. Marketing kinds nudge (a tier about to be lost, points or
a coupon about to expire): only to members who opted in, never in quiet hours, at most the daily cap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from loyalty.extensions import Registry

CHANNEL_CHOICES = (("email", _("email")), ("message", _("message")))


def every_event(payload: Mapping[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class Kind:
    label: Any  # lazily translated
    event_type: str  # the domain event that makes it
    marketing: bool
    template: str  # notifications/email/<language>/<template>.txt: the subject line, a blank line, the text
    keeps: tuple[str, ...]  # the event's payload fields it keeps (`params`)
    applies: Callable[[Mapping[str, Any]], bool] = every_event
    applies_sql: str = ""  # the same condition on the event `e` in SQL, for the set-based subscriber

    def __post_init__(self) -> None:
        # The set-based subscriber writes the kept names into its SQL, and needs `applies` as SQL too.
        if not all(name.isidentifier() for name in self.keeps):
            raise ValueError(f"A kind keeps payload fields by plain names: {self.keeps!r}")
        if self.applies is not every_event and not self.applies_sql:
            raise ValueError("A kind that applies to some events only says so in SQL too (applies_sql).")

    def params(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return {name: payload.get(name) for name in self.keeps}


kinds: Registry[Kind] = Registry("notification kind")


def register(code: str, kind: Kind, *, order: int = 100) -> None:
    kinds.register(code, kind, order=order)


def kind_codes() -> list[str]:
    return kinds.names()


def kind_choices() -> list[tuple[str, Any]]:
    """The kinds as the settings' checkboxes show them, the marketing ones marked."""
    return [
        (code, format_lazy("{} ({})", kind.label, _("marketing")) if kind.marketing else kind.label)
        for code, kind in kinds.items()
    ]


register(
    "tier.upgraded",
    Kind(_("Tier upgraded"), "tier.upgraded", False, "tier_upgraded", ("from", "to")),
    order=10,
)
register(
    "tier.downgraded",
    Kind(_("Tier downgraded"), "tier.downgraded", False, "tier_downgraded", ("from", "to")),
    order=20,
)
register(
    "tier.at_risk",
    Kind(_("Tier at risk"), "tier.at_risk", True, "tier_at_risk", ("tier", "to", "on", "growth_needed")),
    order=30,
)
register(
    "points.expiring",
    Kind(_("Points expiring"), "points.expiring", True, "points_expiring", ("points", "lots")),
    order=40,
)
register(
    "coupon.issued",
    Kind(
        _("Coupon issued"),
        "coupon.issued",
        False,
        "coupon_issued",
        ("coupon_id", "template", "kind", "value", "valid_until"),
    ),
    order=50,
)
register(
    "coupon.expiring",
    Kind(
        _("Coupon expiring"),
        "coupon.expiring",
        True,
        "coupon_expiring",
        ("coupon_id", "template", "kind", "value", "valid_until"),
    ),
    order=60,
)
register(
    "redemption.shipped",
    Kind(
        _("Redemption shipped"),
        "redemption.fulfilment_changed",
        False,
        "redemption_shipped",
        ("redemption_id", "carrier", "tracking_number"),
        applies=lambda payload: payload.get("to") == "shipped",
        applies_sql="AND e.payload ->> 'to' = 'shipped'",
    ),
    order=70,
)
