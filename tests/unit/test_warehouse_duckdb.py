"""DuckDB load: exactly once per Bronze file, atomic per file, bad files reported and retried.

Bronze input comes from ``tests.bronze_factory`` (generator -> contract -> hourly parts + manifest),
the same shape the backfill writes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pytest

from cardflow.bronze.store import LocalBronzeStore
from cardflow.bronze.writer import decode_lines
from cardflow.settings import Settings, load_settings
from cardflow.warehouse.base import BronzeFile
from cardflow.warehouse.duckdb import DuckDBLoader
from cardflow.warehouse.load import load_files, select_files
from tests.bronze_factory import BronzeBatch, generate_bronze

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", load_batch_files=8)


@pytest.fixture(scope="module")
def bronze_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BronzeBatch]:
    """Bronze written once per module; each test gets its own copy (tests corrupt files)."""
    lake = tmp_path_factory.mktemp("bronze_template")
    return lake, generate_bronze(LocalBronzeStore(lake), "bronze", events=1_500, days=1, seed=11)


@pytest.fixture
def store(settings: Settings, bronze_template: tuple[Path, BronzeBatch]) -> LocalBronzeStore:
    shutil.copytree(bronze_template[0], settings.lake_dir)
    return LocalBronzeStore(settings.lake_dir)


@pytest.fixture
def bronze(store: LocalBronzeStore, bronze_template: tuple[Path, BronzeBatch]) -> BronzeBatch:
    return bronze_template[1]


def _files(batch: BronzeBatch) -> list[BronzeFile]:
    return [BronzeFile(o.key, o.sha256, o.rows, o.bytes) for o in batch.objects]


def _raw(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _rewrite(store: LocalBronzeStore, key: str, data: bytes) -> None:
    (store.root / key).write_bytes(data)


def test_load_matches_bronze_and_second_load_inserts_nothing(settings, store, bronze) -> None:
    """RAW rows == Bronze records, row numbers follow the file's lines, a re-run loads 0."""
    assert len(bronze.objects) > settings.load_batch_files  # several batches
    with DuckDBLoader(settings) as warehouse:
        first = load_files(warehouse, store, select_files(store, settings))
    assert first.loaded == len(bronze.objects) and not first.failed
    assert first.rows_loaded == bronze.rows == first.raw_rows
    assert sorted(r[0] for r in _raw(settings, "SELECT event_id FROM RAW.events")) == sorted(bronze.event_ids)

    # each file's lines are its rows, numbered in line order (batches read many files in one
    # parallel scan), with the payload kept as the same JSON
    numbered: dict[str, list[tuple]] = {}
    for row in _raw(
        settings,
        "SELECT file_name, file_row_number, event_id, payload FROM RAW.events ORDER BY file_name, file_row_number",
    ):
        numbered.setdefault(row[0], []).append(row[1:])
    assert set(numbered) == {o.key for o in bronze.objects}
    for obj in bronze.objects:
        lines = [json.loads(line) for line in decode_lines(store.read_bytes(obj.key))]
        rows = numbered[obj.key]
        assert [r[0] for r in rows] == list(range(1, len(lines) + 1)), obj.key
        assert [r[1] for r in rows] == [line["event_id"] for line in lines], obj.key
        assert [json.loads(r[2]) for r in rows] == [line["payload"] for line in lines], obj.key
    history = dict(_raw(settings, "SELECT file_name, row_count FROM RAW.load_history"))
    assert history == {o.key: o.rows for o in bronze.objects}

    with DuckDBLoader(settings) as warehouse:
        second = load_files(warehouse, store, select_files(store, settings))
    assert second.rows_loaded == 0 and second.loaded == 0
    assert second.already_loaded == len(bronze.objects)
    assert second.raw_rows == bronze.rows


def test_corrupt_file_is_reported_others_load_and_it_is_retried(settings, store, bronze) -> None:
    """A truncated gzip (manifest agrees with the bytes, so only parsing can notice) fails alone."""
    bad = bronze.objects[3]
    good_bytes = store.read_bytes(bad.key)
    truncated = good_bytes[: len(good_bytes) // 2]
    _rewrite(store, bad.key, truncated)
    files = [
        BronzeFile(f.key, hashlib.sha256(truncated).hexdigest(), f.rows) if f.key == bad.key else f
        for f in _files(bronze)
    ]
    with DuckDBLoader(settings) as warehouse:
        results = warehouse.load(files, store)
        assert warehouse.raw_row_count() == bronze.rows - bad.rows
    failed = [r for r in results if r.status == "failed"]
    assert [r.file_name for r in failed] == [bad.key]
    assert "gzip" in failed[0].error.lower() or "eof" in failed[0].error.lower()
    assert sum(r.rows_loaded for r in results) == bronze.rows - bad.rows
    assert _raw(settings, f"SELECT count(*) FROM RAW.events WHERE file_name = '{bad.key}'") == [(0,)]
    assert _raw(settings, f"SELECT count(*) FROM RAW.load_history WHERE file_name = '{bad.key}'") == [(0,)]

    _rewrite(store, bad.key, good_bytes)  # re-landed: the next run picks it up
    with DuckDBLoader(settings) as warehouse:
        retry = warehouse.load(_files(bronze), store)
        assert warehouse.raw_row_count() == bronze.rows
    assert {r.file_name for r in retry if r.status == "loaded"} == {bad.key}


def test_checksum_mismatch_and_bad_records_are_failures(settings, store, bronze) -> None:
    truncated, broken = bronze.objects[0], bronze.objects[1]
    _rewrite(store, truncated.key, store.read_bytes(truncated.key)[:-20])
    lines = decode_lines(store.read_bytes(broken.key))
    record = json.loads(lines[0])
    del record["event_id"]  # a required column missing: NOT NULL must stop the file
    data = gzip.compress(("\n".join([json.dumps(record), *lines[1:]]) + "\n").encode(), mtime=0)
    _rewrite(store, broken.key, data)
    files = [
        BronzeFile(f.key, hashlib.sha256(data).hexdigest(), f.rows) if f.key == broken.key else f
        for f in _files(bronze)
    ]
    with DuckDBLoader(settings) as warehouse:
        results = {r.file_name: r for r in warehouse.load(files, store)}
        assert warehouse.raw_row_count() == bronze.rows - truncated.rows - broken.rows
    assert results[truncated.key].status == "failed"
    assert results[truncated.key].error.startswith(f"{truncated.key}: checksum_mismatch")
    assert results[broken.key].status == "failed"
    assert "event_id" in results[broken.key].error or "NOT NULL" in results[broken.key].error


def test_crash_between_two_files_leaves_no_partial_file(settings, store, bronze, tmp_path) -> None:
    """A process killed after file 1 committed and while file 2 is mid-transaction keeps file 1
    whole and file 2 absent; the next run loads the rest exactly once."""
    script = textwrap.dedent(
        f"""
        import os
        from cardflow.settings import load_settings
        from cardflow.warehouse.load import load_files, select_files
        from cardflow.bronze.store import LocalBronzeStore
        from cardflow.warehouse.duckdb import DuckDBLoader

        settings = load_settings(data_dir={str(settings.data_dir)!r}, load_batch_files=1)
        store = LocalBronzeStore(settings.lake_dir)
        commits = []
        class Crashing(DuckDBLoader):
            def _commit(self):
                if commits:
                    os._exit(17)  # rows and history of file 2 inserted, not committed
                commits.append(1)
                super()._commit()
        with Crashing(settings) as warehouse:
            load_files(warehouse, store, select_files(store, settings))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, timeout=300
    )
    assert proc.returncode == 17, proc.stderr.decode()[-2000:]

    history = _raw(settings, "SELECT file_name, row_count FROM RAW.load_history")
    assert len(history) == 1
    only_file, rows = history[0]
    per_file = _raw(settings, "SELECT file_name, count(*) FROM RAW.events GROUP BY 1")
    assert per_file == [(only_file, rows)]

    with DuckDBLoader(settings) as warehouse:
        rerun = load_files(warehouse, store, select_files(store, settings))
    assert rerun.already_loaded == 1 and rerun.loaded == len(bronze.objects) - 1
    assert _raw(settings, "SELECT count(*), count(DISTINCT event_id) FROM RAW.events") == [
        (bronze.rows, bronze.rows)
    ]


def test_reload_replaces_a_files_rows_atomically(settings, store, bronze) -> None:
    target = bronze.objects[0]
    with DuckDBLoader(settings) as warehouse:
        warehouse.load(_files(bronze), store)
        warehouse.conn.execute(
            f"DELETE FROM RAW.events WHERE file_name = '{target.key}' AND file_row_number = 1"
        )
        results = warehouse.reload([BronzeFile(target.key, target.sha256, target.rows)], store)
        assert warehouse.raw_row_count() == bronze.rows
    assert results[0].status == "loaded" and results[0].rows_loaded == target.rows
    assert _raw(settings, f"SELECT count(*) FROM RAW.load_history WHERE file_name = '{target.key}'") == [(1,)]


def test_unlisted_parts_and_bad_manifests_are_reported(settings, store, bronze) -> None:
    store.write_bytes(f"{settings.s3_prefix}/_manifests/origin=backfill/broken.json", b"{not json")
    store.write_bytes(bronze.manifest_key, b'{"run_id": "x", "objects": []}')  # manifest lost its list
    selection = select_files(store, settings)
    assert selection.unlisted == len(bronze.objects)  # still found by listing, not skipped
    assert [p.file_name for p in selection.problems] == [
        f"{settings.s3_prefix}/_manifests/origin=backfill/broken.json"
    ]
    assert "unreadable manifest" in selection.problems[0].error
    with DuckDBLoader(settings) as warehouse:
        summary = load_files(warehouse, store, selection)
    assert summary.rows_loaded == bronze.rows and len(summary.failed) == 1


def test_every_duckdb_session_runs_in_utc(settings: Settings) -> None:
    """Loader and quality/WAP sessions run in UTC on a machine whose zone is UTC+14, so a timestamp
    near midnight buckets into its UTC day (reconciliation counts per UTC day). A child process:
    DuckDB's ICU takes the zone from TZ when it loads."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from cardflow.settings import load_settings
        from cardflow.warehouse.connection import DuckDBTarget, open_session
        from cardflow.warehouse.duckdb import DuckDBLoader
        settings = load_settings(data_dir=Path({str(settings.data_dir)!r}))
        query = "SELECT current_setting('TimeZone'), CAST(TIMESTAMPTZ '2026-03-01 23:30:00+00' AS DATE)"
        with DuckDBLoader(settings) as loader:
            print(loader.conn.execute(query).fetchone())
        with open_session(DuckDBTarget(settings.duckdb_path)) as session:
            print(session.query(query)[0])
        """
    )
    env = {**os.environ, "TZ": "Pacific/Kiritimati", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    expected = str(("UTC", date(2026, 3, 1)))
    assert out.stdout.splitlines() == [expected, expected]


def test_warehouse_sessions_draw_no_progress_bar(tmp_path) -> None:
    """A long load batch must not draw DuckDB's progress bar on the console (demo, flow logs)."""
    from cardflow.warehouse.duckdb import connect_utc

    conn = connect_utc(tmp_path / "w.duckdb")
    try:
        assert conn.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False
        assert conn.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
    finally:
        conn.close()
