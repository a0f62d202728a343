"""The oldest in-flight write transaction on the event store: where a backfill's upper bound stops.

The backfill keys on ``(inserted_at, event_id)``, and ``inserted_at`` defaults to ``now()``, the
*start* time of the producer's transaction. A transaction that began at T0 and commits an hour
later adds rows at T0 behind keys other transactions committed meanwhile; if a run had already
moved the watermark past T0 - lookback, those rows would never be read. So each run's upper bound
is capped strictly below the ``xact_start`` of the oldest other transaction that has written
(``pg_stat_activity.backend_xid`` set): rows it commits later are still ahead of the watermark.

What this cannot see, and the net that covers it:

- a transaction that has not written yet (no xid) but will, with ``inserted_at = now()`` of its
  start: covered by the lookback window, which only has to exceed the time between a
  transaction's start and its first write;
- producers that set ``inserted_at`` themselves (clock skew): the lookback window again, then the
  nightly reconciliation (``reconcile: true`` deployment), which alerts on any gap;
- a role that may not see other users' sessions (no ``pg_read_all_stats``: PostgreSQL shows it
  their ``backend_xid`` but not their ``xact_start``), or a hot standby (its ``pg_stat_activity``
  does not list the primary's writers): the cap is **unavailable** for the writers it cannot place
  in time; the run caps at the writers it can see, relies on the lookback for the rest, and logs a
  warning naming the grant that fixes it. The plan records ``inflight_source="unavailable"``.

Embedded ``pgserver`` and the server both run as a role that sees every session of its database
(the postgres superuser, or the owner of the producers' sessions), so the cap applies there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg2.extensions

from cardflow.sqlfiles import named_statements

logger = logging.getLogger(__name__)

CapSource = Literal["none_in_flight", "oldest_writer", "unavailable"]


@dataclass(frozen=True)
class InFlightCap:
    """What the planning session saw: the exclusive bound on ``inserted_at``, if any, and why.

    ``before`` is None when no other transaction has written (nothing to wait for). With
    ``source == "unavailable"`` some writers could not be placed in time (``reason`` says what to
    grant): ``before`` is then the oldest writer the role could see, if any.
    """

    before: datetime | None
    source: CapSource
    reason: str = ""


def oldest_inflight_write(conn: psycopg2.extensions.connection) -> InFlightCap:
    """Inspect the event store's in-flight writers from ``conn`` (the backfill's planning session).

    Does nothing to the store (one read-only query; the session's transaction is ended).
    """
    query = named_statements("inflight.sql", __file__)["inflight_writers"]
    with conn.cursor() as cur:
        cur.execute(query)
        oldest, hidden, in_recovery = cur.fetchone()
    conn.commit()
    if in_recovery:
        return _unavailable(
            None,
            "the planning session is on a hot standby, whose pg_stat_activity does not list the "
            "primary's writers; point the backfill at the primary (POSTGRES_HOST) to cap its range",
        )
    if hidden:
        return _unavailable(
            oldest,
            f"{hidden} in-flight write transaction(s) of other users hide their start time from this "
            "role; GRANT pg_read_all_stats TO the backfill's role so every writer caps the range",
        )
    if oldest is None:
        return InFlightCap(None, "none_in_flight")
    return InFlightCap(oldest, "oldest_writer")


def _unavailable(visible_oldest: datetime | None, reason: str) -> InFlightCap:
    logger.warning(
        "backfill: in-flight writes cannot all be seen (%s); capping at the oldest visible writer "
        "(%s) and relying on the lookback window for the rest",
        reason,
        visible_oldest.isoformat() if visible_oldest else "none",
    )
    return InFlightCap(visible_oldest, "unavailable", reason)
