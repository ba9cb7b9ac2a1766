"""Import and export in the admin: imports preview first and write through the services, exports
are permission-gated, formula-safe, capped and without a query per row."""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from loyalty.models import PointsEntry, TierChange
from loyalty.services import adjust_points
from loyalty.spreadsheets import safe_cell
from members.models import Member
from rewards.models import PoolCode, Reward
from tests.factories import MemberFactory
from tests.rewards.factories import CodePoolFactory, CouponTemplateFactory, RewardFactory

from .conftest import confirm, row_errors, upload

pytestmark = pytest.mark.django_db

EXPORT_POINTS = "loyalty.export_pointsentry"


@pytest.mark.parametrize("cell", ["=1+1", "==1+1", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_run_becomes_text(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-50", "+86", "12.5", "plain text", "a=b", 7, None])
def test_numbers_and_other_cells_are_left_alone(cell):
    assert safe_cell(cell) == cell


def export(client, admin_name: str, file_format: str, query: str = ""):
    """POST the export form of a changelist (with its filters in `query`), every column selected."""
    url = reverse(f"admin:{admin_name}_export") + query
    form = client.get(url).context["form"]
    columns = {name: "on" for name in form.fields if name not in ("format", "resource", "export_items")}
    return client.post(url, {"format": "0" if file_format == "csv" else "1", "resource": "0", **columns})


@pytest.fixture
def hostile_ledger(user):
    member = MemberFactory(external_id="m-1", name='=HYPERLINK("http://evil","x")')
    adjust_points(member=member, amount=80, reason="@SUM(A1:A9)", actor=user)
    adjust_points(member=member, amount=-50, reason="-2+3+cmd|' /C calc'!A0", actor=user)
    return member


def test_the_points_ledger_exports_as_csv_with_formulas_neutralised(login_as, client, hostile_ledger, user):
    login_as(EXPORT_POINTS, "loyalty.view_pointsentry")
    response = export(client, "loyalty_pointsentry", "csv")

    assert response["Content-Type"] == "text/csv"
    assert response.content.startswith(codecs.BOM_UTF8)
    rows = {row["reason"]: row for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert set(rows) == {"'@SUM(A1:A9)", "'-2+3+cmd|' /C calc'!A0"}
    spend = rows["'-2+3+cmd|' /C calc'!A0"]
    assert (spend["member"], spend["amount"], spend["kind"], spend["actor"]) == ("m-1", "-50", "adjust", user.username)


def test_xlsx_keeps_numbers_and_empty_cells_and_neutralises_text(login_as, client, hostile_ledger):
    login_as("members.export_member", "members.view_member")
    response = export(client, "members_member", "xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, row = [cell.value for cell in sheet[1]], sheet[2]
    cells = dict(zip(header, row, strict=True))
    assert cells["name"].value == '\'=HYPERLINK("http://evil","x")' and cells["name"].data_type == "s"
    assert cells["points_available"].value == 30
    assert cells["birthday"].value is None
    assert cells["tier"].value == "normal"


def test_export_follows_the_changelist_filters(login_as, client, hostile_ledger, user):
    other = MemberFactory(external_id="m-2")
    adjust_points(member=other, amount=5, reason="other", actor=user)
    login_as(EXPORT_POINTS, "loyalty.view_pointsentry")

    response = export(client, "loyalty_pointsentry", "csv", query="?q=m-2")

    assert [row["member"] for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))] == ["m-2"]


@pytest.mark.parametrize(
    "admin_name, permission",
    [
        ("members_member", "members.export_member"),
        ("loyalty_pointsentry", "loyalty.export_pointsentry"),
        ("loyalty_growthentry", "loyalty.export_growthentry"),
        ("loyalty_event", "loyalty.export_event"),
        ("loyalty_tierchange", "loyalty.export_tierchange"),
    ],
)
def test_only_the_export_permission_opens_an_export(login_as, client, admin_name, permission):
    view = f"{permission.split('.')[0]}.{permission.split('.')[1].replace('export_', 'view_')}"
    login_as(view)
    url = reverse(f"admin:{admin_name}_export")
    assert client.get(url).status_code == 403
    assert client.post(url, {"format": "0", "resource": "0"}).status_code == 403
    assert url.encode() not in client.get(reverse(f"admin:{admin_name}_changelist")).content

    login_as(view, permission, username="finance")
    assert client.get(url).status_code == 200
    assert url.encode() in client.get(reverse(f"admin:{admin_name}_changelist")).content


@pytest.mark.parametrize(
    "file_format, limit_setting", [("csv", "LOYALTY_EXPORT_MAX_ROWS"), ("xlsx", "LOYALTY_EXPORT_MAX_XLSX_ROWS")]
)
def test_an_export_above_the_row_limit_is_refused_with_a_message(
    login_as, client, hostile_ledger, settings, file_format, limit_setting
):
    setattr(settings, limit_setting, 1)
    login_as(EXPORT_POINTS, "loyalty.view_pointsentry")

    response = export(client, "loyalty_pointsentry", file_format)

    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert f"More than 1 rows for {file_format}: narrow the list" in page
    assert ("CSV takes up to" in page) == (file_format == "xlsx")


def test_an_export_costs_the_same_queries_for_any_number_of_rows(login_as, client, user, django_assert_max_num_queries):
    login_as(EXPORT_POINTS, "loyalty.view_pointsentry")
    for index in range(3):
        adjust_points(member=MemberFactory(), amount=10 + index, reason="r", actor=user)
    with django_assert_max_num_queries(20) as few:
        export(client, "loyalty_pointsentry", "csv")
    for index in range(30):
        adjust_points(member=MemberFactory(), amount=10 + index, reason="r", actor=user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = export(client, "loyalty_pointsentry", "csv")
    assert response.content.decode("utf-8-sig").count("\n") == 34


MEMBERS_FILE = (
    "external_id,name,email,phone,birthday,referrer,points_available,growth_value\r\n"
    "m-new,张三,new@example.com,13800000000,1990-05-01,m-old,5000,9000\r\n"
    "m-old,Renamed,old@example.com,,,,7777,7777\r\n"
).encode("utf-8-sig")


@pytest.fixture
def operations_clerk(login_as):
    return login_as("members.view_member", "members.change_member")


def test_a_member_import_previews_first_and_writes_nothing(operations_clerk, client):
    old = MemberFactory(external_id="m-old", name="Old Name")

    preview = upload(client, "members_member", MEMBERS_FILE)

    assert preview.status_code == 200 and row_errors(preview) == []
    assert [row.import_type for row in preview.context["result"].rows] == ["new", "update"]
    assert "confirm_form" in preview.context
    assert not Member.objects.filter(external_id="m-new").exists()
    old.refresh_from_db()
    assert old.name == "Old Name"


def test_a_confirmed_member_import_enrols_and_updates_through_the_services_never_balances(operations_clerk, client):
    old = MemberFactory(external_id="m-old", name="Old Name", email="old@example.com")

    confirm(client, "members_member", upload(client, "members_member", MEMBERS_FILE))

    new = Member.objects.select_related("referrer", "tier").get(external_id="m-new")
    assert (new.name, new.phone, str(new.birthday), new.referrer) == ("张三", "13800000000", "1990-05-01", old)
    assert TierChange.objects.filter(member=new, reason=TierChange.Reason.ENROLMENT).exists()
    old.refresh_from_db()
    assert old.name == "Renamed"
    for member in (new, old):
        assert (member.points_available, member.growth_value) == (0, 0)
    assert not PointsEntry.objects.exists()


def test_members_language_and_marketing_consent_import_and_a_blank_consent_changes_nothing(operations_clerk, client):
    MemberFactory(external_id="m-old", marketing_opt_in=True)
    rows = b"external_id,language,marketing_opt_in\r\nm-new,en,1\r\nm-old,zh-hans,\r\n"

    confirm(client, "members_member", upload(client, "members_member", rows))

    assert list(Member.objects.order_by("external_id").values_list("external_id", "language", "marketing_opt_in")) == [
        ("m-new", "en", True),
        ("m-old", "zh-hans", True),
    ]


def test_a_member_row_the_service_refuses_blocks_the_import(operations_clerk, client):
    preview = upload(client, "members_member", b"external_id,email,referrer\r\nm-1,not-an-email,\r\nm-2,,nobody\r\n")

    errors = row_errors(preview)
    assert "Enter a valid email address." in errors
    assert any("No member with external_id 'nobody'" in error for error in errors)
    assert "confirm_form" not in preview.context
    assert not Member.objects.exists()


def test_importing_members_needs_the_change_permission(login_as, client):
    login_as("members.view_member", "members.export_member")
    assert client.get(reverse("admin:members_member_import")).status_code == 403
    assert upload(client, "members_member", MEMBERS_FILE).status_code == 403
    assert not Member.objects.exists()


REWARDS_FILE = (
    b"code,name,kind,points_cost,cash_value,coupon_template,min_tier,is_active\r\n"
    b"new-voucher,Ten off,coupon,1000,10,tmpl,gold,1\r\n"
    b"known,Renamed,coupon,200,1,tmpl,,1\r\n"
)


@pytest.fixture
def marketing_clerk(login_as):
    return login_as("rewards.view_reward", "rewards.change_reward", "rewards.add_reward")


def test_rewards_import_adds_and_updates_catalog_rows_by_code(marketing_clerk, client, tiers):
    CouponTemplateFactory(code="tmpl")
    known = RewardFactory(code="known", name="Old", points_cost=100)
    Reward.objects.filter(pk=known.pk).update(redeemed_quantity=7)

    preview = upload(client, "rewards_reward", REWARDS_FILE)
    assert row_errors(preview) == []
    confirm(client, "rewards_reward", preview)

    new = Reward.objects.get(code="new-voucher")
    assert (new.points_cost, new.cash_value, new.min_tier, new.coupon_template.code) == (
        1000,
        Decimal("10.00"),
        tiers["gold"],
        "tmpl",
    )
    known.refresh_from_db()
    assert (known.name, known.points_cost, known.redeemed_quantity) == ("Renamed", 200, 7)


def test_a_confirmed_import_writes_nothing_when_a_row_is_refused_since_the_preview(marketing_clerk, client):
    doomed = CouponTemplateFactory(code="doomed")
    CouponTemplateFactory(code="kept")
    preview = upload(
        client,
        "rewards_reward",
        b"code,name,kind,points_cost,coupon_template\r\nfine,Fine,coupon,10,kept\r\ngone,Gone,coupon,10,doomed\r\n",
    )
    assert row_errors(preview) == []
    doomed.delete()

    response = confirm(client, "rewards_reward", preview)

    assert response.url == reverse("admin:rewards_reward_import")
    assert not Reward.objects.filter(code__in=["fine", "gone"]).exists()
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert any(message.startswith("Nothing was imported") for message in messages)


def test_a_reward_row_that_fails_validation_blocks_the_import(marketing_clerk, client):
    preview = upload(
        client,
        "rewards_reward",
        b"code,name,kind,points_cost,coupon_template\r\nbad,No template,coupon,10,\r\nworse,Unknown,coupon,10,nope\r\n",
    )

    errors = row_errors(preview)
    assert "Coupon and cash-voucher rewards issue a coupon template." in errors
    assert any("No coupon template with code 'nope'" in error for error in errors)
    assert "confirm_form" not in preview.context
    assert not Reward.objects.filter(code__in=["bad", "worse"]).exists()


def test_pool_codes_import_adds_new_codes_and_skips_those_already_in_the_pool(login_as, client):
    login_as("rewards.view_poolcode", "rewards.change_codepool")
    pool = CodePoolFactory(code="cinema")
    PoolCode.objects.create(pool=pool, code="OLD-1")

    preview = upload(client, "rewards_poolcode", b"pool,code\r\ncinema,OLD-1\r\ncinema,NEW-1\r\ncinema,NEW-2\r\n")
    assert [row.import_type for row in preview.context["result"].rows] == ["skip", "new", "new"]
    confirm(client, "rewards_poolcode", preview)

    assert sorted(pool.codes.filter(status=PoolCode.Status.AVAILABLE).values_list("code", flat=True)) == [
        "NEW-1",
        "NEW-2",
        "OLD-1",
    ]


def test_a_pool_code_that_is_an_issued_coupon_is_refused(login_as, client, member, make_member):
    from rewards.models import Coupon

    login_as("rewards.view_poolcode", "rewards.change_codepool")
    CodePoolFactory(code="cinema")
    template = CouponTemplateFactory()
    Coupon.objects.create(
        code="TAKEN",
        template=template,
        member=member,
        kind=template.kind,
        value=template.value,
        valid_from="2026-01-01T00:00:00Z",
        valid_until="2026-02-01T00:00:00Z",
    )

    preview = upload(client, "rewards_poolcode", b"pool,code\r\ncinema,TAKEN\r\n")

    assert "TAKEN is an issued coupon already." in row_errors(preview)
    assert not PoolCode.objects.exists()


def test_an_import_above_the_row_limit_is_refused(operations_clerk, client, settings):
    settings.LOYALTY_IMPORT_MAX_ROWS = 1

    preview = upload(client, "members_member", MEMBERS_FILE)

    assert "The file has 2 rows; import at most 1 at a time." in row_errors(preview)
    assert "confirm_form" not in preview.context


def test_members_import_from_xlsx_reads_numeric_cells_as_text(operations_clerk, client):
    book = openpyxl.Workbook()
    book.active.append(["external_id", "name", "phone", "birthday"])
    book.active.append([20001, "李四", 13900000000, datetime(1985, 2, 3)])
    content = io.BytesIO()
    book.save(content)

    confirm(client, "members_member", upload(client, "members_member", content.getvalue(), filename="rows.xlsx"))

    member = Member.objects.get(external_id="20001")
    assert (member.name, member.phone, str(member.birthday)) == ("李四", "13900000000", "1985-02-03")


def test_the_confirm_step_imports_only_a_file_this_session_uploaded(operations_clerk, client):
    """The confirm form names the uploaded file; a client could name any file of the temp folder, and
    the library would read and then delete it."""
    with tempfile.NamedTemporaryFile(delete=False, dir=tempfile.gettempdir()) as victim:
        victim.write(b"external_id\r\nm-evil\r\n")
    url = reverse("admin:members_member_process_import")
    for name in (os.path.basename(victim.name), victim.name, "../" + os.path.basename(victim.name), "0" * 32):
        response = client.post(url, {"import_file_name": name, "original_file_name": "x.csv", "format": "0"})
        assert response.status_code == 302
        assert os.path.exists(victim.name), name
    assert not Member.objects.filter(external_id="m-evil").exists()
    os.unlink(victim.name)

    preview = upload(client, "members_member", b"external_id,name\r\nm-new,New\r\n")
    other = Client()
    other.force_login(operations_clerk)
    other.defaults["HTTP_HOST"] = "localhost"
    stolen = other.post(url, preview.context["confirm_form"].initial)
    assert stolen.status_code == 302 and not Member.objects.exists(), "another session's upload is refused"
    confirm(client, "members_member", preview)
    assert Member.objects.filter(external_id="m-new").exists()
    again = confirm(client, "members_member", preview)
    assert again.status_code == 302
    assert any("upload the file again" in str(m) for m in get_messages(again.wsgi_request))


def test_files_that_are_not_valid_text_are_refused_on_the_form(operations_clerk, client):
    for content, filename in (
        (b'external_id,name\r\nm-1,"A\xed\xa0\x80B"\r\n', "rows.csv"),
        (b"not a zip file at all", "rows.xlsx"),
    ):
        preview = upload(client, "members_member", content, filename=filename)
        assert preview.status_code == 200
        assert preview.context["form"].errors
    assert not Member.objects.exists()


def test_xlsx_exports_drop_control_characters_a_spreadsheet_cannot_hold(login_as, client):
    MemberFactory(external_id="m-ctl", name="Bell\x07 and\x1b escape")
    login_as("members.export_member", "members.view_member")
    response = export(client, "members_member", "xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header = [cell.value for cell in sheet[1]]
    assert sheet[2][header.index("name")].value == "Bell and escape"


def test_a_file_previewed_for_one_import_cannot_be_confirmed_at_another(login_as, client):
    """Confirming at another import would skip that import's preview."""
    login_as("rewards.view_poolcode", "rewards.change_codepool", "members.view_member", "members.change_member")
    CodePoolFactory(code="cinema")
    preview = upload(client, "rewards_poolcode", b"pool,code\r\ncinema,external_id\r\n")
    assert row_errors(preview) == []
    elsewhere = client.post(reverse("admin:members_member_process_import"), preview.context["confirm_form"].initial)
    assert elsewhere.status_code == 302
    assert not Member.objects.exists()
    confirm(client, "rewards_poolcode", preview)
    assert PoolCode.objects.filter(code="external_id").exists()


def test_the_code_import_needs_the_pools_permission_in_the_admin_and_the_service(login_as, client):
    from members.errors import NotPermitted
    from rewards.services import add_pool_code

    clerk = login_as("rewards.view_poolcode", "rewards.change_poolcode")
    pool = CodePoolFactory(code="cinema")
    assert client.get(reverse("admin:rewards_poolcode_import")).status_code == 403
    with pytest.raises(NotPermitted):
        add_pool_code(pool=pool, code="X-1", actor=clerk)
    assert not PoolCode.objects.exists()


def test_an_upload_nobody_confirmed_is_removed_a_day_later(operations_clerk, client):
    from loyalty.spreadsheets import UploadStorage

    abandoned = upload(client, "members_member", b"external_id\r\nm-1\r\n").context["confirm_form"].initial
    path = os.path.join(tempfile.gettempdir(), UploadStorage.FOLDER, abandoned["import_file_name"])
    day_old = os.stat(path).st_mtime - UploadStorage.KEEP_SECONDS - 1
    os.utime(path, (day_old, day_old))
    upload(client, "members_member", b"external_id\r\nm-2\r\n")
    assert not os.path.exists(path)
