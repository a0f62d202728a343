"""The backfill against a real PostgreSQL and a real S3 endpoint (moto's server) or a local lake.

Contract of these tests: every valid event lands in Bronze exactly once, as exactly the record the
contract renders (``dumps_record(validate_envelope(row).to_bronze(ingested_at))``); every invalid
row lands in quarantine with its reason; re-runs add nothing and change no byte; a backfill killed
between chunks (SIGKILL, a real process) is completed by the next run without a gap or duplicate;
late rows behind the watermark are picked up. Each test runs against both stores.

The events table has ``event_id uuid PRIMARY KEY``, so a row with a null or malformed event_id
cannot exist in it: the bad-row cases cover what can (payload not an object, unknown event_type,
missing or mistyped fields, bad status, impossible dates, source mismatch).
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.bronze.layout import is_part_key
from cardflow.bronze.store import BronzeStore
from cardflow.contract import dumps_record, parse_timestamp, validate_envelope
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.errors import ContractViolation
from cardflow.settings import Settings
from cardflow.sources.eventstore import store as eventstore
from cardflow.sources.eventstore.backfill import run_backfill
from cardflow.sources.eventstore.extract import OriginalPayloads, Position, extraction_session, iter_groups
from cardflow.sources.eventstore.partitions import compact
from cardflow.sources.eventstore.watermark import load_state, state_object_key

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 10, 4, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def settings(request: pytest.FixtureRequest, pg_settings: Settings) -> Settings:
    """Real PostgreSQL (fresh database, event store bootstrapped) with Bronze in a local lake or a fresh
    moto bucket."""
    eventstore.bootstrap_event_store(pg_settings)
    if request.param == "local":
        return pg_settings
    s3: Settings = request.getfixturevalue("s3_settings")
    return pg_settings.model_copy(
        update={
            "s3_bucket": s3.s3_bucket,
            "s3_endpoint_url": s3.s3_endpoint_url,
            "aws_access_key_id": s3.aws_access_key_id,
            "aws_secret_access_key": s3.aws_secret_access_key,
        }
    )


def seed(settings: Settings, events: int = 1500) -> None:
    with eventstore.connect(settings) as conn:
        eventstore.insert_events(
            conn, EventGenerator(GeneratorConfig(events=events, seed=7, days=3, end=END)), settings
        )


def insert_raw(settings: Settings, rows: list[tuple[str, str, str, str, datetime]]) -> None:
    """Insert rows as an upstream service could have written them (payload given as JSON text)."""
    with eventstore.connect(settings) as conn, conn.cursor() as cur:
        for row in rows:
            cur.execute(
                f"INSERT INTO {settings.events_table} (event_id, source, event_type, payload, inserted_at) "
                "VALUES (%s, %s, %s, %s::jsonb, %s)",
                row,
            )
        conn.commit()


def event_rows(settings: Settings) -> list[dict[str, Any]]:
    with eventstore.connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT event_id::text, source, event_type, payload, inserted_at FROM {settings.events_table}")
        cols = ("event_id", "source", "event_type", "payload", "inserted_at")
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def bronze(store: BronzeStore, prefix: str) -> tuple[dict[str, bytes], list[str]]:
    """All part objects (key -> bytes) and all their lines."""
    objects = {k: store.read_bytes(k) for k in store.list_keys(prefix + "/") if is_part_key(k)}
    lines = [ln for data in objects.values() for ln in gzip.decompress(data).decode().split("\n") if ln]
    return objects, lines


def quarantined(store: BronzeStore, prefix: str) -> list[dict[str, Any]]:
    keys = store.list_keys(f"{prefix}/_quarantine/")
    return [json.loads(ln) for k in keys for ln in gzip.decompress(store.read_bytes(k)).decode().splitlines()]


def listed(store: BronzeStore, keys: list[str]) -> tuple[Counter[str], int]:
    """Every object the manifests at ``keys`` list (with how many of them list it), and their rows."""
    objects: Counter[str] = Counter()
    rows = 0
    for key in keys:
        manifest = json.loads(store.read_bytes(key))
        objects.update(o["key"] for o in manifest["objects"])
        rows += manifest["rows"]
    return objects, rows


def assert_complete(settings: Settings, store: BronzeStore) -> tuple[dict[str, bytes], list[str]]:
    """Every valid row exactly once and canonical; every invalid row quarantined once, with its reason."""
    objects, lines = bronze(store, settings.s3_prefix)
    by_id: dict[str, str] = {}
    for line in lines:
        event_id = json.loads(line)["event_id"]
        assert event_id not in by_id, f"duplicate record for {event_id}"
        by_id[event_id] = line
    q = Counter(e["record"]["event_id"] for e in quarantined(store, settings.s3_prefix))
    assert all(n == 1 for n in q.values()), "an event was quarantined twice"
    reasons = {e["record"]["event_id"]: e["reason"] for e in quarantined(store, settings.s3_prefix)}
    for row in event_rows(settings):
        try:
            envelope = validate_envelope(row)
        except ContractViolation as exc:
            assert row["event_id"] not in by_id
            assert reasons.get(row["event_id"]) == exc.reason
            continue
        line = by_id.pop(row["event_id"], None)
        assert line is not None, f"event {row['event_id']} missing from Bronze"
        ingested_at = parse_timestamp(json.loads(line)["ingested_at"])
        assert line == dumps_record(envelope.to_bronze(ingested_at))
    assert not by_id, f"Bronze holds records that are not in the event store: {list(by_id)[:3]}"
    return objects, lines


def test_backfill_lands_each_event_once_and_reruns_change_nothing(settings: Settings) -> None:
    seed(settings)
    # valid events whose text is awkward: quotes, backslashes, newlines, separators, non-ASCII, extras
    awkward = [
        {
            "sku": 'S"1\\',
            "card_name": 'He said: "hi", then\nleft',
            "sport": "Fútbol ⚽",
            "player_name": "A. B. Jr.",
            "team_name": "C\\D",
            "parallel": "Base",
            "print_run": 10,
            "extra": {"ratio": 1.50, "list": [1, "a, b"]},
        },
        {
            "sku": "S2",
            "card_name": "\u2028 line sep",
            "sport": "x",
            "player_name": "y",
            "team_name": "z",
            "parallel": "p",
            "print_run": 0,
        },
    ]
    insert_raw(
        settings,
        [
            (str(uuid.uuid4()), "cards", "CardCatalogEntryInserted", json.dumps(p), END - timedelta(hours=5))
            for p in awkward
        ],
    )
    store = resolve_backends(settings).store()
    first = run_backfill(settings, store, chunk_size=400)
    assert first.rows_read == 1502 and first.quarantined == 0 and first.rows_written == 1502
    objects, _ = assert_complete(settings, store)
    # one manifest per chunk: together they list every object once, each chunk's rows once
    assert first.chunks == 4 and len(first.manifest_keys) == 4 and first.manifest_key == first.manifest_keys[-1]
    announced, rows = listed(store, first.manifest_keys)
    assert set(announced) == set(objects) and rows == 1502 and first.manifest_objects == sum(announced.values())
    last = json.loads(store.read_bytes(first.manifest_key))
    assert last["watermark"]["after"] == first.watermark_after and last["range"]["through"] == first.watermark_after
    for run in (
        lambda: run_backfill(settings, store, chunk_size=400),
        lambda: run_backfill(settings, store, full_refresh=True, chunk_size=333),
        lambda: run_backfill(settings, store, start=END - timedelta(days=3), end=END),
    ):
        again = run()
        assert again.rows_written == 0 and again.objects_written == 0
        now, _ = bronze(store, settings.s3_prefix)
        assert now == objects, "a re-run changed Bronze"
    # the full refresh's manifest still stands for every object of its range
    assert again.manifest_objects == len(objects)


def test_bad_rows_are_quarantined_with_their_reason_and_never_stop_good_rows(settings: Settings) -> None:
    seed(settings, events=600)
    at = END - timedelta(hours=2)
    good_order = {
        "order_id": "O1",
        "order_ts": "2026-10-03T10:00:00.123456+00:00",
        "customer_id": "C",
        "sku": "S",
        "quantity": 1,
        "price": {"units": 100, "scale": 2},
        "status": "PAID",
    }
    cases: list[tuple[str, str, Any]] = [
        ("orders", "OrderCreated", ["not", "an", "object"]),  # payload_not_object
        ("orders", "OrderCreated", "just a string"),  # payload_not_json (contract)
        ("orders", "OrderRefunded", good_order),  # unknown_event_type
        ("cards", "OrderCreated", good_order),  # source_mismatch
        ("orders", "OrderCreated", {k: v for k, v in good_order.items() if k != "sku"}),  # missing_field
        ("orders", "OrderCreated", good_order | {"sku": None}),  # missing_field
        ("orders", "OrderCreated", good_order | {"quantity": 1.5}),  # bad_type
        ("orders", "OrderCreated", good_order | {"quantity": "1"}),  # bad_type
        ("orders", "OrderCreated", good_order | {"status": "LOST"}),  # bad_status
        ("orders", "OrderCreated", good_order | {"price": {"units": 1}}),  # bad_decimal
        ("orders", "OrderCreated", good_order | {"order_ts": "2026-02-30T10:00:00.000000+00:00"}),
        ("orders", "OrderCreated", good_order | {"order_ts": "0000-10-03T10:00:00.000000+00:00"}),
        (
            "manufacturing",
            "ManufacturingBatch",
            {
                "batch_id": "B",
                "sku": "S",
                "production_date": "2026-13-01",
                "quantity_produced": 5,
                "defect_rate_estimate": {"units": 1, "scale": 2},
            },
        ),
        # valid, but not in the shapes the fast path knows: must land, not be quarantined
        ("orders", "OrderCreated", good_order | {"order_ts": "2026-10-03T10:00:00Z"}),
        ("orders", "OrderCreated", good_order | {"order_ts": "2026-10-03T10:00:00.123+02:00"}),
        ("orders", "OrderCreated", good_order | {"quantity": -3, "note": 'x": y, z'}),
    ]
    insert_raw(settings, [(str(uuid.uuid4()), s, t, json.dumps(p), at) for s, t, p in cases])
    store = resolve_backends(settings).store()
    result = run_backfill(settings, store, chunk_size=250)
    assert result.rows_read == 600 + len(cases)
    assert result.quarantined == len(cases) - 3
    assert_complete(settings, store)
    reasons = {e["reason"] for e in quarantined(store, settings.s3_prefix)}
    assert reasons == {
        "payload_not_object",
        "payload_not_json",
        "unknown_event_type",
        "source_mismatch",
        "missing_field",
        "bad_type",
        "bad_status",
        "bad_decimal",
        "bad_timestamp",
    }
    again = run_backfill(settings, store, full_refresh=True)
    assert again.quarantined == 0 and again.rows_written == 0
    assert_complete(settings, store)


def test_late_rows_behind_the_watermark_are_picked_up(settings: Settings) -> None:
    seed(settings, events=800)
    store = resolve_backends(settings).store()
    first = run_backfill(settings, store)
    watermark = parse_timestamp(first.watermark_after["inserted_at"])
    late = {
        "order_id": "LATE",
        "order_ts": "2026-10-03T10:00:00.123456+00:00",
        "customer_id": "C",
        "sku": "S",
        "quantity": 1,
        "price": {"units": 100, "scale": 2},
        "status": "PAID",
    }
    within = str(uuid.uuid4())
    older = str(uuid.uuid4())
    insert_raw(
        settings,
        [
            (within, "orders", "OrderCreated", json.dumps(late), watermark - timedelta(minutes=10)),
            (older, "orders", "OrderCreated", json.dumps(late), watermark - timedelta(days=1)),
        ],
    )
    second = run_backfill(settings, store)
    assert second.rows_written == 1
    _, lines = bronze(store, settings.s3_prefix)
    landed = {json.loads(ln)["event_id"] for ln in lines}
    assert within in landed and older not in landed  # beyond the lookback window: needs a range run
    repair = run_backfill(settings, store, start=watermark - timedelta(days=2), end=watermark)
    assert repair.rows_written == 1
    state = load_state(store, state_object_key(settings))
    assert state.watermark is not None and state.watermark.as_dict() == second.watermark_after
    assert_complete(settings, store)


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "S3_", "CARDFLOW_", "AWS_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        CARDFLOW_DATA_DIR=str(settings.data_dir),
        POSTGRES_HOST=str(settings.postgres_host),
        POSTGRES_PORT=str(settings.postgres_port),
        POSTGRES_USER=settings.postgres_user,
        POSTGRES_DB=settings.postgres_db,
        CARDFLOW_BACKFILL_CHUNK_PAUSE_SECONDS="0.5",
    )
    if settings.s3_bucket:
        env.update(
            S3_BUCKET=settings.s3_bucket,
            S3_ENDPOINT_URL=str(settings.s3_endpoint_url),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
    return env


def test_a_run_killed_between_chunks_is_completed_without_gap_or_duplicate(settings: Settings) -> None:
    seed(settings, events=2000)
    store = resolve_backends(settings).store()
    key = state_object_key(settings)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cardflow", "backfill", "--no-prefect", "--chunk-size", "300"],
        cwd=ROOT,
        env=_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists(key) and load_state(store, key).watermark is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"backfill ended before it could be killed: {proc.stderr.read()!r}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_state = load_state(store, key)
    assert killed_state.watermark is not None, "no chunk was committed"
    before, _ = bronze(store, settings.s3_prefix)
    killed_manifests = sorted(store.list_keys(f"{settings.s3_prefix}/_manifests/"))
    assert killed_manifests, "the killed run's committed chunks announced nothing"
    announced_before, _ = listed(store, killed_manifests)
    assert set(announced_before) <= set(before)  # a manifest lists only objects that exist

    result = run_backfill(settings, store, chunk_size=300)
    assert result.manifest_keys and all(k not in killed_manifests for k in result.manifest_keys)
    objects, lines = assert_complete(settings, store)
    assert len(lines) == 2000
    assert set(before) <= set(objects), "objects of the killed run were replaced"
    announced, _ = listed(store, sorted(store.list_keys(f"{settings.s3_prefix}/_manifests/")))
    assert set(announced) == set(objects), "every object is listed by a manifest of one run or the other"
    assert not load_state(store, key).pending_objects


def test_flow_publishes_counts(pg_settings: Settings) -> None:
    from flows.backfill import events_backfill_to_s3

    eventstore.bootstrap_event_store(pg_settings)
    seed(pg_settings, events=300)
    result = events_backfill_to_s3(chunk_size=100, settings=pg_settings)
    assert result["rows_read"] == 300 and result["rows_written"] == 300 and result["watermark_before"] is None
    assert result["watermark_after"] is not None and result["manifest_key"]
    again = events_backfill_to_s3(settings=pg_settings)
    assert again["objects_written"] == 0 and again["watermark_before"] == result["watermark_after"]


class _RecordingStore:
    """A store that records, in order, each write (key, durable, listed keys) and each sync."""

    def __init__(self, inner: BronzeStore) -> None:
        self.inner = inner
        self.log: list[tuple[str, str, bool, list[str]]] = []

    def _listed(self, key: str, data: bytes) -> list[str]:
        if "_state/" not in key and "_manifests/" not in key:
            return []
        doc = json.loads(data)
        return [o["key"] for o in doc.get("pending_objects", []) + doc.get("objects", [])]

    def write_bytes(self, key: str, data: bytes, *, durable: bool = True) -> str:
        self.log.append(("write", key, durable, self._listed(key, data)))
        return self.inner.write_bytes(key, data, durable=durable)

    def write_if_version(self, key: str, data: bytes, expected: str | None) -> str:
        self.log.append(("write", key, True, self._listed(key, data)))
        return self.inner.write_if_version(key, data, expected)

    def sync(self) -> None:
        self.log.append(("sync", "", True, []))
        self.inner.sync()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_nothing_vouches_for_a_part_before_a_sync_made_it_durable(settings: Settings) -> None:
    """Parts are written without an fsync each; the state (after each chunk) and the manifest list
    only parts that a sync made durable before they were written."""
    settings = settings.model_copy(update={"backfill_chunk_size": 300})
    seed(settings, events=1200)
    store = _RecordingStore(resolve_backends(settings, needs={"bronze"}).store())
    result = run_backfill(settings, store)  # type: ignore[arg-type]
    assert result.chunks >= 4 and result.objects_written > 0

    synced: set[str] = set()
    unsynced: set[str] = set()
    vouchers = 0
    for kind, key, durable, listed in store.log:
        if kind == "sync":
            synced |= unsynced
            unsynced.clear()
        elif listed:
            vouchers += 1
            assert set(listed) <= synced, f"{key} lists parts no sync covered: {sorted(set(listed) - synced)[:3]}"
        elif not durable:
            assert is_part_key(key), key
            unsynced.add(key)
        else:
            synced.add(key)
    assert vouchers >= result.chunks  # a state write per chunk (and the manifest)
    non_durable = sum(1 for kind, _, durable, _ in store.log if kind == "write" and not durable)
    assert non_durable == result.objects_written


def test_postgres_compacts_the_payload_and_the_original_text_is_read_back(pg_settings: Settings) -> None:
    """The chunk query's replace also alters a string holding ", " or '": ' (why partitions.py reads
    such a row again); OriginalPayloads reads the event store's own text by the row's keys."""
    eventstore.bootstrap_event_store(pg_settings)
    event_id, at = str(uuid.uuid4()), END - timedelta(hours=2)
    payload = {"sku": "a, b", "card_name": 'He said: "hi", then left', "print_run": 3}
    insert_raw(pg_settings, [(event_id, "cards", "CardCatalogEntryInserted", json.dumps(payload), at)])
    with extraction_session(pg_settings) as conn:
        [group] = iter_groups(conn, pg_settings, Position.just_before(at), Position.of(at, event_id), ingested_at=END)
    # compacted, the strings' ", " included (jsonb orders keys shorter first)
    assert b'"payload":{"sku":"a,b","card_name":"He said: \\"hi\\",then left","print_run":3}' in group.lines
    reader = OriginalPayloads(pg_settings)
    try:
        key = Position.of(at, event_id).inserted_at
        texts = reader([(key, event_id), (key, str(uuid.uuid4()))])
    finally:
        reader.close()
    assert list(texts) == [event_id]  # an unknown key is simply absent
    assert json.loads(texts[event_id]) == payload
    assert compact(texts[event_id].encode()) in group.lines

