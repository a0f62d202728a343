"""The fanned-out backfill against a real PostgreSQL, with Bronze in a local lake or moto S3.

Contract: cutting a run into time slices changes nothing in Bronze. A run over N slices writes the
same objects (keys and bytes) as a single-unit run when chunks cover whole slices, and the same
records whatever the chunk size; a slice that fails half way is retried alone by Prefect, the other
slices run once, and no event lands twice; the watermark ends where a single-unit run puts it.
"""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.bronze.layout import is_part_key
from cardflow.bronze.store import BronzeStore
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.settings import Settings
from cardflow.sources.eventstore import slices
from cardflow.sources.eventstore import store as eventstore
from cardflow.sources.eventstore.finish import finish_backfill
from cardflow.sources.eventstore.landing import land_chunks
from cardflow.sources.eventstore.plan import plan_backfill
from cardflow.sources.eventstore.watermark import load_state, state_object_key

pytestmark = pytest.mark.integration
END = datetime(2026, 10, 4, tzinfo=UTC)
NOW = datetime(2026, 10, 5, 12, tzinfo=UTC)
EVENTS = 1500


@pytest.fixture(params=["local", "s3"])
def settings(request: pytest.FixtureRequest, pg_settings: Settings) -> Settings:
    eventstore.bootstrap_event_store(pg_settings)
    with eventstore.connect(pg_settings) as conn:
        eventstore.insert_events(
            conn, EventGenerator(GeneratorConfig(events=EVENTS, seed=11, days=3, end=END)), pg_settings
        )
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


def _store(settings: Settings, prefix: str) -> tuple[Settings, BronzeStore]:
    moved = settings.model_copy(update={"s3_prefix": prefix})
    return moved, resolve_backends(moved, needs={"bronze"}).store()


def _single(settings: Settings, store: BronzeStore, chunk_size: int) -> None:
    plan = plan_backfill(settings, store, chunk_size=chunk_size, now=NOW)
    finish_backfill(plan, land_chunks(plan, settings, store), settings, store)


def _parts(store: BronzeStore, prefix: str) -> dict[str, bytes]:
    return {
        key.removeprefix(prefix): store.read_bytes(key)
        for key in store.list_keys(prefix + "/")
        if is_part_key(key)
    }


def _lines(parts: dict[str, bytes]) -> list[bytes]:
    return sorted(line for data in parts.values() for line in gzip.decompress(data).splitlines())


def test_sliced_backfill_equals_single_unit_byte_for_byte(settings: Settings) -> None:
    one, store_one = _store(settings, "single")
    many, store_many = _store(settings, "sliced")
    _single(one, store_one, chunk_size=10_000)
    result = slices.run_sliced_backfill(many, store_many, slices=5, workers=2, chunk_size=10_000, now=NOW)

    single_parts, sliced_parts = _parts(store_one, "single"), _parts(store_many, "sliced")
    assert result.rows_read == EVENTS and result.rows_written == EVENTS
    assert len(single_parts) > 5
    assert sliced_parts == single_parts  # same keys, same bytes
    state_one = load_state(store_one, state_object_key(one))
    state_many = load_state(store_many, state_object_key(many))
    assert state_many.watermark == state_one.watermark
    assert state_many.pending_objects == []


def test_sliced_backfill_with_small_chunks_lands_the_same_records(settings: Settings) -> None:
    one, store_one = _store(settings, "single")
    many, store_many = _store(settings, "sliced")
    _single(one, store_one, chunk_size=10_000)
    result = slices.run_sliced_backfill(many, store_many, slices=7, workers=3, chunk_size=97, now=NOW)

    sliced_lines = _lines(_parts(store_many, "sliced"))
    assert sliced_lines == _lines(_parts(store_one, "single"))
    assert len(sliced_lines) == len(set(sliced_lines)) == EVENTS
    assert result.manifest_objects == len(_parts(store_many, "sliced"))
    # a second sliced run over everything writes nothing and changes no byte
    before = _parts(store_many, "sliced")
    again = slices.run_sliced_backfill(many, store_many, slices=3, workers=2, full_refresh=True, now=NOW)
    assert again.rows_written == 0 and again.rows_already_in_bronze == EVENTS
    assert _parts(store_many, "sliced") == before


class _FailingStore:
    """A store that raises on its n-th part write (once), as a worker dying half way would."""

    def __init__(self, inner: BronzeStore, fail_at: int) -> None:
        self.inner, self.fail_at, self.writes = inner, fail_at, 0

    def write_bytes(self, key: str, data: bytes, *, durable: bool = True) -> str:
        if is_part_key(key):
            self.writes += 1
            if self.writes == self.fail_at:
                raise ConnectionResetError("worker lost half way through the slice")
        return self.inner.write_bytes(key, data, durable=durable)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_flow_retries_a_failed_slice_alone_and_duplicates_nothing(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.backfill import events_backfill_to_s3

    settings = pg_settings
    eventstore.bootstrap_event_store(settings)
    with eventstore.connect(settings) as conn:
        eventstore.insert_events(
            conn, EventGenerator(GeneratorConfig(events=EVENTS, seed=11, days=3, end=END)), settings
        )
    attempts: Counter[str] = Counter()
    real_land_chunks = slices.land_chunks

    def land_chunks_dying_once(plan: Any, unit_settings: Settings, store: BronzeStore) -> Any:
        unit = plan.run_id.rsplit("-", 1)[1]
        attempts[unit] += 1
        if unit == "u0002" and attempts[unit] == 1:
            store = _FailingStore(store, fail_at=3)  # dies after two of its parts are written
        return real_land_chunks(plan, unit_settings, store)

    monkeypatch.setattr(slices, "land_chunks", land_chunks_dying_once)
    result = events_backfill_to_s3(chunk_size=120, slices=4, workers=2, settings=settings)

    assert attempts == {"u0000": 1, "u0001": 1, "u0002": 2, "u0003": 1}
    store = resolve_backends(settings, needs={"bronze"}).store()
    parts = _parts(store, settings.s3_prefix)
    ids = Counter(line[13:49] for line in _lines(parts))
    assert len(ids) == EVENTS and set(ids.values()) == {1}  # every event once, in one object
    assert result["rows_read"] == EVENTS == result["rows_written"] + result["rows_already_in_bronze"]
    assert result["rows_already_in_bronze"] > 0  # the retry found what the failed attempt wrote
    assert result["manifest_objects"] == len(parts)
    state = load_state(store, state_object_key(settings))
    assert state.watermark is not None and state.watermark.as_dict() == result["watermark_after"]
    assert state.pending_objects == []
    with eventstore.connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT max(inserted_at) FROM {settings.events_table}")
        newest = cur.fetchone()[0]
    assert state.watermark.timestamp == newest
