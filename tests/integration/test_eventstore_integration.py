"""The event store as a read-only source, against the real local PostgreSQL.

Contract of these tests: connecting never runs DDL; ``bootstrap_event_store`` (``cardflow bootstrap
--event-store``) is the one place that creates the database, the events table and its keyset index,
and running it twice is harmless; the backfill reads through sessions with
``default_transaction_read_only=on``, so it succeeds as a role that holds only CONNECT, USAGE and
SELECT; a store that was never bootstrapped makes the backfill fail at plan time, naming the missing
table or index and the remedy, before anything reaches Bronze.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg2
import psycopg2.errors
import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.bronze.layout import is_part_key
from cardflow.cli import main as cli_main
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.errors import EventsRejected, EventStoreError
from cardflow.settings import Settings
from cardflow.sources.eventstore import extract
from cardflow.sources.eventstore import store as eventstore
from cardflow.sources.eventstore.backfill import run_backfill
from tests.conftest import PG_HOST, PG_PORT, PG_USER

pytestmark = pytest.mark.integration
END = datetime(2026, 10, 4, tzinfo=UTC)
REMEDY = "cardflow bootstrap --event-store"


@contextmanager
def _admin(dbname: str) -> Iterator[psycopg2.extensions.connection]:
    """A superuser connection (autocommit) to ``dbname``; closed on exit."""
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def _tables(dbname: str) -> list[str]:
    with _admin(dbname) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        return sorted(r[0] for r in cur.fetchall())


@pytest.fixture
def reader(pg_database: str) -> Iterator[str]:
    """A LOGIN role (no password: trust auth) with only CONNECT on the test database and USAGE on
    its public schema; PUBLIC's default CONNECT/TEMP/USAGE are revoked so nothing else slips in.
    Tests grant SELECT on the events table once it exists."""
    role = f"cardflow_reader_{uuid.uuid4().hex[:8]}"
    with _admin("postgres") as admin, admin.cursor() as cur:
        cur.execute(f'CREATE ROLE "{role}" LOGIN')
        cur.execute(f'REVOKE ALL ON DATABASE "{pg_database}" FROM PUBLIC')
        cur.execute(f'GRANT CONNECT ON DATABASE "{pg_database}" TO "{role}"')
    with _admin(pg_database) as db, db.cursor() as cur:
        cur.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        cur.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
    try:
        yield role
    finally:
        with _admin(pg_database) as db, db.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
                (role,),
            )
            cur.execute(f'DROP OWNED BY "{role}"')  # its grants here and on the database
        with _admin("postgres") as admin, admin.cursor() as cur:
            cur.execute(f'DROP ROLE IF EXISTS "{role}"')


def _as(settings: Settings, role: str) -> Settings:
    return settings.model_copy(update={"postgres_user": role})


def _seed(settings: Settings, events: int) -> set[str]:
    generated = list(EventGenerator(GeneratorConfig(events=events, seed=5, days=2, end=END)))
    with eventstore.connect(settings) as conn:
        eventstore.insert_events(conn, generated, settings)
    return {str(e["event_id"]) for e in generated}


def test_connect_runs_no_ddl(pg_settings: Settings) -> None:
    for read_only in (False, True):
        with eventstore.connect(pg_settings, read_only=read_only) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    assert _tables(pg_settings.postgres_db) == [], "connect() created a table"


def test_connect_to_a_missing_database_names_the_remedy(pg_settings: Settings) -> None:
    missing = pg_settings.model_copy(update={"postgres_db": f"cardflow_absent_{uuid.uuid4().hex[:8]}"})
    with (
        pytest.raises(EventStoreError, match=f"{missing.postgres_db}.*does not exist.*{REMEDY}"),
        eventstore.connect(missing, read_only=True),
    ):
        pass
    with _admin("postgres") as admin, admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (missing.postgres_db,))
        assert cur.fetchone() is None, "connect() created the database"


def test_bootstrap_is_idempotent_and_creates_database_table_and_index(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = eventstore.bootstrap_event_store(pg_settings)
    assert first.database_created is False and len(first.statements) == 2
    with eventstore.connect(pg_settings, read_only=True) as conn:
        state = eventstore.inspect_schema(conn, pg_settings)
    assert state.table and state.keyset_index == eventstore.keyset_index_name(pg_settings)
    _seed(pg_settings, 50)
    second = eventstore.bootstrap_event_store(pg_settings)
    assert second.statements == [] and second.database_created is False
    assert eventstore.count_events(pg_settings) == 50, "a second bootstrap must keep the data"

    # the CLI target, on a database that does not exist yet: created, then left alone
    fresh = f"cardflow_boot_{uuid.uuid4().hex[:8]}"
    for name, value in {
        "POSTGRES_HOST": PG_HOST, "POSTGRES_PORT": str(PG_PORT), "POSTGRES_USER": PG_USER, "POSTGRES_DB": fresh,
        "CARDFLOW_DATA_DIR": str(pg_settings.data_dir),
    }.items():
        monkeypatch.setenv(name, value)
    try:
        assert cli_main(["bootstrap", "--event-store"]) == 0
        assert cli_main(["bootstrap", "--event-store"]) == 0
        out = capsys.readouterr().out
        assert f"created database {fresh}" in out and "2 statements applied" in out
        assert "already exist" in out and "(duckdb)" not in out, "--event-store must leave the warehouse alone"
        assert _tables(fresh) == ["events"]
    finally:
        with _admin("postgres") as admin, admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{fresh}"')


def test_bootstrap_print_sql_shows_the_ddl_without_running_it(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTGRES_HOST", PG_HOST)
    monkeypatch.setenv("POSTGRES_DB", pg_settings.postgres_db)
    monkeypatch.setenv("CARDFLOW_EVENTS_TABLE", "producer_events")
    assert cli_main(["bootstrap", "--event-store", "--print-sql"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE IF NOT EXISTS producer_events" in out
    assert "ON producer_events (inserted_at, event_id)" in out
    assert _tables(pg_settings.postgres_db) == []


def test_backfill_as_a_select_only_role_lands_every_event(pg_settings: Settings, reader: str) -> None:
    eventstore.bootstrap_event_store(pg_settings)  # prepared by the superuser
    ids = _seed(pg_settings, 1200)
    with _admin(pg_settings.postgres_db) as db, db.cursor() as cur:
        cur.execute(f'GRANT SELECT ON {pg_settings.events_table} TO "{reader}"')
    settings = _as(pg_settings, reader)
    store = resolve_backends(settings, needs={"bronze"}).store()

    result = run_backfill(settings, store, chunk_size=250)

    assert result.rows_read == 1200 and result.rows_written == 1200 and result.quarantined == 0
    assert result.chunks == 5
    landed = [
        json.loads(line)["event_id"]
        for key in store.list_keys(settings.s3_prefix)
        if is_part_key(key)
        for line in gzip.decompress(store.read_bytes(key)).decode().splitlines()
    ]
    assert len(landed) == 1200 and set(landed) == ids
    assert run_backfill(settings, store).rows_written == 0, "the incremental re-run as the reader adds nothing"


def test_backfill_sessions_are_read_only_even_for_a_superuser(pg_settings: Settings) -> None:
    """The superuser could write, so a refused write proves the session itself is read-only."""
    eventstore.bootstrap_event_store(pg_settings)
    with extract.extraction_session(pg_settings) as conn, conn.cursor() as cur:
        cur.execute("SHOW default_transaction_read_only")
        assert cur.fetchone() == ("on",)
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            cur.execute(
                f"INSERT INTO {pg_settings.events_table} (event_id, source, event_type, payload) "
                "VALUES (gen_random_uuid(), 'x', 'y', '{}')"
            )
    assert eventstore.count_events(pg_settings) == 0


def test_backfill_without_the_table_fails_at_plan_time_naming_it(pg_settings: Settings, reader: str) -> None:
    settings = _as(pg_settings, reader)
    store = resolve_backends(settings, needs={"bronze"}).store()
    with pytest.raises(EventStoreError) as caught:
        run_backfill(settings, store)
    message = str(caught.value)
    assert f"table '{settings.events_table}' does not exist" in message
    assert REMEDY in message and "sql/event_store_ddl.sql" in message
    assert list(store.list_keys(settings.s3_prefix)) == [], "nothing may reach Bronze before the plan succeeds"
    assert _tables(pg_settings.postgres_db) == [], "the reader's run created something"


def test_backfill_without_the_keyset_index_fails_at_plan_time_naming_it(pg_settings: Settings) -> None:
    statements = eventstore.ddl_statements(pg_settings)
    with eventstore.connect(pg_settings) as conn, conn.cursor() as cur:
        cur.execute(next(s for s in statements if s.startswith("CREATE TABLE")))  # a DBA skipped the index
        conn.commit()
    _seed(pg_settings, 20)
    store = resolve_backends(pg_settings, needs={"bronze"}).store()
    with pytest.raises(EventStoreError) as caught:
        run_backfill(pg_settings, store)
    message = str(caught.value)
    assert "no index on (inserted_at, event_id)" in message
    assert eventstore.keyset_index_name(pg_settings) in message and REMEDY in message
    assert list(store.list_keys(pg_settings.s3_prefix)) == []


def test_generate_creates_the_schema_it_writes_into(pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """``cardflow generate`` is a dev tool that writes: on a bare database it bootstraps first."""
    monkeypatch.setenv("POSTGRES_HOST", PG_HOST)
    monkeypatch.setenv("POSTGRES_PORT", str(PG_PORT))
    monkeypatch.setenv("POSTGRES_USER", PG_USER)
    monkeypatch.setenv("POSTGRES_DB", pg_settings.postgres_db)
    monkeypatch.setenv("CARDFLOW_DATA_DIR", str(pg_settings.data_dir))
    assert cli_main(["generate", "--events", "40", "--days", "1"]) == 0
    assert _tables(pg_settings.postgres_db) == ["events"]
    assert eventstore.count_events(pg_settings) == 40
    with eventstore.connect(pg_settings, read_only=True) as conn:
        assert eventstore.inspect_schema(conn, pg_settings).complete


def test_insert_events_refuses_one_bad_envelope_and_inserts_the_rest(pg_settings: Settings) -> None:
    """A malformed envelope is rejected on its own with a reason naming the field; the valid ones go
    in (and a retry of the same call adds nothing)."""
    good = list(EventGenerator(GeneratorConfig(events=20, seed=3, anomalies=False)))
    bad = [
        {k: v for k, v in good[0].items() if k != "event_id"},
        dict(good[1], event_id="evt_123"),
        dict(good[2], event_id=str(uuid.uuid4()), inserted_at="yesterday"),
        dict(good[3], event_id=str(uuid.uuid4()), event_type=None),
    ]
    events = [*good[4:10], *bad, *good[10:]]
    eventstore.bootstrap_event_store(pg_settings)
    with eventstore.connect(pg_settings) as conn:
        with pytest.raises(EventsRejected) as info:
            eventstore.insert_events(conn, events, pg_settings)
        assert info.value.inserted == 16
        problems = [problem for _, _, problem in info.value.rejected]
        assert problems[0] == "event_id: missing"
        assert problems[1] == "event_id: 'evt_123' is not a UUID"
        assert problems[2].startswith("inserted_at:")
        assert problems[3] == "event_type: missing"
        assert [i for i, _, _ in info.value.rejected] == [6, 7, 8, 9]
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {pg_settings.events_table}")
            assert cur.fetchone()[0] == 16
        assert eventstore.insert_events(conn, [*good[4:10], *good[10:]], pg_settings) == 0
