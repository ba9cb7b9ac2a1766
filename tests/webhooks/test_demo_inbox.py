"""The demo's inbox (webhooks.demo): it verifies what arrives as a receiver would and lists it."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django.utils import timezone

from webhooks import demo, selectors, signing
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


def post(body: bytes, headers: dict[str, str]):
    request = RequestFactory().post(demo.INBOX_PATH, data=body, content_type="application/json", headers=headers)
    return demo.inbox(request)


def test_the_demo_step_registers_the_inbox_and_the_page_lists_what_verified(program):
    cache.delete(demo.KEPT)
    demo.setup(io.StringIO(), seed=1)
    endpoint = Endpoint.objects.get(url=demo.INBOX_URL)
    (secret,) = selectors.signing_secrets(endpoint.pk, now=timezone.now())
    body = b'{"id":"e-1","type":"tier.upgraded","member":"M-7","data":{"to":"gold"}}'
    signed = signing.headers(message_id="e-1", timestamp=timezone.now(), body=body, secrets=[secret])
    assert post(body, signed).status_code == 204
    assert post(body.replace(b"gold", b"diamond"), signed).status_code == 400  # tampered

    page = demo.page(RequestFactory().get("/demo/webhooks/")).content.decode()
    assert page.count("tier.upgraded") == 2 and "M-7" in page
    assert "verified" in page and "No matching signature found" in page
