"""The admin in Simplified Chinese: staff whose browser asks for it see our own screens in Chinese,
and the catalog behind them is complete (nothing untranslated or fuzzy, placeholders kept, the
committed .mo in step with the .po)."""

import re

import polib
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from loyalty.models import Adjustment

CATALOG = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
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
    "会员体系",
    "权益与积分商城",
]
DASHBOARD_ENGLISH = ["Loyalty back office", "Points outstanding", "Tier pyramid", "Latest job runs", "Loyalty engine"]
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
        shown, written = adjustment.reason_display(), adjustment.ledger_reason

    assert shown == "客情补偿: parcel lost"
    assert written == "Goodwill gesture: parcel lost"


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
