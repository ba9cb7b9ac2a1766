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
- The scheduled jobs run as simulated time passes, at their beat times in the program's zone
  (`MemberReplay.run_jobs_until`, up to the start of the generator's day): each night the points
  and then the growth lots due by then expire (one expire entry per lot), and on the 1st tiers are
  recalculated under the downgrade policy (tier changes with the job's period). So the first real
  night after the demo starts expires about one day's lots. A spend still does what `spend_points`
  does: it first expires the member's lots that came due since the night's job. Return reversals
  and deductions never take from a lot whose `expires_at` is at or before their time.
- Tiers move up on earning and follow the recalculation; returns move them as `record_event` does.
- Members are enrolled on the lowest tier at `joined_at` (an `enrolment` tier change) and all stay
  active. Referrers are earlier members of the same run; the referrer reports an `invite` event
  when the friend joins, unless the referrer was dormant by then.
- Spends are points payments at checkout (source "demo", the order as reference) that the member
  can afford. Points-mall redemptions are not part of the history: the rewards app's demo step makes
  them through its redemption service, against the catalog, when the demo starts.
- Identities are made up; e-mail addresses use the reserved example.* domains.
- Primary keys are taken after each table's current maximum when the run starts: run it when
  nothing else writes to the same tables.
"""

from .generator import DemoSummary, generate_demo_data

__all__ = ["DemoSummary", "generate_demo_data"]
