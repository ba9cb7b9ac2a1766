import pytest
from django.contrib.auth.models import Permission

from tests.factories import UserFactory


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
