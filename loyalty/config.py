"""The program's configuration as the engine reads it on every event, cached per process.

Settings, ladder, active rules and event types change rarely, but recording an event used to read
them five times. Database triggers (migration 0008) give the settings row a new random
`config_version` on every change to any of them, so one read of that row tells whether the cached
copy is still current. The cached model instances are shared between threads: never mutate them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from loyalty.models import EarningRule, EventType, ProgramSettings, Tier
from members.db import fetch_all


@dataclass(frozen=True)
class ProgramConfig:
    settings: ProgramSettings
    ladder: tuple[Tier, ...]  # by rank, lowest first
    rules_by_event_type: dict[str, tuple[EarningRule, ...]]  # active rules, by code
    event_types: frozenset[str]

    @property
    def version(self) -> int:
        return self.settings.config_version

    def tier(self, tier_id: int) -> Tier:
        return next(t for t in self.ladder if t.pk == tier_id)

    def rules_for(self, event_type: str) -> tuple[EarningRule, ...]:
        return self.rules_by_event_type.get(event_type, ())


_cached: ProgramConfig | None = None


def current_config() -> ProgramConfig:
    """The configuration as committed now (or as changed by the current transaction)."""
    global _cached
    cached = _cached
    if cached is not None and cached.version == _stored_version():
        return cached
    settings = _settings_row()
    rules: dict[str, list[EarningRule]] = defaultdict(list)
    for rule in EarningRule.objects.filter(is_active=True).order_by("code"):
        rules[rule.event_type_id].append(rule)
    config = ProgramConfig(
        settings=settings,
        ladder=tuple(Tier.objects.order_by("rank")),
        rules_by_event_type={code: tuple(items) for code, items in rules.items()},
        event_types=frozenset(EventType.objects.values_list("code", flat=True)),
    )
    _cached = config
    return config


def config_at_version(version: int | None) -> ProgramConfig:
    """`current_config()` for a caller that read the settings row's config_version in a statement
    of its own (one round trip less): the cached copy when it has that version, else a fresh read."""
    cached = _cached
    if cached is not None and cached.version == version:
        return cached
    return current_config()


def last_config() -> ProgramConfig:
    """The configuration last read in this process, unchecked: a guess for building a statement that
    also reads config_version and then checks it with `config_at_version`."""
    return _cached or current_config()


def _stored_version() -> int | None:
    """The settings row's config_version alone: the check every API request makes costs a tenth of
    reading the whole row through the ORM. None when there is no row yet."""
    meta = ProgramSettings._meta
    rows = fetch_all(
        f"SELECT config_version FROM {meta.db_table} WHERE {meta.pk.column} = %s",
        [ProgramSettings.SINGLETON_PK],
        prepare=True,
    )
    return rows[0][0] if rows else None


def _settings_row() -> ProgramSettings:
    settings = ProgramSettings.objects.filter(pk=ProgramSettings.SINGLETON_PK).first()
    if settings is None:
        ProgramSettings.current()
        # Re-read: the version is the one the insert trigger chose, not the model default.
        settings = ProgramSettings.objects.get(pk=ProgramSettings.SINGLETON_PK)
    return settings
