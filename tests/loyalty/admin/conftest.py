from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import UserFactory


def upload(client, admin_name: str, content: bytes, filename: str = "rows.csv"):
    """The import's first step: the file is read and dry-run; the response is the preview."""
    return client.post(
        reverse(f"admin:{admin_name}_import"),
        {"format": "0" if filename.endswith(".csv") else "1", "import_file": SimpleUploadedFile(filename, content)},
    )


def confirm(client, admin_name: str, preview):
    """The import's second step: the confirm button of the preview."""
    return client.post(reverse(f"admin:{admin_name}_process_import"), preview.context["confirm_form"].initial)


def row_errors(preview) -> list[str]:
    """The messages of the preview's invalid and failed rows."""
    result = preview.context["result"]
    invalid = [message for row in result.invalid_rows for messages in row.error_dict.values() for message in messages]
    failed = [str(error.error) for _, errors in result.row_errors() for error in errors]
    return invalid + failed + [str(error.error) for error in result.base_errors]


def grant(user, *permissions: str):
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    # Django caches a user's permissions on the instance; a fresh copy sees the new ones.
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def staff_with(db):
    """staff_with("loyalty.adjust_points", ...): a staff user holding exactly these permissions."""

    def make(*permissions: str, username: str | None = None):
        user = UserFactory(**({"username": username} if username else {}))
        return grant(user, *permissions)

    return make


@pytest.fixture
def superuser(db):
    return UserFactory(username="boss", is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client
