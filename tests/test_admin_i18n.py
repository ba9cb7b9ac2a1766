"""The admin in Simplified Chinese: staff whose browser asks for it see our own screens in Chinese,
and the catalog behind them is complete (nothing untranslated or fuzzy, placeholders kept, the
committed .mo in step with the .po)."""

import json
import re
from pathlib import Path

import axes
import polib
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from loyalty import extensions, job_summaries
from loyalty.backoffice.library_messages import AXES_MESSAGES
from loyalty.models import BUILTIN_EVENT_TYPES, Adjustment, PointsEntry
from loyalty.names import display_name
from loyalty.reasons import RENDERERS, reason_fields, render
from loyalty.services import spend_points
from tests.helpers import DEFAULT_PROGRAM_FILE, purchase, refund

CATALOG = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
CHINESE = re.compile("[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[-+ #0]*\d*[sdrf]")


@pytest.fixture
def staff_client(client, program):
    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(boss)
    return client


def page(client, url: str, language: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


DASHBOARD_CHINESE = [
    "会员运营后台",
    "数据看板",
    "积分存量",
    "等级金字塔",
    "最近的作业运行",
    "体系配置",
    "积分商城",
]
DASHBOARD_ENGLISH = ["Loyalty back office", "Points outstanding", "Tier pyramid", "Latest job runs", "Mall"]
MEMBER_CHINESE = ["等级与成长值", "调整积分", "积分流水", "成长值流水", "等级历史", "基本资料", "姓名", "手机号"]
MEMBER_ENGLISH = ["Tier and growth", "Adjust points", "Points ledger", "Growth ledger", "Tier history"]


@pytest.mark.parametrize(
    ("language", "shown", "hidden"),
    [("zh-hans", DASHBOARD_CHINESE, DASHBOARD_ENGLISH), ("en", DASHBOARD_ENGLISH, DASHBOARD_CHINESE)],
)
def test_the_dashboard_speaks_the_browsers_language(staff_client, language, shown, hidden):
    html = page(staff_client, reverse("admin:index"), language)

    assert [text for text in shown if text not in html] == []
    assert [text for text in hidden if text in html] == []


@pytest.mark.parametrize(
    ("language", "shown", "hidden"),
    [("zh-hans", MEMBER_CHINESE, MEMBER_ENGLISH), ("en", MEMBER_ENGLISH, MEMBER_CHINESE)],
)
def test_the_member_page_speaks_the_browsers_language(staff_client, member, language, shown, hidden):
    html = page(staff_client, reverse("admin:members_member_change", args=[member.pk]), language)

    assert [text for text in shown if text not in html] == []
    assert [text for text in hidden if text in html] == []


def test_member_status_and_ledger_kinds_are_translated(staff_client, member, give_growth):
    give_growth(member, 100)

    html = page(staff_client, reverse("admin:members_member_change", args=[member.pk]), "zh-hans")

    assert 'status-active">有效</span>' in html
    assert "<td>手工调整</td>" in html
    assert 'status-active">Active</span>' not in html and "Manual adjustment" not in html


def test_an_adjustment_writes_its_reason_to_the_ledger_in_the_site_language():
    adjustment = Adjustment(reason="goodwill", note="parcel lost")

    with translation.override("zh-hans"):
        shown, written = adjustment.reason_display(), reason_fields(adjustment.ledger_reason)

    assert shown == "客情补偿: parcel lost"
    assert written["reason"] == "Goodwill gesture: parcel lost"
    stored = (written["reason_code"], written["reason_params"], written["reason"])
    assert render(*stored) == "Goodwill gesture: parcel lost"
    with translation.override("zh-hans"):
        assert render(*stored) == "客情补偿: parcel lost"


# Parameters for every system reason (loyalty.reason_codes), names as a fresh install ships them.
REASON_PARAMS = {
    "order": "o-1",
    "quantity": 2,
    "reward": "Logo mug",
    "note": "",
    "benefit": "Birthday gift",
    "period": "2026-12",
    "name": "Daily check-in",
    "reason": "goodwill",
}


@pytest.mark.parametrize("code", sorted(RENDERERS))
def test_every_system_reason_reads_in_chinese(code):
    english = render(code, REASON_PARAMS, "stored")
    with translation.override("zh-hans"):
        chinese = render(code, REASON_PARAMS, "stored")

    assert english != "stored"
    assert chinese != english


def test_every_shipped_name_reads_in_chinese():
    """The names a fresh install ships with (event types, rules, rewards, benefits, coupon templates)."""
    shipped = json.loads(DEFAULT_PROGRAM_FILE.read_text())
    named = {item["name"] for section in shipped.values() if isinstance(section, list) for item in section}
    named |= set(BUILTIN_EVENT_TYPES.values())
    bilingual = {name for name in named if CHINESE.search(name)}  # the tiers: 黄金 Gold

    with translation.override("zh-hans"):
        untranslated = sorted(name for name in named - bilingual if display_name(name) == name)

    assert untranslated == []


def test_the_login_protection_screens_read_in_chinese():
    """django-axes ships no Simplified Chinese: its words are in this project's catalogue
    (loyalty/backoffice/library_messages.py), every one it uses but Django's own Yes and No."""
    source = "\n".join(path.read_text() for path in Path(axes.__file__).parent.glob("*.py"))
    used = set(re.findall(r'_\("([^"]+)"\)', source)) - {"Yes", "No"}

    assert used and used <= set(AXES_MESSAGES)
    with translation.override("zh-hans"):
        untranslated = sorted(message for message in used if gettext(message) == message)
    assert untranslated == []


# Parameters for every dry-run line (loyalty.job_summaries), as the previews write them.
SUMMARY_PARAMS = {
    "campaign": "double-weekend",
    "period": "2026-12",
    "as_of": "2026-12-01 04:00 CST",
    "points": 1200,
    "members": 3,
    "ledger": "points",
    "amount": 120,
    "lots": 2,
    "count": 4,
    "from": "黄金 Gold",
    "to": "白金 Platinum",
    "days": 365,
    "benefit": "Birthday gift",
    "eligible": 10,
    "done": 2,
    "holds": 1,
    "tags": 5,
    "segments": 3,
    "expiring": 7,
    "day": "2026-12-24",
    "coupons": 6,
}


@pytest.mark.parametrize("code", sorted(job_summaries.RENDERERS))
def test_every_dry_run_line_reads_in_chinese(code):
    item = job_summaries.line(code, **SUMMARY_PARAMS)
    english = job_summaries.render(item)
    with translation.override("zh-hans"):
        chinese = job_summaries.render(item)

    assert english != code, "rendered, not the bare code"
    assert CHINESE.search(chinese) and chinese != english


def test_every_job_has_a_chinese_name_and_description():
    with translation.override("zh-hans"):
        untranslated = [
            name
            for name, job in extensions.jobs.items()
            if not (CHINESE.search(str(job.label)) and CHINESE.search(str(job.description)))
        ]

    assert untranslated == []


def test_the_ledgers_show_system_reasons_in_the_readers_language(staff_client, member):
    purchase(member, "120", order_id="o-1")  # the purchase rule's name
    refund(member, "o-1", "20")  # a return
    spend_points(member=member, amount=10, reason="Checkout at the till", source="shop")  # a person's words

    chinese = page(staff_client, reverse("admin:loyalty_pointsentry_changelist"), "zh-hans")
    english = page(staff_client, reverse("admin:loyalty_pointsentry_changelist"), "en")

    assert "Return on order o-1" in english and "Return on order o-1" not in chinese
    with translation.override("zh-hans"):
        assert translation.gettext("Return on order %(order)s") % {"order": "o-1"} in chinese
        assert display_name("Purchase: 1 growth and 1 point per yuan") in chinese
    assert "Checkout at the till" in chinese  # typed by a person: shown as typed
    assert PointsEntry.objects.filter(reason="Return on order o-1").exists()  # the API's text is kept


def test_every_message_is_translated_and_none_is_fuzzy():
    catalog = polib.pofile(str(CATALOG))

    assert not catalog.metadata_is_fuzzy
    assert [entry.msgid for entry in catalog.untranslated_entries()] == []
    assert [entry.msgid for entry in catalog.fuzzy_entries()] == []
    assert [entry.msgid for entry in catalog.obsolete_entries()] == []


def test_translations_keep_the_placeholders():
    def placeholders(text: str) -> set[str]:
        return set(PLACEHOLDER.findall(text))

    mismatched = [
        entry.msgid
        for entry in polib.pofile(str(CATALOG))
        for translation in (entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr])
        if placeholders(translation) != placeholders(entry.msgid)
    ]

    assert mismatched == []


def test_the_committed_mo_matches_the_po():
    """The demo runs without gettext tools, from the committed .mo: recompile after editing the .po."""

    def translations(entries) -> dict:
        return {
            (entry.msgctxt, entry.msgid): dict(entry.msgstr_plural) if entry.msgid_plural else entry.msgstr
            for entry in entries
        }

    compiled = polib.mofile(str(CATALOG.with_suffix(".mo")))

    assert translations(compiled) == translations(polib.pofile(str(CATALOG)).translated_entries())
