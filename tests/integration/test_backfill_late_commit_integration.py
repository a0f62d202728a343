"""Late commits: a producer transaction open longer than the lookback still lands in Bronze.

Fault injected: a real producer transaction on the real PostgreSQL inserts with ``inserted_at``
defaulting to ``now()`` (its start time) and stays open while other producers commit newer rows
and a backfill run moves the watermark; the lookback window is 0, so the window alone would lose
the late rows. The run's upper bound must stop below the open transaction, and the next run after
its COMMIT must land its rows. A second test runs the planning as a role that may not see other
users' sessions and checks the stated fallback.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.bronze.layout import is_part_key
from cardflow.bronze.store import BronzeStore
from cardflow.settings import Settings
from cardflow.sources.eventstore import extract
from cardflow.sources.eventstore import store as eventstore
from cardflow.sources.eventstore.backfill import run_backfill
from cardflow.sources.eventstore.inflight import oldest_inflight_write
from cardflow.sources.eventstore.plan import plan_backfill

pytestmark = pytest.mark.integration

ORDER = {
    "order_id": "LATE",
    "order_ts": "2026-10-03T10:00:00+00:00",
    "customer_id": "C",
    "sku": "S",
    "quantity": 1,
    "price": {"units": 100, "scale": 2},
    "status": "PAID",
}


def _connect(settings: Settings, user: str | None = None) -> psycopg2.extensions.connection:
    params = eventstore.server_params(settings)
    if user:
        params = params | {"user": user}
    return psycopg2.connect(**params)


def _insert(conn: psycopg2.extensions.connection, settings: Settings, n: int) -> list[str]:
    """``n`` orders with ``inserted_at`` left to its default (the transaction's start time)."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    with conn.cursor() as cur:
        for event_id in ids:
            cur.execute(
                f"INSERT INTO {settings.events_table} (event_id, source, event_type, payload) "
                "VALUES (%s, 'orders', 'OrderCreated', %s::jsonb)",
                (event_id, json.dumps(ORDER | {"order_id": event_id})),
            )
    return ids


def _in_bronze(store: BronzeStore, settings: Settings) -> set[str]:
    import gzip

    ids = set()
    for key in store.list_keys(settings.s3_prefix + "/"):
        if is_part_key(key):
            for line in gzip.decompress(store.read_bytes(key)).decode().splitlines():
                ids.add(json.loads(line)["event_id"])
    return ids


@pytest.fixture
def store_settings(pg_settings: Settings) -> Settings:
    eventstore.bootstrap_event_store(pg_settings)
    return pg_settings.model_copy(update={"backfill_lookback_minutes": 0})


def test_a_transaction_open_past_the_lookback_lands_on_the_next_run(store_settings: Settings) -> None:
    settings = store_settings
    store = resolve_backends(settings).store()
    early = _connect(settings)
    _insert(early, settings, 5)
    early.commit()
    early.close()

    producer = _connect(settings)  # begins its transaction with the first INSERT
    late_ids = _insert(producer, settings, 3)  # inserted_at = this transaction's start
    newer = _connect(settings)
    newer_ids = _insert(newer, settings, 4)  # a later transaction: greater inserted_at, committed
    newer.commit()
    newer.close()

    first = run_backfill(settings, store)
    assert first.rows_written == 5, "the run must stop below the open transaction's start"
    assert _in_bronze(store, settings).isdisjoint(newer_ids)

    producer.commit()  # the late commit, behind keys committed long before it (lookback 0)
    producer.close()
    second = run_backfill(settings, store)
    landed = _in_bronze(store, settings)
    assert set(late_ids) <= landed and set(newer_ids) <= landed
    assert second.rows_written == 7 and len(landed) == 12
    third = run_backfill(settings, store)
    assert third.rows_written == 0


@pytest.fixture
def limited_role(store_settings: Settings) -> Iterator[str]:
    """A login role with SELECT on the events table only (no pg_read_all_stats); dropped after."""
    role = f"cardflow_ro_{uuid.uuid4().hex[:8]}"
    admin = _connect(store_settings)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN")
        cur.execute(f"GRANT SELECT ON {store_settings.events_table} TO {role}")
    try:
        yield role
    finally:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
            )
            cur.execute(f"REVOKE ALL ON {store_settings.events_table} FROM {role}")
            cur.execute(f"DROP ROLE {role}")
        admin.close()


def test_a_role_that_cannot_see_writers_falls_back_to_the_lookback(
    store_settings: Settings, limited_role: str
) -> None:
    settings = store_settings
    producer = _connect(settings)
    _insert(producer, settings, 1)  # an in-flight writer owned by postgres
    try:
        with _connect(settings) as admin_conn:
            seen = oldest_inflight_write(admin_conn)
        assert seen.source == "oldest_writer" and seen.before is not None
        limited = settings.model_copy(update={"postgres_user": limited_role})
        with extract.extraction_session(limited) as conn:
            blind = oldest_inflight_write(conn)
        assert blind.source == "unavailable" and blind.before is None
        assert "pg_read_all_stats" in blind.reason
        plan = plan_backfill(limited, resolve_backends(limited).store())
        assert plan.inflight_source == "unavailable"
    finally:
        producer.rollback()
        producer.close()
