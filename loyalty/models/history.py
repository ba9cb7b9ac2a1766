"""Configuration history (django-simple-history): every save and delete of these models writes a
historical row with who (the request's user, recorded by HistoryRequestMiddleware), when and every
value, and the admin's History page of an object lists each change with its old and new values.

QuerySet.update() and bulk writes bypass the history, so the configuration is written with save():
the admin's forms, the program file (loyalty.services.program) and the spreadsheet imports do."""

from simple_history import register

from .events import EventType
from .program import ProgramSettings
from .rules import EarningRule
from .storefronts import Storefront
from .tiers import Tier

# config_version is set by database triggers (migration 0008): the value in memory is stale.
register(ProgramSettings, excluded_fields=["config_version"])
register(Tier)
register(EventType)
register(EarningRule)
register(Storefront)
