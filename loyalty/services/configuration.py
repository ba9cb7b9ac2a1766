"""One write path for the configuration: settings, event types, tiers, earning rules, and the apps'
own configuration (coupon templates, rewards, benefits, code pools ...).

Each configuration model has a `ConfigWriter` (loyalty.extensions.config_writers, registered by the
app that owns the model). The admin's forms, the spreadsheet imports and the program file all save
through it, so every write is validated the same way — the model's `full_clean()`, the writer's
cross-entity checks (a ladder that still ascends, a reward's template of the right kind ...) — and
reports the same warnings (the cost guard), and the configuration history records who did it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from members.errors import InvalidInput
from members.permissions import require_permission


def shown(value: Any) -> str:
    """A value as change lines and the program file show it: 1.100 -> 1.1, None -> null."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, models.Model):
        return str(getattr(value, "code", value.pk))
    return "null" if value is None else str(value)


@dataclass
class ConfigChange:
    instance: Any
    created: bool
    changes: list[str] = field(default_factory=list)  # one line per field changed ("tier gold: ...")
    warnings: list[str] = field(default_factory=list)  # saved, but someone should look (the cost guard)


@dataclass(frozen=True)
class ConfigWriter:
    """How one configuration model is saved. `checks` are cross-entity rules over the instance to
    be saved (raise InvalidInput with `fields`); `warnings(instance)` are shown, never refused."""

    model: type[models.Model]
    label: str  # in change lines: "tier gold: threshold 6000 -> 6500"
    checks: Sequence[Callable[[Any], None]] = ()
    warnings: Callable[[Any], list[str]] | None = None
    # Fields that change only through a service of their own (the approval limits).
    elsewhere: frozenset[str] = frozenset()

    def _permission(self, action: str) -> str:
        meta = self.model._meta
        return f"{meta.app_label}.{action}_{meta.model_name}"

    def validate(self, instance, *, checked: bool = False) -> None:
        """full_clean() and (unless `checked`) the cross-entity checks, as InvalidInput with per-field
        messages."""
        try:
            instance.full_clean()
        except ValidationError as error:
            fields = {name: [str(message) for message in messages_] for name, messages_ in error.message_dict.items()}
            raise InvalidInput(f"The {self.label} is not valid.", fields=fields) from None
        for check in () if checked else self.checks:
            check(instance)

    def save(
        self,
        instance,
        *,
        actor,
        fields: Iterable[str] | None = None,
        many_to_many: dict[str, Iterable[Any]] | None = None,
        checked: bool = False,
        before=None,
    ) -> ConfigChange:
        """Create `instance` (no pk yet) or change its `fields` (default: every editable field): the
        stored row is locked and compared with the instance for the change lines, and only what
        changed is written (a counter the services move meanwhile, such as a reward's redeemed
        quantity, is never written back). `many_to_many` sets those relations after the save. A staff
        `actor` needs the model's add permission to create, its change permission to change.
        `checked=True` skips the cross-entity checks for a caller that checked them over every row it
        writes, and `before` is the row as it was before that caller's own preparatory writes, for the
        change lines (the program file's ladder, whose tiers are parked on values no tier keeps while
        they swap ranks)."""
        creating = instance._state.adding
        with transaction.atomic():
            if creating:
                self._require(actor, "add")
                self.validate(instance, checked=checked)
                self._save(instance, actor, update_fields=None)
                change = ConfigChange(instance, created=True, changes=[f"{self._name(instance)}: created"])
            else:
                stored = before or type(instance)._default_manager.select_for_update().get(pk=instance.pk)
                editable = {f.name for f in self._editable()}
                names = [name for name in fields if name in editable] if fields is not None else sorted(editable)
                changed = [name for name in names if getattr(stored, name) != getattr(instance, name)]
                if refused := sorted(self.elsewhere.intersection(changed)):
                    raise InvalidInput(
                        f"{', '.join(refused)} change only through their own service.",
                        fields={name: ["Changed elsewhere."] for name in refused},
                    )
                self.validate(instance, checked=checked)
                lines = [
                    f"{self._name(instance)}: {name} {shown(getattr(stored, name))} -> {shown(getattr(instance, name))}"
                    for name in changed
                ]
                if changed:
                    self._require(actor, "change")
                    auto_now = [f.name for f in self.model._meta.concrete_fields if getattr(f, "auto_now", False)]
                    self._save(instance, actor, update_fields=[*changed, *auto_now])
                change = ConfigChange(instance, created=False, changes=lines)
            for name, related in (many_to_many or {}).items():
                change.changes += self._set_many(instance, name, list(related), actor)
            if self.warnings is not None:
                change.warnings = self.warnings(instance)
        return change

    def _require(self, actor, action: str) -> None:
        """Only a write needs the permission: saving a row unchanged (a whole exported program file
        uploaded by someone who changed only its settings) is allowed to anyone who may save."""
        require_permission(
            actor,
            self._permission(action),
            f"You may not {action} {self.model._meta.verbose_name_plural}.",
        )

    def _editable(self) -> list[models.Field]:
        return [f for f in self.model._meta.concrete_fields if f.editable and not f.primary_key]

    def _name(self, instance) -> str:
        code = getattr(instance, "code", None)
        return f"{self.label} {code}" if code else self.label  # the settings are one row: "settings"

    @staticmethod
    def _save(instance, actor, update_fields: list[str] | None) -> None:
        if actor is not None:
            instance._history_user = actor  # django-simple-history's user outside a request
        instance.save(update_fields=update_fields)

    def _set_many(self, instance, name: str, related: list[Any], actor) -> list[str]:
        manager = getattr(instance, name)
        before = {shown(row) for row in manager.all()}
        after = {shown(row) for row in related}
        if before == after:
            return []
        self._require(actor, "change")
        manager.set(related)
        was, now = ",".join(sorted(before)) or "-", ",".join(sorted(after)) or "-"
        return [f"{self._name(instance)}: {name} {was} -> {now}"]


# --- the engine's configuration --------------------------------------------------------------------


def _ladder_stays_valid(tier) -> None:
    from loyalty.calculations import LadderError, TierStep, validate_ladder
    from loyalty.models import Tier

    others = [TierStep(t.code, t.rank, t.threshold) for t in Tier.objects.exclude(pk=tier.pk)]
    try:
        validate_ladder([*others, TierStep(tier.code, tier.rank, tier.threshold)])
    except LadderError as error:
        raise InvalidInput(str(error), fields={"threshold": [str(error)]}) from None


def register() -> None:
    from loyalty import extensions
    from loyalty.models import EarningRule, EventType, ProgramSettings, Storefront, Tier

    writers = [
        ConfigWriter(
            ProgramSettings, "settings", elsewhere=frozenset({"approval_limit_points", "approval_limit_growth"})
        ),
        ConfigWriter(EventType, "event type"),
        ConfigWriter(Tier, "tier", checks=(_ladder_stays_valid,)),
        ConfigWriter(EarningRule, "rule"),
        ConfigWriter(Storefront, "storefront"),
    ]
    for writer in writers:
        extensions.config_writers.register(writer.model._meta.label, writer)


def writer_for(model) -> ConfigWriter:
    from loyalty import extensions

    return extensions.config_writers[model._meta.label]
