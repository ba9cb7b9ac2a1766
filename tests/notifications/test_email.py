"""Notifications by email end to end: the outbox's events make them, the sender writes them in the
member's language (Django's locmem backend keeps what was sent), consent and quiet hours decide
what goes, and the unsubscribe link withdraws the consent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from loyalty import outbox
from loyalty.models import Tier
from loyalty.services import adjust_growth
from members.models import DomainEvent
from members.services import update_member
from notifications import reasons, services
from notifications.models import Notification
from tests.notifications.conftest import only_email, relay_and_send

pytestmark = pytest.mark.django_db


def upgrade(member, user, growth=600):
    adjust_growth(member=member, amount=growth, reason="goodwill", actor=user)


def test_an_upgrade_is_emailed_in_english(enrol, user):
    member = enrol("M-1", name="Ann")
    upgrade(member, user)
    relay_and_send()
    email = only_email()
    bronze = Tier.objects.get(code="bronze").name
    assert email.to == ["m-1@example.com"]
    assert email.subject == f"Welcome to {bronze}"
    assert "Hello Ann," in email.body and f"to {bronze}" in email.body
    assert "List-Unsubscribe" not in email.extra_headers  # transactional: no unsubscribe
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html" and f"Welcome to {bronze}" in html
    notification = Notification.objects.get(channel="email")
    assert (notification.status, notification.kind, notification.reason) == ("sent", "tier.upgraded", "")
    assert notification.sent_at is not None and notification.attempts == 1


def test_a_member_who_reads_chinese_gets_chinese(enrol, user):
    member = enrol("M-2", name="李雷", language="zh-hans")
    upgrade(member, user)
    relay_and_send()
    email = only_email()
    assert email.subject.startswith("恭喜您升级为")
    assert "李雷，您好" in email.body


def test_the_programs_language_when_the_member_chose_none(enrol, user, notification_settings):
    notification_settings.default_language = "zh-hans"
    notification_settings.save()
    upgrade(enrol("M-3"), user)
    relay_and_send()
    assert only_email().subject.startswith("恭喜您升级为")


def test_names_are_not_html_escaped_in_the_text(enrol, user):
    member = enrol("M-4", name="O'Brien & <Co>")
    upgrade(member, user)
    relay_and_send()
    email = only_email()
    assert "Hello O'Brien & <Co>," in email.body
    assert "O&#x27;Brien &amp; &lt;Co&gt;" in email.alternatives[0][0]  # escaped in the HTML part


def test_no_email_address_is_suppressed_and_says_so(enrol, user):
    member = enrol("M-5", email="")
    upgrade(member, user)
    relay_and_send()
    assert mail.outbox == []
    notification = Notification.objects.get(channel="email")
    assert (notification.status, notification.reason) == ("suppressed", reasons.NO_ADDRESS)


def test_each_event_makes_one_notification_however_often_it_is_handed_over(enrol, user):
    member = enrol("M-6")
    upgrade(member, user)
    outbox.relay()
    events = [outbox.OutboxEvent.of(row, 0) for row in DomainEvent.objects.filter(type="tier.upgraded")]
    services.make_notifications(events)  # the relay handing the same events again
    services.make_notifications(events)
    assert Notification.objects.filter(channel="email").count() == 1
    services.send_due()
    assert len(mail.outbox) == 1


def test_old_events_tell_no_one_and_say_so(enrol, user):
    member = enrol("M-7")
    upgrade(member, user)
    DomainEvent.objects.filter(type="tier.upgraded").update(occurred_at=timezone.now() - timedelta(days=2))
    relay_and_send()
    assert mail.outbox == []
    assert set(Notification.objects.values_list("status", "reason")) == {("suppressed", reasons.TOO_OLD)}


def test_a_kind_turned_off_makes_none_and_one_turned_off_meanwhile_is_suppressed(enrol, user, notification_settings):
    notification_settings.email_kinds = ["tier.downgraded"]
    notification_settings.save()
    upgrade(enrol("M-8"), user)
    outbox.relay()
    assert not Notification.objects.filter(channel="email").exists()
    notification_settings.email_kinds = ["tier.upgraded"]
    notification_settings.save()
    upgrade(enrol("M-9"), user)
    outbox.relay()
    notification_settings.email_kinds = []
    notification_settings.save()
    services.send_due()
    assert mail.outbox == []
    assert Notification.objects.get(channel="email").reason == reasons.CHANNEL_OFF


def test_a_failing_mail_server_is_tried_again_then_failed(enrol, user, settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.RefusingBackend"
    upgrade(enrol("M-10"), user)
    relay_and_send()
    notification = Notification.objects.get(channel="email")
    assert (notification.status, notification.reason) == ("pending", reasons.RETRYING)
    assert "SMTPRecipientsRefused" in notification.error
    assert notification.send_after > timezone.now() + timedelta(minutes=4)
    for _retry in services.RETRY_AFTER:
        Notification.objects.filter(pk=notification.pk).update(send_after=timezone.now())
        services.send_due()
    notification.refresh_from_db()
    assert (notification.status, notification.reason, notification.attempts) == ("failed", reasons.SEND_FAILED, 4)


def test_a_sender_that_died_mid_send_leaves_it_to_be_sent_again(enrol, user):
    upgrade(enrol("M-11"), user)
    outbox.relay()
    _lease_end, taken = services._claim(10)
    assert len(taken) == 2  # email and message, now "sending" under a lease
    assert services.send_due() == 0  # another sender leaves them alone while the lease runs
    Notification.objects.update(send_after=timezone.now())  # the lease ran out: the sender died
    assert services.send_due() == 2
    assert len(mail.outbox) == 1


# --- marketing: consent, quiet hours, the daily cap ---------------------------------------------------


def coupon_expiring(member, value="10.00"):
    """A coupon.expiring event as the nightly job writes it."""
    from django.db import transaction

    from members.outbox import publish

    with transaction.atomic():
        publish(
            "coupon.expiring",
            member=member,
            payload={
                "coupon_id": 1,
                "template": "none",
                "kind": "amount_off",
                "value": value,
                "valid_until": (timezone.now() + timedelta(days=3)).isoformat(),
            },
        )


def test_marketing_goes_only_to_members_who_opted_in(enrol):
    quiet = enrol("M-20")
    keen = enrol("M-21", marketing_opt_in=True)
    coupon_expiring(quiet)
    coupon_expiring(keen)
    relay_and_send()
    email = only_email()
    assert email.to == ["m-21@example.com"]
    suppressed = Notification.objects.get(member=quiet, channel="email")
    assert (suppressed.status, suppressed.reason) == ("suppressed", reasons.NOT_OPTED_IN)


def test_consent_withdrawn_before_sending_is_respected(enrol):
    member = enrol("M-22", marketing_opt_in=True)
    coupon_expiring(member)
    outbox.relay()
    update_member(member=member, changes={"marketing_opt_in": False})
    services.send_due()
    assert mail.outbox == []
    assert Notification.objects.get(channel="email").reason == reasons.NOT_OPTED_IN


def test_marketing_waits_for_the_end_of_the_quiet_hours(enrol, notification_settings, program, user):
    local_now = timezone.localtime(timezone.now(), program.zone)
    notification_settings.quiet_hours_start = (local_now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    notification_settings.quiet_hours_end = (local_now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    notification_settings.save()
    member = enrol("M-23", marketing_opt_in=True)
    coupon_expiring(member)
    relay_and_send()
    assert mail.outbox == []
    waiting = Notification.objects.get(channel="email")
    assert (waiting.status, waiting.reason) == ("pending", reasons.QUIET_HOURS)
    expected_end = local_now + timedelta(hours=1)
    assert abs(waiting.send_after - expected_end) < timedelta(minutes=1)
    # Transactional messages are not held: an upgrade in the same hours goes at once.
    adjust_growth(member=member, amount=600, reason="goodwill", actor=user)
    relay_and_send()
    assert [email.subject for email in mail.outbox] == [f"Welcome to {Tier.objects.get(code='bronze').name}"]
    mail.outbox.clear()
    Notification.objects.filter(pk=waiting.pk).update(send_after=timezone.now())  # the hours ended ...
    notification_settings.quiet_hours_start = notification_settings.quiet_hours_end  # ... (none now)
    notification_settings.save()
    services.send_due()
    assert only_email().subject.startswith("Your coupon")


def test_the_daily_cap_suppresses_the_rest_of_the_days_marketing(enrol, notification_settings):
    notification_settings.daily_marketing_cap = 1
    notification_settings.save()
    member = enrol("M-24", marketing_opt_in=True)
    coupon_expiring(member)
    coupon_expiring(member)
    relay_and_send()
    assert len(mail.outbox) == 1
    statuses = sorted(Notification.objects.filter(channel="email").values_list("status", "reason"))
    assert statuses == [("sent", ""), ("suppressed", reasons.DAILY_CAP)]


def test_a_marketing_email_carries_a_working_one_click_unsubscribe(enrol, client):
    member = enrol("M-25", marketing_opt_in=True, language="zh-hans")
    coupon_expiring(member)
    relay_and_send()
    email = only_email()
    url = services.unsubscribe_url(member)
    assert email.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in email.body and url in email.alternatives[0][0]
    path = url.removeprefix("http://127.0.0.1:8000")
    page = client.get(path)  # what a mail scanner follows: it changes nothing
    assert page.status_code == 200 and "退订" in page.content.decode()
    member.refresh_from_db()
    assert member.marketing_opt_in
    one_click = client.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert one_click.status_code == 200
    member.refresh_from_db()
    assert not member.marketing_opt_in and member.marketing_opt_in_changed_at is not None
    assert DomainEvent.objects.filter(type="member.updated", member=member).exists()
    assert client.get(path).status_code == 200  # says "not subscribed"


def test_a_forged_unsubscribe_link_changes_nothing(enrol, client):
    member = enrol("M-26", marketing_opt_in=True)
    token = services.unsubscribe_token(member)
    other = enrol("M-27", marketing_opt_in=True)
    forged = token.replace(str(member.pk), str(other.pk), 1)
    assert client.post(f"/notifications/unsubscribe/{forged}/").status_code == 404
    assert client.post("/notifications/unsubscribe/nonsense/").status_code == 404
    other.refresh_from_db()
    assert other.marketing_opt_in


def test_an_anymail_provider_gets_the_kind_as_a_tag_and_the_id_as_metadata(enrol, user, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {"TEST_SAMPLE_SETTING": "x"}
    upgrade(enrol("M-30"), user)
    relay_and_send()
    email = only_email()
    notification = Notification.objects.get(channel="email")
    assert email.tags == ["tier.upgraded"]
    assert email.metadata == {"notification_id": str(notification.pk)}
    assert email.anymail_status.status == {"sent"}


def test_one_notification_that_cannot_be_written_fails_alone(enrol, user, monkeypatch):
    """A broken template (an override with an error) fails its notification, recorded and tried
    again later; the rest of the batch goes."""
    from notifications import email as writing

    upgrade(enrol("M-40"), user)
    upgrade(enrol("M-41"), user)
    outbox.relay()
    broken = Notification.objects.filter(channel="email").order_by("id").first()
    real = writing.message_text

    def message_text(notification, member, config):
        if notification.pk == broken.pk:
            raise ValueError("the template is broken")
        return real(notification, member, config)

    monkeypatch.setattr(writing, "message_text", message_text)
    services.send_due()
    assert [email.to for email in mail.outbox] == [["m-41@example.com"]]
    broken.refresh_from_db()
    assert (broken.status, broken.reason, broken.attempts) == ("pending", reasons.RETRYING, 1)
    assert broken.error == "ValueError: the template is broken"


def test_a_sender_whose_lease_ran_out_records_nothing_over_the_one_that_took_over(enrol, user, settings):
    """The first sender's send fails late; by then the notification was taken again and sent."""
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.RefusingBackend"
    upgrade(enrol("M-42"), user)
    outbox.relay()
    notification = Notification.objects.get(channel="email")
    Notification.objects.filter(pk=notification.pk).update(status="sending", attempts=2)  # the other sender's
    services._record_failure(notification.pk, RuntimeError("late"), address="m-42@example.com", attempt=1)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.error) == ("sending", 2, "")


def test_a_refused_address_is_not_kept_in_the_error(enrol, user, settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.RefusingBackend"
    upgrade(enrol("M-43", email="someone@example.com"), user)
    relay_and_send()
    notification = Notification.objects.get(channel="email")
    assert "someone@example.com" not in notification.error and "SMTPRecipientsRefused" in notification.error


def test_the_deploy_check_wants_a_public_https_address_for_the_links(settings):
    from notifications.checks import site_url_is_public_https

    settings.NOTIFICATIONS_SITE_URL = "http://127.0.0.1:8000"
    assert [error.id for error in site_url_is_public_https(None)] == ["notifications.E001"]
    settings.NOTIFICATIONS_SITE_URL = "https://loyalty.example.com"
    assert site_url_is_public_https(None) == []


def test_a_mail_server_that_cannot_be_reached_stops_the_batch(enrol, user, settings, notification_settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.UnreachableBackend"
    notification_settings.message_kinds = []
    notification_settings.save()
    for n in range(3):
        upgrade(enrol(f"M-5{n}"), user)
    outbox.relay()
    assert services.send_due() == 3
    tried = Notification.objects.get(attempts=1)
    assert (tried.status, tried.reason) == ("pending", reasons.RETRYING)
    assert "ConnectionRefusedError" in tried.error
    untouched = Notification.objects.filter(channel="email").exclude(pk=tried.pk)
    assert set(untouched.values_list("status", "attempts")) == {("pending", 0)}  # back, no attempt lost
    assert all(n.send_after > timezone.now() + timedelta(seconds=30) for n in untouched)


def test_a_connection_broken_mid_batch_is_opened_again_for_the_next(enrol, user, settings):
    from tests.notifications import failing_backend

    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.OneMessagePerConnection"
    failing_backend.OneMessagePerConnection.sent.clear()
    for n in range(3):
        upgrade(enrol(f"M-6{n}"), user)
    outbox.relay()
    services.send_due()
    statuses = sorted(Notification.objects.filter(channel="email").values_list("status", flat=True))
    assert statuses == ["pending", "sent", "sent"]  # the second message broke its connection; the third got a new one
    assert len(failing_backend.OneMessagePerConnection.sent) == 2
