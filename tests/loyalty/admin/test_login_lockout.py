"""Brute force on the admin login: five failures lock that username from that address out, even with
the right password, until the cool-off ends or a superuser removes the access attempt."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.loyalty.api.conftest import client_for

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def clerk(db):
    return get_user_model().objects.create_user("clerk", password=PASSWORD, is_staff=True)


def log_in(client: Client, password: str, *, username: str = "clerk", address: str = "127.0.0.1"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        HTTP_HOST="localhost",
        REMOTE_ADDR=address,
    )


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def lock_out(client: Client) -> list[int]:
    return [log_in(client, f"guess {attempt}").status_code for attempt in range(5)]


def test_five_failed_logins_lock_out_and_the_right_password_is_then_refused(client, clerk):
    assert lock_out(client) == [200, 200, 200, 200, 429]

    response = log_in(client, PASSWORD)

    assert response.status_code == 429 and not logged_in(client)
    page = response.content.decode()
    assert "Too many failed logins (5) for this account from your address. Try again in 30 minutes" in page
    assert 'id="login-form"' in page


def test_fewer_failures_then_the_right_password_log_in_and_start_the_count_again(client, clerk):
    for attempt in range(4):
        log_in(client, f"guess {attempt}")
    assert log_in(client, PASSWORD).status_code == 302 and logged_in(client)

    client.logout()
    assert [log_in(client, f"again {attempt}").status_code for attempt in range(4)] == [200] * 4


def test_the_lockout_is_for_that_username_from_that_address(client, clerk):
    get_user_model().objects.create_user("colleague", password=PASSWORD, is_staff=True)
    lock_out(client)

    assert log_in(Client(), PASSWORD, username="colleague").status_code == 302
    assert log_in(Client(), PASSWORD, address="192.0.2.7").status_code == 302


def test_a_superuser_unlocks_the_account_in_the_access_attempts_admin(client, clerk):
    lock_out(client)
    superuser = Client()
    superuser.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    attempt = AccessAttempt.objects.get(username="clerk")

    superuser.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}, HTTP_HOST="localhost"
    )

    assert not AccessAttempt.objects.exists()
    assert log_in(client, PASSWORD).status_code == 302 and logged_in(client)


def test_api_keys_still_authenticate_from_a_locked_out_address(client, clerk):
    lock_out(client)
    api = client_for("web shop")

    response = api.post("/api/v1/members/", {"external_id": "m-1"}, format="json", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 201
