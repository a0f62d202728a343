"""The load cursor: a load reads only manifests after the last one it loaded, never loads a file twice.

Bronze comes from ``tests.bronze_factory``; manifests are named like real runs
(``<UTC timestamp>Z-<name>.json``) so their names sort in time order, as the cursor relies on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from cardflow.bronze.layout import manifest_key
from cardflow.bronze.store import LocalBronzeStore
from cardflow.settings import Settings, load_settings
from cardflow.warehouse.duckdb import DuckDBLoader
from cardflow.warehouse.load import load_files, select_files
from cardflow.warehouse.manifest_log import listing_start, manifest_origin, run_timestamp
from cardflow.warehouse.snowflake import SnowflakeLoader, SnowflakeParams, _CopyFailed
from tests.bronze_factory import BronzeBatch, generate_bronze

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _run_id(at: datetime, name: str) -> str:
    return f"{at:%Y%m%dT%H%M%S%f}Z-{name}"


class CountingStore(LocalBronzeStore):
    """A local store that counts the keys its listings return (the cost the cursor bounds)."""

    listed = 0

    def list_keys(self, prefix: str = "", *, start_after: str | None = None) -> list[str]:
        keys = super().list_keys(prefix, start_after=start_after)
        self.listed += len(keys)
        return keys


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", load_batch_files=50, load_manifest_grace_minutes=30)


@pytest.fixture
def store(settings: Settings) -> CountingStore:
    return CountingStore(settings.lake_dir)


def _land(store: LocalBronzeStore, settings: Settings, at: datetime, seed: int) -> BronzeBatch:
    return generate_bronze(store, settings.s3_prefix, events=120, days=1, seed=seed, run_id=_run_id(at, f"run{seed}"))


def _load(settings: Settings, store: LocalBronzeStore, manifest_keys: list[str] | None = None):
    with DuckDBLoader(settings) as warehouse:
        selection = select_files(store, settings, manifest_keys, log=warehouse.manifest_log())
        return selection, load_files(warehouse, store, selection)


def _raw_count(settings: Settings) -> int:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM RAW.events").fetchone()[0]


def test_manifest_names_parse() -> None:
    key = manifest_key("bronze", "backfill", _run_id(T0, "events"))
    assert manifest_origin(key) == "backfill"
    assert run_timestamp(key) == T0
    assert listing_start(key, timedelta(minutes=30)) == "bronze/_manifests/origin=backfill/20261101T073000"
    assert listing_start("bronze/_manifests/origin=x/broken.json", timedelta(0)) is None


def test_cursor_selects_only_new_manifests(settings, store) -> None:
    """After a load, the next one lists and reads only manifests named after the cursor."""
    history = [_land(store, settings, T0 + timedelta(hours=h), seed=h) for h in range(4)]
    first, summary = _load(settings, store)
    assert first.manifests == 4 and not summary.failed
    assert summary.rows_loaded == sum(b.rows for b in history)

    store.listed = 0
    nothing, _ = _load(settings, store)
    assert nothing.manifests == 0 and nothing.files == []
    assert store.listed <= 1  # only the newest manifest (the cursor itself) is listed again

    new = _land(store, settings, T0 + timedelta(hours=10), seed=99)
    store.listed = 0
    second, summary = _load(settings, store)
    assert list(second.manifest_files) == [new.manifest_key]
    assert summary.rows_loaded == new.rows and summary.loaded == len(new.objects)
    assert store.listed <= 2  # the cursor and the new manifest, not the history
    assert _raw_count(settings) == sum(b.rows for b in [*history, new])


def test_late_manifest_within_grace_is_loaded(settings, store) -> None:
    """A landing named before the cursor but written after the last load is still found."""
    _land(store, settings, T0 + timedelta(hours=1), seed=1)
    _load(settings, store)
    late = _land(store, settings, T0 + timedelta(minutes=45), seed=2)  # 15 min before the cursor
    selection, summary = _load(settings, store)
    assert list(selection.manifest_files) == [late.manifest_key]
    assert summary.rows_loaded == late.rows


def test_realtime_batch_named_long_before_the_cursor_is_still_loaded(settings, store) -> None:
    """Real-time manifests are named by the batch's bus-entry time, which can be hours older than
    the landing (a backlog drained after an outage): the cursor must not skip them (chaos found it)."""
    from cardflow.dev.generator import EventGenerator, GeneratorConfig
    from tests.bronze_factory import write_bronze

    def land_batch(at: datetime, seed: int):
        return write_bronze(
            store,
            settings.s3_prefix,
            EventGenerator(GeneratorConfig(events=40, seed=seed, days=1)),
            run_id=_run_id(at, f"batch{seed}"),
            origin="realtime",
            ingested_at=at,
        )

    land_batch(T0 + timedelta(hours=10), seed=1)
    _load(settings, store)  # the real-time cursor now sits at T0 + 10 h
    backlog = land_batch(T0 - timedelta(days=2), seed=5)
    selection, summary = _load(settings, store)
    assert list(selection.manifest_files) == [backlog.manifest_key]
    assert summary.rows_loaded == backlog.rows > 0
    again, _ = _load(settings, store)
    assert again.manifests == 0  # recorded as loaded: listed again, never loaded twice


def test_resubmitted_historical_file_is_not_loaded_twice(settings, store) -> None:
    """A new manifest re-listing an old file, or an old manifest re-written, adds no rows."""
    old = _land(store, settings, T0, seed=1)
    _load(settings, store)
    rows = _raw_count(settings)

    # a later run re-announces one historical file next to its own files
    again = _land(store, settings, T0 + timedelta(hours=2), seed=2)
    document = json.loads(store.read_bytes(again.manifest_key))
    document["objects"].append(old.objects[0].as_dict())
    store.write_bytes(again.manifest_key, json.dumps(document).encode())
    _, summary = _load(settings, store)
    outcome = {f.file_name: f.status for f in summary.files}
    assert outcome[old.objects[0].key] == "already_loaded"
    assert _raw_count(settings) == rows + again.rows

    # the historical manifest re-written in place (same key) is not selected by the cursor ...
    store.write_bytes(old.manifest_key, store.read_bytes(old.manifest_key))
    assert _load(settings, store)[0].manifests == 0
    # ... and named explicitly, its files are all already loaded
    _, summary = _load(settings, store, [old.manifest_key])
    assert {f.status for f in summary.files} == {"already_loaded"}
    assert _raw_count(settings) == rows + again.rows


def test_failed_manifest_is_retried_after_newer_ones(settings, store) -> None:
    """A manifest whose file failed holds the cursor back until it loads."""
    bad = _land(store, settings, T0, seed=1)
    path = store.root / bad.objects[0].key
    good_bytes = path.read_bytes()
    path.write_bytes(good_bytes[:20])  # truncated: checksum mismatch
    _, summary = _load(settings, store)
    assert len(summary.failed) == 1

    newer = _land(store, settings, T0 + timedelta(days=2), seed=2)  # far beyond the grace window
    selection, _ = _load(settings, store)
    assert set(selection.manifest_files) == {bad.manifest_key, newer.manifest_key}

    path.write_bytes(good_bytes)  # re-landed
    selection, summary = _load(settings, store)
    assert list(selection.manifest_files) == [bad.manifest_key] and not summary.failed
    assert _raw_count(settings) == bad.rows + newer.rows
    assert _load(settings, store)[0].manifests == 0


def test_copy_result_for_an_unrequested_file_fails(settings) -> None:
    """A COPY result row that matches no requested file is a failure, never 'already loaded'."""
    params = SnowflakeParams(account="a", user="u", password="p", database="DB", warehouse="WH")
    loader = SnowflakeLoader(settings, params, "s3://bucket/bronze/", connection=object())
    file = _land_file(settings)
    batch = [(file, loader.stage_path(file.key))]
    with pytest.raises(_CopyFailed, match="match no requested file"):
        loader._outcomes(
            batch,
            [{"file": "s3://other/bronze/x.json.gz", "status": "LOADED", "rows_parsed": 1, "rows_loaded": 1}],
        )
    # no result row for a requested file: Snowflake's load history skipped it
    assert loader._outcomes(batch, [])[file.key].status == "already_loaded"


def _land_file(settings: Settings):
    from cardflow.warehouse.base import BronzeFile

    return BronzeFile(f"{settings.s3_prefix}/source=orders/type=OrderCreated/dt=2026-11-01/hour=08/part-x.json.gz")
