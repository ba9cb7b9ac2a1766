"""Why a ledger entry was written, as the system says it: a code and its parameters, stored beside
the entry's `reason` text. The text stays as written (in the site's language: the API and the
exports show it); the admin renders the code in the reader's language (`render`).

An entry a person wrote (a storefront's spend reason, a staff adjustment without a reason code) has
no code: its text is shown as typed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from loyalty.models.adjustments import AdjustmentReason
from loyalty.names import display_name
from loyalty.reason_codes import (
    ADJUSTMENT,
    BENEFIT,
    CAMPAIGN,
    GROWTH_EXPIRED,
    HELD_FOR_ORDER,
    HOLD_EXPIRED,
    HOLD_NOT_CAPTURED,
    HOLD_REFUNDED,
    HOLD_RELEASED,
    ORDER_PAYMENT,
    POINTS_EXPIRED,
    REDEEMED,
    REDEMPTION_CANCELLED,
    REFUNDED_EXPIRED,
    RETURN,
    RULE,
    Reason,
)


def _adjustment(params: Mapping[str, Any]) -> str:
    label = str(AdjustmentReason(params["reason"]).label)
    return f"{label}: {params['note']}" if params.get("note") else label


def _cancelled(params: Mapping[str, Any]) -> str:
    reward = display_name(params["reward"])
    if params.get("note"):
        return gettext("Redemption of %(reward)s cancelled: %(note)s") % {"reward": reward, "note": params["note"]}
    return gettext("Redemption of %(reward)s cancelled") % {"reward": reward}


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    POINTS_EXPIRED: lambda p: gettext("Points expired"),
    CAMPAIGN: lambda p: gettext("Campaign: %(name)s") % {"name": display_name(p["name"])},
    GROWTH_EXPIRED: lambda p: gettext("Left the growth window"),
    REFUNDED_EXPIRED: lambda p: gettext("Refunded after its lot's expiry: expired at once"),
    HELD_FOR_ORDER: lambda p: gettext("Held for order %(order)s") % {"order": p["order"]},
    HOLD_NOT_CAPTURED: lambda p: gettext("Order %(order)s: part of the hold not captured") % {"order": p["order"]},
    HOLD_RELEASED: lambda p: gettext("Order %(order)s: hold released") % {"order": p["order"]},
    HOLD_REFUNDED: lambda p: gettext("Order %(order)s: points payment refunded") % {"order": p["order"]},
    HOLD_EXPIRED: lambda p: gettext("Order %(order)s: hold expired") % {"order": p["order"]},
    RETURN: lambda p: gettext("Return on order %(order)s") % {"order": p["order"]},
    RULE: lambda p: display_name(p["name"]),
    REDEEMED: lambda p: (
        gettext("Redeemed %(quantity)s x %(reward)s") % {"quantity": p["quantity"], "reward": display_name(p["reward"])}
    ),
    REDEMPTION_CANCELLED: _cancelled,
    ORDER_PAYMENT: lambda p: gettext("Points used on order %(order)s") % {"order": p["order"]},
    BENEFIT: lambda p: (
        gettext("%(benefit)s (%(period)s)") % {"benefit": display_name(p["benefit"]), "period": p["period"]}
    ),
    ADJUSTMENT: _adjustment,
}


def stored_text(reason: Reason) -> str:
    """What is stored in `reason`: the site's language, as the API and the exports show it."""
    return _stored_text(reason.code, tuple(sorted(reason.params.items())))


@functools.lru_cache(maxsize=4096)
def _stored_text(code: str, params: tuple[tuple[str, Any], ...]) -> str:
    # Switching the language costs more than writing the entry; a batch repeats few reasons (its
    # rules' names), so they are rendered once.
    with translation.override(settings.LANGUAGE_CODE):
        return RENDERERS[code](dict(params))[:255]


def reason_fields(reason: str | Reason) -> dict[str, Any]:
    """The entry's reason columns for a system reason, or for text a person wrote."""
    if isinstance(reason, Reason):
        return {"reason": stored_text(reason), "reason_code": reason.code, "reason_params": dict(reason.params) or None}
    return {"reason": reason, "reason_code": "", "reason_params": None}


def render(code: str, params: Mapping[str, Any] | None, text: str) -> str:
    """The reason in the reader's language; the stored text when there is no code (or an unknown one,
    or parameters an older version wrote differently)."""
    renderer = RENDERERS.get(code)
    if renderer is None:
        return text
    try:
        return renderer(params or {})
    except (KeyError, TypeError, ValueError):
        return text
