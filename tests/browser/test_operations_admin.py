"""The operations admin in a real browser, step by step as an operator works: the dashboard, finding
a member, adjusting points, maker-checker approval, the tier what-if, a dry run, Chinese."""

import re

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from loyalty.demo import generate_demo_data
from loyalty.models import Adjustment, JobRun, PointsEntry, Tier
from members.models import Member
from tests.factories import UserFactory
from tests.helpers import ensure_default_program

PASSWORD = "a-long-test-password"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def population():
    ensure_default_program()
    generate_demo_data(members=40, seed=7, chunk_size=40)
    member = Member.objects.exclude(phone="").order_by("id").first()
    return member


def staff(username: str, *permissions: str, superuser: bool = False):
    user = UserFactory(username=username, is_superuser=superuser)
    user.set_password(PASSWORD)
    user.save()
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def log_in(page, live_server, username: str):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(username)


def log_out(page):
    page.click("#logout-form button")


def test_an_operator_day(page, live_server, shoot, population):
    staff("operator", superuser=True)
    approver = staff("approver", "loyalty.approve_adjustment", "loyalty.view_adjustment", "members.view_member")
    member = population
    points_before = member.points_available

    log_in(page, live_server, "operator")
    charts = page.evaluate("() => Object.keys(window.loyaltyCharts || {}).sort()")
    assert charts == ["events", "expiring", "movements", "pyramid"]
    pyramid_bars = page.evaluate("() => window.loyaltyCharts.pyramid.getDatasetMeta(0).data.length")
    assert pyramid_bars == Tier.objects.count()
    expect(page.locator('[data-kpi="members_total"]')).to_have_text(f"{Member.objects.count():,}")
    shoot(page, "01-dashboard")

    page.goto(f"{live_server.url}/admin/members/member/")
    page.fill("#searchbar", member.phone)
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    shoot(page, "02-member-found-by-phone")
    page.click(f"#result_list a:text-is('{member.external_id}')")
    expect(page.locator("#panel-points")).to_be_visible()
    shoot(page, "03-member-360")

    page.click("text=Adjust points")
    page.fill("#id_amount", "200")
    page.select_option("#id_reason", "goodwill")
    page.fill("#id_note", "Late parcel")
    shoot(page, "04-adjust-points-form")
    page.click("#adjust-form input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("applied")
    expect(page.locator('[data-testid="points-available"]')).to_contain_text(f"{points_before + 200:,}")
    expect(page.locator("#points-ledger tbody tr").first).to_contain_text("+200")
    expect(page.locator("#points-ledger tbody tr").first).to_contain_text("Late parcel")
    shoot(page, "05-adjusted-ledger-and-balance")

    page.click("text=Adjust points")
    page.fill("#id_amount", "5000")
    page.select_option("#id_reason", "complaint")
    page.click("#adjust-form input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("waits for approval")
    expect(page.locator('[data-testid="points-available"]')).to_contain_text(f"{points_before + 200:,}")
    shoot(page, "06-large-adjustment-pending")
    log_out(page)

    log_in(page, live_server, approver.username)
    page.goto(f"{live_server.url}/admin/loyalty/adjustment/")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.check("#result_list tbody tr input.action-select")
    page.select_option("select[name=action]", "approve")
    shoot(page, "07-approval-queue")
    page.click("button[name=index]")
    expect(page.locator("#confirm-action-form")).to_be_visible()  # nothing applied before confirming
    page.fill("#id_note", "checked the parcel claim")
    shoot(page, "07b-approval-confirmation")
    page.click("#confirm-action-form input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("approved and applied")
    shoot(page, "08-approved")
    member.refresh_from_db()
    assert member.points_available == points_before + 5200
    approved = Adjustment.objects.get(amount=5000)
    assert (approved.status, approved.decided_by, approved.points_entry.amount) == ("applied", approver, 5000)
    assert approved.decision_note == "checked the parcel claim"
    log_out(page)

    log_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/admin/loyalty/tier/")
    page.click("text=Change thresholds (what-if preview)")
    page.fill("#id_bronze", "1")
    page.click("button[value=preview]")
    expect(page.locator("#whatif-result h2").first).to_contain_text("The edit moves")
    expect(page.locator("#whatif-caused")).to_contain_text("▲")
    expect(page.locator("#whatif-pyramid tbody tr")).to_have_count(Tier.objects.count())
    assert page.evaluate("() => window.whatifChart.data.datasets.length") == 3  # today, current, edited
    shoot(page, "09-tier-what-if")
    assert Tier.objects.get(code="bronze").threshold == 500  # a preview writes nothing

    expired_before = PointsEntry.objects.filter(kind="expire").count()
    page.goto(f"{live_server.url}/admin/loyalty/jobrun/")
    page.click('button[data-job="expire_points"][data-mode="dry-run"]')
    expect(page.locator("#run-progress")).to_have_attribute("data-status", "done", timeout=30_000)
    expect(page.locator('#run-progress [data-field="summary"]')).to_contain_text("would expire")
    expect(page.locator(".breadcrumbs")).to_contain_text("(Done)")  # the whole page, not only the live panel
    shoot(page, "10-dry-run-finished")
    run = JobRun.objects.get(job="expire_points")
    assert run.dry_run and run.chunks_done == run.chunks_total
    assert PointsEntry.objects.filter(kind="expire").count() == expired_before

    page.select_option("#language-select", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#site-name")).to_contain_text("会员")
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("body")).to_contain_text(re.compile("会员总数|会员"))
    shoot(page, "11-dashboard-zh-hans")


def test_the_mall_actions_confirm_first_and_the_limits_need_two_people(page, live_server, shoot, population):
    """Operations cancels a redemption and voids a coupon through their confirmation pages; Finance
    raises an approval limit, which a second Finance person approves; the settings show it read-only."""
    from django.contrib.auth.models import Group

    from loyalty.models import ProgramSettings
    from loyalty.services import adjust_points
    from rewards.models import Coupon, Redemption
    from rewards.services import redeem
    from tests.helpers import ensure_staff_roles
    from tests.rewards.factories import RewardFactory

    ensure_staff_roles()  # an earlier transactional test may have flushed the groups
    member = population
    adjust_points(member=member, amount=5_000, reason="test setup", actor=staff("setup", superuser=True))
    reward = RewardFactory(code="browser-voucher", points_cost=100)
    first = redeem(source="web", member=member.external_id, reward=reward.code, idempotency_key="b1").redemption
    second = redeem(source="web", member=member.external_id, reward=reward.code, idempotency_key="b2").redemption
    for username, role in (("ops", "Operations"), ("fin1", "Finance"), ("fin2", "Finance")):
        staff(username).groups.add(Group.objects.get(name=role))

    log_in(page, live_server, "ops")
    page.goto(f"{live_server.url}/admin/rewards/redemption/")
    page.check(f"input[name=_selected_action][value='{first.pk}']")
    page.select_option("select[name=action]", "cancel")
    page.click("button[name=index]")
    expect(page.locator("#confirm-action-form")).to_be_visible()
    shoot(page, "20-cancel-redemption-confirmation")
    page.fill("#id_reason", "Customer changed their mind")
    page.click("#confirm-action-form input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("1 redemption(s) cancelled.")
    shoot(page, "21-redemption-cancelled")
    assert Redemption.objects.get(pk=first.pk).status == "cancelled"

    coupon = Coupon.objects.get(redemption=second)
    page.goto(f"{live_server.url}/admin/rewards/coupon/")
    page.check(f"input[name=_selected_action][value='{coupon.pk}']")
    page.select_option("select[name=action]", "void")
    page.click("button[name=index]")
    shoot(page, "22-void-coupon-confirmation")
    page.click("#confirm-action-form input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("1 coupon(s) voided.")
    log_out(page)

    log_in(page, live_server, "fin1")
    page.goto(f"{live_server.url}/admin/loyalty/approvallimitchange/add/")
    page.select_option("#id_kind", "points")
    page.fill("#id_new_limit", "5000")
    page.fill("#id_note", "Double-points weekend")
    shoot(page, "23-approval-limit-raise")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("waits for approval")
    shoot(page, "24-approval-limit-pending")
    page.goto(f"{live_server.url}/admin/loyalty/programsettings/1/change/")
    expect(page.locator(".field-approval_limit_points .readonly")).to_contain_text("1000")
    shoot(page, "25-settings-with-read-only-limits")
    log_out(page)

    log_in(page, live_server, "fin2")
    page.goto(f"{live_server.url}/admin/loyalty/approvallimitchange/")
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", "approve_limit_changes")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("1 limit change(s) approved and applied.")
    shoot(page, "26-approval-limit-approved")
    assert ProgramSettings.current().approval_limit_points == 5000
