"""A dry run's "what would change": kept as codes with parameters (JobRun.summary) and read in the
reader's language, like the ledgers' system reasons (loyalty.reasons). A job's preview returns
`line(code, **params)` items; each app registers the renderers of its own codes in its ready().
Runs stored before the codes hold plain English lines, shown as they are."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.utils.translation import gettext, ngettext

from loyalty.names import display_name

Renderer = Callable[[Mapping[str, Any]], str]
RENDERERS: dict[str, Renderer] = {}


def line(code: str, **params: Any) -> dict[str, Any]:
    return {"code": code, "params": params}


def register(renderers: Mapping[str, Renderer]) -> None:
    taken = RENDERERS.keys() & renderers.keys()
    if taken:
        raise ValueError(f"Dry-run summary codes registered twice: {sorted(taken)}")
    RENDERERS.update(renderers)


def render(item: str | Mapping[str, Any]) -> str:
    if isinstance(item, str):
        return item
    renderer = RENDERERS.get(item.get("code", ""))
    if renderer is None:
        return str(item.get("code", ""))
    try:
        return renderer(item.get("params") or {})
    except (KeyError, TypeError, ValueError):  # parameters an older version wrote differently
        return str(item.get("code", ""))


def _lots(params: Mapping[str, Any]) -> str:
    words = {
        "points": ngettext(
            "%(amount)s points in %(lots)s lot of %(members)s members would expire.",
            "%(amount)s points in %(lots)s lots of %(members)s members would expire.",
            params["lots"],
        ),
        "growth": ngettext(
            "%(amount)s growth value in %(lots)s lot of %(members)s members would expire.",
            "%(amount)s growth value in %(lots)s lots of %(members)s members would expire.",
            params["lots"],
        ),
    }
    return words[params["ledger"]] % params


register(
    {
        "already_done": lambda p: (
            gettext("Already done for the period %(period)s (as of %(as_of)s): nothing would change.") % p
        ),
        "points_to_release": lambda p: (
            gettext("%(points)s pending points of %(members)s members would become available.") % p
        ),
        "lots_to_expire": _lots,
        "tier_moves": lambda p: (
            gettext("%(count)s members would move from %(from)s to %(to)s.")
            % {**p, "from": display_name(p["from"]), "to": display_name(p["to"])}
        ),
        "no_tier_moves": lambda p: gettext("No member would change tier."),
        "rfm_to_store": lambda p: (
            gettext("RFM over the %(days)s days before %(as_of)s would be stored for %(members)s members.") % p
        ),
        "report_summaries_to_store": lambda p: (
            gettext(
                "The report summaries (climb to each tier, monthly points flow and spend per tier, the weight "
                "matrix of the %(days)s days before) as of %(as_of)s would be stored for %(members)s members."
            )
            % p
        ),
    }
)
