"""Demo data: realistic member histories, written through the program's own rules, fast.

Each member's history is planned (`behaviour`: long-tailed spend, Poisson tasks, returns,
complaints, redemptions, dormancy) and then replayed in time order through an in-memory mirror of
the engine (`replay`), which uses the program's current settings, tiers and active rules and the pure
functions of `loyalty.calculations`. The rows the engine would have written are written in bulk
(`rows`: COPY on PostgreSQL, executemany elsewhere), one transaction per chunk of members, with
primary keys assigned up front; a chunk is written in the background while the next is replayed.

Semantics chosen where "as if the engine had been called at that moment" needs a decision:

- Every event and spend is recorded at its own time: `recorded_at = created_at = occurred_at`.
- Release: a points lot counts as released from its `available_at` on (as if the release job ran at
  that instant), so spends and reversals see it as available from then. Its stored `released_at` is
  `available_at` when that is not after now, otherwise empty (still pending).
- The expiry jobs are not run: lots past `expires_at` keep their remainder (and so their growth still
  counts for the tier), as in a database where the jobs have not caught up yet. A spend does what
  `spend_points` does: it first expires the member's overdue points lots (expire entries at the
  spend's time), then takes released lots. Return reversals and deductions never take from a lot
  whose `expires_at` is at or before their time, since the expiry job would have emptied it by then
  (the engine would take from such a lot if the job had not run); what cannot be covered is a
  shortfall, as in the engine.
- Tiers only move up, on earning; the scheduled recalculation (downgrades) is not run either.
- Members are enrolled on the lowest tier at `joined_at` (an `enrolment` tier change) and all stay
  active. Referrers are earlier members of the same run; the referrer reports an `invite` event
  when the friend joins, unless the referrer was dormant by then.
- Spends are redemptions (source "demo", a unique reference) of rewards the member can afford.
- Identities are made up; e-mail addresses use the reserved example.* domains.
- Primary keys are taken after each table's current maximum when the run starts: run it when
  nothing else writes to the same tables.
"""

from .generator import DemoSummary, generate_demo_data

__all__ = ["DemoSummary", "generate_demo_data"]
