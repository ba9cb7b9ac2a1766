"""The `campaigns` section of the program file (docs/program-file.md, docs/campaigns.md): each
campaign's code, name, kind, status, holdout and `public` flag beside its terms (campaigns.terms),
all at the top level of its object. Applied through campaigns.services.campaigns after the tags and
segments it may name. Status `running` or `scheduled` in a file means published: it runs from
`starts_at`. Campaigns missing from the file are left as they are — ending a running campaign is
an operator's decision, never a side effect of an import."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from loyalty.program_file import ProgramErrors, code_value, object_list, text_value, unique_codes, whole_number

from . import terms as campaign_terms
from .models import Campaign
from .services import campaigns as services

CAMPAIGN_KEYS = {"code", "name", "description", "kind", "status", "public", "holdout_percent"}
FILE_STATUSES = ("draft", "scheduled", "running", "paused", "ended")
# What a file's status asks for, as stored.
WANTED = {
    "draft": Campaign.Status.DRAFT,
    "scheduled": Campaign.Status.PUBLISHED,
    "running": Campaign.Status.PUBLISHED,
    "paused": Campaign.Status.PAUSED,
    "ended": Campaign.Status.ENDED,
}


def parse_campaigns(errors: ProgramErrors, raw: Any) -> list[dict]:
    items = []
    for index, item in enumerate(object_list(errors, "campaigns", raw)):
        path = f"campaigns[{index}]"
        errors.unknown_keys(path, item, CAMPAIGN_KEYS | campaign_terms.TERMS_KEYS)
        code = code_value(errors, f"{path}.code", item.get("code"), max_length=64)
        kind = item.get("kind")
        terms = {key: value for key, value in item.items() if key in campaign_terms.TERMS_KEYS}
        campaign_terms.read_terms(errors, path, kind, terms)
        status = item.get("status", "draft")
        if status not in FILE_STATUSES:
            errors.add(f"{path}.status", f"One of {', '.join(FILE_STATUSES)}.")
        public = item.get("public", False)
        if not isinstance(public, bool):
            errors.add(f"{path}.public", "Must be true or false.")
        items.append(
            {
                "code": code,
                "name": text_value(errors, f"{path}.name", item.get("name") or code, max_length=128, required=True),
                "description": text_value(errors, f"{path}.description", item.get("description", ""), max_length=2000),
                "kind": kind,
                "terms": terms,
                "status": WANTED.get(status, Campaign.Status.DRAFT) if isinstance(status, str) else None,
                "public": public is True,
                "holdout_percent": whole_number(
                    errors, f"{path}.holdout_percent", item.get("holdout_percent", 0), minimum=0, maximum=50
                )
                or 0,
            }
        )
    unique_codes(errors, "campaigns", items)
    return items


def apply_campaigns(wanted: list[dict[str, Any]], changes: list[str], actor) -> None:
    """Each campaign saved (a published one's changed terms: a new version), then moved to the
    status the file asks for."""
    for item in wanted:
        item = dict(item)
        status = item.pop("status")
        before = Campaign.objects.select_related("current_version").filter(code=item["code"]).first()
        if before is not None and before.status == Campaign.Status.ENDED:
            if status != Campaign.Status.ENDED:
                changes.append(f"campaign {before.code}: ended; left as it is (clone it to run it again)")
            continue
        campaign = services.save_campaign(actor=actor, **item)
        if before is None:
            changes.append(f"campaign {campaign.code}: created")
        elif before.current_version_id != campaign.current_version_id:
            changes.append(f"campaign {campaign.code}: terms changed, version {campaign.current.number} in force")
        elif before.current.terms != campaign.current.terms:
            changes.append(f"campaign {campaign.code}: terms changed (draft)")
        elif (before.name, before.description, before.public, before.holdout_percent) != (
            campaign.name,
            campaign.description,
            campaign.public,
            campaign.holdout_percent,
        ):
            changes.append(f"campaign {campaign.code}: name, description, holdout or public flag changed")
        _move(campaign, status, changes, actor)


def _move(campaign: Campaign, wanted: str, changes: list[str], actor) -> None:
    code, status = campaign.code, campaign.status
    if wanted == status or (wanted == Campaign.Status.ENDED and campaign.phase_at(timezone.now()) == wanted):
        return  # (a published campaign past its window is exported as ended: it is, already)
    if wanted == Campaign.Status.DRAFT:
        changes.append(f"campaign {code}: {status}; a published campaign does not go back to draft")
        return
    if status == Campaign.Status.DRAFT:
        services.publish_campaign(code=code, actor=actor)
        changes.append(f"campaign {code}: published")
        status = Campaign.Status.PUBLISHED
    if wanted == Campaign.Status.PAUSED and status == Campaign.Status.PUBLISHED:
        services.pause_campaign(code=code, actor=actor)
        changes.append(f"campaign {code}: paused")
    elif wanted == Campaign.Status.PUBLISHED and status == Campaign.Status.PAUSED:
        services.resume_campaign(code=code, actor=actor)
        changes.append(f"campaign {code}: resumed")
    elif wanted == Campaign.Status.ENDED:
        services.end_campaign(code=code, actor=actor)
        changes.append(f"campaign {code}: ended")


def export_campaigns() -> list[dict]:
    now = timezone.now()
    return [
        {
            "code": campaign.code,
            "name": campaign.name,
            "description": campaign.description,
            "kind": campaign.kind,
            "status": campaign.phase_at(now),
            "public": campaign.public,
            "holdout_percent": campaign.holdout_percent,
            **campaign.current.terms,
        }
        for campaign in Campaign.objects.select_related("current_version").order_by("code")
    ]
