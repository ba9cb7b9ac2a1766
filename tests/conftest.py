from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from loyalty.models import ProgramSettings, Tier
from loyalty.services import adjust_growth, adjust_points

from .factories import EarningRuleFactory, EventTypeFactory, MemberFactory, UserFactory
from .helpers import ensure_default_program


@pytest.fixture
def program(db) -> ProgramSettings:
    """The default program (migration 0003) with its settings row."""
    ensure_default_program()
    return ProgramSettings.current()


@pytest.fixture
def configure_program(program):
    """configure_program(pending_days=7, downgrade_policy="to_qualifying", ...) -> the saved settings."""

    def configure(**fields) -> ProgramSettings:
        settings = ProgramSettings.current()
        for name, value in fields.items():
            setattr(settings, name, value)
        settings.full_clean()
        settings.save()
        return settings

    return configure


@pytest.fixture
def tiers(program) -> dict[str, Tier]:
    """The default ladder by code: normal 0, bronze 500, silver 2000, gold 6000, platinum 15000, diamond 40000."""
    return {tier.code: tier for tier in Tier.objects.order_by("rank")}


@pytest.fixture
def user(db):
    """A staff member who may change members (and so their tiers) and adjust balances."""
    from django.contrib.auth.models import Permission

    staff = UserFactory()
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["members", "loyalty"],
            codename__in=["change_member", "adjust_points", "adjust_growth"],
        )
    )
    return type(staff).objects.get(pk=staff.pk)


@pytest.fixture
def member(program):
    return MemberFactory()


@pytest.fixture
def make_member(program):
    return MemberFactory


@pytest.fixture
def task_type(program):
    """An event type no default rule matches."""
    return EventTypeFactory()


@pytest.fixture
def make_rule(program):
    """make_rule(event_type="check_in" | EventType, growth=..., points=..., daily_limit=..., ...)."""

    def make(event_type=None, **fields):
        if isinstance(event_type, str):
            event_type = EventTypeFactory(code=event_type)
        if event_type is not None:
            fields["event_type"] = event_type
        return EarningRuleFactory(**fields)

    return make


@pytest.fixture
def give_growth(user):
    """give_growth(member, amount): a staff adjustment, so the ledgers stay consistent."""

    def give(member, amount: int):
        adjust_growth(member=member, amount=amount, reason="test setup", actor=user)
        member.refresh_from_db()
        return member

    return give


@pytest.fixture
def give_points(user):
    """give_points(member, amount, expires_at=...): an available lot from a staff adjustment."""

    def give(member, amount: int, expires_at=None):
        entry = adjust_points(member=member, amount=amount, reason="test setup", actor=user, expires_at=expires_at)
        member.refresh_from_db()
        return entry

    return give


@pytest.fixture
def role_user(db):
    """role_user("Operations") -> a staff user whose only permissions are those of that role's group."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    def make(role: str, username: str | None = None):
        user = UserFactory(username=username or f"{role.lower()}-user")
        user.groups.add(Group.objects.get(name=role))
        return get_user_model().objects.get(pk=user.pk)  # a fresh copy: permissions are cached per instance

    return make


@pytest.fixture
def audited_afterwards(transactional_db):
    """After a concurrency scenario, `loyalty_audit`'s checks find nothing: every cached balance
    equals its ledger, every lot its allocations, every tier its growth (torn down before the
    transactional database is flushed)."""
    from loyalty.audit import audit

    yield
    assert audit() == []


@pytest.fixture
def login_as(client, program):
    """login_as("members.view_member", ...) -> a staff user with exactly these permissions, logged in
    on the test client (which then returns to the admin as that user)."""

    def login(*permissions: str, username: str = "clerk"):
        user = UserFactory(username=username)
        for permission in permissions:
            app_label, codename = permission.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        client.force_login(user)
        client.defaults["HTTP_HOST"] = "localhost"
        return user

    return login
