"""Writing a notification in the member's language: the subject and text from
notifications/email/<language>/<kind>.txt (the first line is the subject), the HTML part from one
layout, and for marketing kinds the unsubscribe link and the one-click List-Unsubscribe headers
(RFC 8058) that mail providers show as "Unsubscribe".

Sent as an Anymail message: with django-anymail's backend for a provider (settings: ANYMAIL_ESP)
the kind becomes a tag and the notification's id metadata; any other backend (SMTP) ignores them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from anymail.message import AnymailMessage
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime

from loyalty.config import current_config
from loyalty.models import Tier
from loyalty.names import display_name
from members.models import Member
from rewards.models import CouponTemplate

from .kinds import kinds


def message_text(notification, member: Member | None, config) -> tuple[str, str]:
    """(subject, text) of `notification` in its language, greeting `member` by name (None: no one,
    for the messaging service's copy, which holds no personal data)."""
    language = notification.language or config.default_language
    with translation.override(language), timezone.override(current_config().settings.zone):
        context = {"member": member, **_CONTEXTS.get(notification.kind, _plain)(notification.params)}
        rendered = render_to_string(f"notifications/email/{language}/{kinds[notification.kind].template}.txt", context)
    subject, _blank, text = rendered.strip().partition("\n")
    return subject.strip(), text.strip()


def compose(notification, member: Member, config) -> AnymailMessage:
    subject, text = message_text(notification, member, config)
    language = notification.language or config.default_language
    unsubscribe = None
    headers = {}
    if notification.marketing:
        from .services import unsubscribe_url  # services imports this module

        unsubscribe = unsubscribe_url(member)
        headers = {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    with translation.override(language):
        footer = render_to_string("notifications/email/footer.txt", {"unsubscribe_url": unsubscribe}).strip()
        html = render_to_string(
            "notifications/email/message.html",
            {"subject": subject, "text": text, "unsubscribe_url": unsubscribe, "language": language},
        )
    message = AnymailMessage(
        subject=subject,
        body=f"{text}\n\n{footer}" if footer else text,
        to=[member.email],
        from_email=settings.DEFAULT_FROM_EMAIL,
        headers=headers,
        tags=[notification.kind],
        metadata={"notification_id": str(notification.pk)},
    )
    message.attach_alternative(html, "text/html")
    return message


# --- each kind's words ---------------------------------------------------------------------------


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return dict(params)


def _tier_names(params: Mapping[str, Any], *fields: str) -> dict[str, str]:
    """The tiers the codes in `fields` of `params` name, as members read them (a code no longer
    in the ladder stays a code)."""
    codes = [str(params.get(name) or "") for name in fields]
    names = dict(Tier.objects.filter(code__in=[c for c in codes if c]).values_list("code", "name"))
    return {
        name: display_name(names[code]) if code in names else code for name, code in zip(fields, codes, strict=True)
    }


def _moment(value: Any) -> datetime | None:
    moment = parse_datetime(value) if isinstance(value, str) else None
    return timezone.localtime(moment) if moment is not None and timezone.is_aware(moment) else moment


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).normalize() if value is not None else None
    except InvalidOperation:
        return None


def _tier_move(params: Mapping[str, Any]) -> dict[str, Any]:
    names = _tier_names(params, "from", "to")
    return {"from_tier": names["from"], "to_tier": names["to"]}


def _at_risk(params: Mapping[str, Any]) -> dict[str, Any]:
    names = _tier_names(params, "tier", "to")
    return {
        "tier": names["tier"],
        "to_tier": names["to"],
        "on": parse_date(params["on"]) if isinstance(params.get("on"), str) else None,
        "growth_needed": params.get("growth_needed"),
    }


def _expiring_points(params: Mapping[str, Any]) -> dict[str, Any]:
    lots = [
        {"date": parse_date(lot["date"]) if isinstance(lot.get("date"), str) else None, "points": lot.get("points")}
        for lot in params.get("lots") or []
        if isinstance(lot, Mapping)
    ]
    return {"points": params.get("points"), "lots": lots}


def _coupon(params: Mapping[str, Any]) -> dict[str, Any]:
    name = CouponTemplate.objects.filter(code=params.get("template")).values_list("name", flat=True).first()
    return {
        "coupon": display_name(name) if name else params.get("template"),
        "coupon_kind": params.get("kind"),
        "value": _amount(params.get("value")),
        "currency": current_config().settings.currency,
        "valid_until": _moment(params.get("valid_until")),
    }


_CONTEXTS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "tier.upgraded": _tier_move,
    "tier.downgraded": _tier_move,
    "tier.at_risk": _at_risk,
    "points.expiring": _expiring_points,
    "coupon.issued": _coupon,
    "coupon.expiring": _coupon,
}
