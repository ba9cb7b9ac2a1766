"""The event catalogue: a JSON Schema (draft 2020-12) for the `data` of every type a webhook
delivers, and for the envelope around it. docs/webhooks.md's catalogue is generated from here
(`manage.py webhook_schemas --markdown`), and the tests validate the payloads the system really
publishes against it. Within a schema version fields may be added, never removed or retyped, so
every schema allows further properties."""

from __future__ import annotations

import json
from typing import Any

from members.outbox import SCHEMA_VERSION, TYPES

from .messages import TEST_EVENT

Schema = dict[str, Any]

INTEGER: Schema = {"type": "integer"}
STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
DECIMAL: Schema = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "a decimal number as text"}
MOMENT: Schema = {"type": "string", "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}
TIER: Schema = {"type": "string", "description": "a tier code"}


def one_of(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def payload(description: str, required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {
        "type": "object",
        "description": description,
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": True,
    }


FROM_EVENT = {"event_id": {**STRING, "description": "the storefront's event id"}, "source": STRING}

DATA: dict[str, Schema] = {
    "member.enrolled": payload("A member joined.", {"tier": TIER, "referrer": nullable(STRING)}),
    "member.updated": payload(
        "Profile fields changed: their names, never their values.",
        {
            "fields": {
                "type": "array",
                "items": one_of("name", "email", "phone", "birthday", "language", "marketing_opt_in"),
            }
        },
    ),
    "member.status_changed": payload(
        "Frozen, unfrozen or closed.",
        {"from": one_of("active", "frozen", "closed"), "to": one_of("active", "frozen", "closed")},
    ),
    "member.anonymised": payload("The member's personal data was erased here: erase your copies too.", {}),
    "member.first_purchase": payload(
        "The member's first purchase ever.", {"amount": DECIMAL, "order_id": STRING, **FROM_EVENT}
    ),
    "points.earned": payload(
        "Points credited: by an event (event_id, source), a benefit or a campaign.",
        {"points": INTEGER, "pending": BOOLEAN},
        {
            "available_at": {**MOMENT, "description": "only when pending"},
            **FROM_EVENT,
            "benefit": STRING,
            "campaign": STRING,
        },
    ),  # fmt: skip
    "points.spent": payload(
        "Points spent (a redemption or hold follows with its own event).",
        {"points": INTEGER, "spend_id": INTEGER, "source": STRING, "reference": STRING},
    ),
    "points.refunded": payload("A spend refunded.", {"points": INTEGER, "spend_id": INTEGER}),
    "points.expired": payload("Points expired (per member and run).", {"points": INTEGER}),
    "points.adjusted": payload(
        "Points changed by staff (adjust), a return (reverse) or a deducting rule (deduct).",
        {"points": INTEGER, "kind": one_of("adjust", "reverse", "deduct")},
        FROM_EVENT,
    ),
    "points.expiring": payload(
        "The member's points that expire before the next monthly digest, per last day of use (`date`, in the "
        "program's time zone: the points expire at the end of it).",
        {
            "points": INTEGER,
            "lots": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"date": DATE, "points": INTEGER},
                    "required": ["date", "points"],
                },
            },
        },
    ),  # fmt: skip
    "growth.changed": payload(
        "Growth value changed.",
        {"growth": INTEGER, "kind": one_of("event", "adjust", "expire", "earn")},
        {**FROM_EVENT, "benefit": STRING, "campaign": STRING},
    ),
    **{
        move: payload(
            f"The member moved {'up' if move == 'tier.upgraded' else 'down'} the ladder.",
            {"from": TIER, "to": TIER, "reason": one_of("upgrade", "return", "recalculation", "manual")},
            FROM_EVENT,
        )
        for move in ("tier.upgraded", "tier.downgraded")
    },
    "tier.at_risk": payload(
        "The tier recalculation on `on` would move the member down to `to` unless they earn `growth_needed` more "
        "growth value (a notice sent the program's set number of days before).",
        {"tier": TIER, "to": TIER, "on": DATE, "growth_needed": INTEGER},
    ),
    "redemption.created": payload(
        "A reward redeemed in the points mall.",
        {
            "redemption_id": INTEGER,
            "reward": STRING,
            "quantity": INTEGER,
            "points": INTEGER,
            "status": one_of("pending", "completed"),
            "source": STRING,
        },
    ),  # fmt: skip
    "redemption.cancelled": payload("A redemption cancelled.", {"redemption_id": INTEGER, "points_refunded": INTEGER}),
    "redemption.fulfilment_changed": payload(
        "Goods shipped or delivered.",
        {
            "redemption_id": INTEGER,
            "from": STRING,
            "to": one_of("shipped", "delivered"),
            "carrier": STRING,
            "tracking_number": STRING,
        },
    ),  # fmt: skip
    "coupon.issued": payload(
        "A coupon issued (never its code: a bearer credential). redemption_id or grant_id say why; both null for a "
        "campaign's coupon.",
        {
            "coupon_id": INTEGER,
            "template": STRING,
            "kind": one_of("amount_off", "percent_off", "free_shipping"),
            "value": DECIMAL,
            "valid_from": MOMENT,
            "valid_until": MOMENT,
            "redemption_id": nullable(INTEGER),
            "grant_id": nullable(INTEGER),
        },
    ),  # fmt: skip
    "coupon.expiring": payload(
        "A coupon's validity ends in three days (a reminder).",
        {
            "coupon_id": INTEGER,
            "template": STRING,
            "kind": one_of("amount_off", "percent_off", "free_shipping"),
            "value": DECIMAL,
            "valid_until": MOMENT,
        },
    ),  # fmt: skip
    "coupon.used": payload(
        "A coupon used on an order.", {"coupon_id": INTEGER, "template": STRING, "order_id": STRING, "source": STRING}
    ),
    "coupon.released": payload(
        "A used coupon given back (the order was cancelled).",
        {
            "coupon_id": INTEGER,
            "template": STRING,
            "order_id": STRING,
            "source": STRING,
            "status": one_of("active", "expired"),
        },
    ),  # fmt: skip
    "coupon.expired": payload("A coupon expired unused.", {"coupon_id": INTEGER, "template": STRING}),
    "coupon.voided": payload(
        "A coupon voided.", {"coupon_id": INTEGER, "template": STRING, "redemption_id": nullable(INTEGER)}
    ),
    "hold.created": payload(
        "Points held for an order's part-payment.",
        {"hold_id": INTEGER, "points": INTEGER, "order_id": STRING, "source": STRING, "expires_at": MOMENT},
    ),
    "hold.captured": payload("A hold captured.", {"hold_id": INTEGER, "points": INTEGER, "order_id": STRING}),
    "hold.released": payload(
        "A hold released.",
        {
            "hold_id": INTEGER,
            "points": INTEGER,
            "order_id": STRING,
            "reason": one_of("released", "refunded_after_capture", "expired"),
        },
    ),  # fmt: skip
    "adjustment.requested": payload(
        "Staff asked for a manual adjustment.",
        {"adjustment_id": INTEGER, "kind": one_of("points", "growth"), "amount": INTEGER, "needs_approval": BOOLEAN},
    ),
    "adjustment.decided": payload(
        "An adjustment applied within the limit, approved or rejected.",
        {
            "adjustment_id": INTEGER,
            "kind": one_of("points", "growth"),
            "amount": INTEGER,
            "decision": one_of("applied", "approved", "rejected"),
        },
    ),  # fmt: skip
    "benefit.granted": payload(
        "A tier benefit granted for a period.",
        {
            "grant_id": INTEGER,
            "benefit": STRING,
            "period": {**STRING, "description": "2026-11 or 2026"},
            "coupons": INTEGER,
            "points": INTEGER,
            "growth": INTEGER,
        },
    ),  # fmt: skip
    "tag.added": payload(
        "A tag set on the member.",
        {"tag": STRING, "source": one_of("manual", "rule", "import", "api"), "expires_at": nullable(MOMENT)},
    ),
    "tag.removed": payload("A tag taken off.", {"tag": STRING, "reason": one_of("unset", "rule", "expired")}),
    **{
        change: payload(
            f"The member {'entered' if change == 'segment.entered' else 'left'} a segment.",
            {"segment": STRING, "version": INTEGER},
        )
        for change in ("segment.entered", "segment.left")
    },
    "campaign.status_changed": payload(
        "A campaign's status changed, or a published campaign's edit put a new version in force (no member).",
        {
            "campaign": STRING,
            "version": INTEGER,
            "status": one_of("draft", "awaiting_approval", "published", "paused", "ended"),
        },
    ),  # fmt: skip
    "campaign.budget_exhausted": payload(
        "A campaign's budget ran out for its period (no member); period_start is 1970-01-01 for a total budget.",
        {
            "campaign": STRING,
            "budget": one_of("points", "grants"),
            "per": one_of("day", "week", "month", "total"),
            "period_start": DATE,
            "limit": INTEGER,
        },
    ),  # fmt: skip
    "notification.requested": payload(
        "A message for the storefront's own messaging service to send (SMS, app push, mini-program), already "
        "written in the member's language; `details` are the kind's facts for a template of its own.",
        {
            "notification_id": INTEGER,
            "kind": STRING,
            "marketing": BOOLEAN,
            "language": STRING,
            "title": STRING,
            "text": {**STRING, "description": "greets no one by name: domain events hold no personal data"},
            "details": {"type": "object"},
        },
    ),  # fmt: skip
    "job.finished": payload(
        "A scheduled job's run finished (no member; not for dry runs).",
        {
            "job": STRING,
            "run_id": INTEGER,
            "period": STRING,
            "status": one_of("done", "failed"),
            "members_changed": INTEGER,
            "entries_written": INTEGER,
        },
    ),  # fmt: skip
    TEST_EVENT: payload(
        "Sent by Send a test event (no member).", {"endpoint": INTEGER, "sent_by": {**STRING, "description": "a user"}}
    ),
}

WITHOUT_MEMBER = {"job.finished", "campaign.status_changed", "campaign.budget_exhausted", TEST_EVENT}


def envelope(event_type: str) -> Schema:
    """The whole body of a delivery of `event_type`."""
    member: Schema = {"type": "null"} if event_type in WITHOUT_MEMBER else STRING
    sequence: Schema = {"type": "null"} if event_type in WITHOUT_MEMBER else INTEGER
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": event_type,
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "type": {"const": event_type},
            "schema_version": {"const": SCHEMA_VERSION},
            "occurred_at": MOMENT,
            "member": member,
            "sequence": sequence,
            "data": DATA[event_type],
            "contact": {
                "type": "object",
                "properties": {"email": STRING, "phone": STRING},
                "description": "only for an endpoint with personal data",
            },
        },
        "required": ["id", "type", "schema_version", "occurred_at", "member", "sequence", "data"],
        "additionalProperties": True,
    }


def all_types() -> list[str]:
    return [*TYPES, TEST_EVENT]


def markdown() -> str:
    """docs/webhooks.md's catalogue: a row per type, then each type's schema of `data`."""
    rows = "\n".join(
        f"| `{t}` | {DATA[t]['description']} | {', '.join(f'`{k}`' for k in DATA[t]['required']) or '—'} |"
        for t in all_types()
    )
    schemas = "\n\n".join(f"#### `{t}`\n\n```json\n{json.dumps(DATA[t], indent=2)}\n```" for t in all_types())
    return (
        "| type | | always in `data` |\n|---|---|---|\n"
        + rows
        + "\n\nThe schema of each type's `data` (JSON Schema 2020-12; `manage.py webhook_schemas` prints the whole "
        "body's schema per type):\n\n" + schemas
    )
