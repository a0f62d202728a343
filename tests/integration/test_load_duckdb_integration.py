"""The load flow on DuckDB with Bronze in S3 (moto server), its artifact, bootstrap and replay.

Bronze comes from ``tests.bronze_factory`` written through the real ``S3BronzeStore``; DuckDB cannot
read ``s3://`` here, so the load fetches objects with boto3 (via prefect-aws) into temp files.
"""

from __future__ import annotations

import asyncio

import duckdb
import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.cli import main as cli_main
from cardflow.errors import LoadError
from cardflow.settings import Settings
from cardflow.warehouse.load import partition_date
from flows.load import s3_to_snowflake_load_raw
from flows.replay import bronze_replay
from tests.bronze_factory import generate_bronze

pytestmark = pytest.mark.integration


def _raw(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


async def _artifact_rows(key: str, flow_run_id: object) -> list[dict]:
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
            ),
            limit=1,
        )
    data = artifacts[0].data
    return json.loads(data) if isinstance(data, str) else data


def test_flow_loads_s3_bronze_once_publishes_artifact_and_replays(s3_settings: Settings) -> None:
    store = resolve_backends(s3_settings).store()
    bronze = generate_bronze(store, s3_settings.s3_prefix, events=800, days=2, seed=3)

    state = s3_to_snowflake_load_raw(
        manifest_keys=[bronze.manifest_key], settings=s3_settings, return_state=True
    )
    first = state.result()
    assert first["files_loaded"] == len(bronze.objects) and first["files_failed"] == 0
    assert first["rows_loaded"] == bronze.rows == first["raw_rows"]
    rows = asyncio.run(_artifact_rows("raw-load", state.state_details.flow_run_id))
    assert len(rows) == len(bronze.objects)
    assert {r["status"] for r in rows} == {"loaded"} and sum(r["rows_loaded"] for r in rows) == bronze.rows

    second = s3_to_snowflake_load_raw(settings=s3_settings)  # the load cursor: nothing new to read
    assert second["rows_loaded"] == 0 and second["files"] == 0
    again = s3_to_snowflake_load_raw(manifest_keys=[bronze.manifest_key], settings=s3_settings)
    assert again["rows_loaded"] == 0 and again["files_already_loaded"] == len(bronze.objects)

    # a file whose object was damaged after its manifest: reported by name, the run ends Failed
    extra = generate_bronze(store, s3_settings.s3_prefix, events=300, days=1, seed=99, run_id="second-run")
    damaged = extra.objects[0]
    original = store.read_bytes(damaged.key)
    store.write_bytes(damaged.key, original[:50])
    with pytest.raises(LoadError, match="checksum_mismatch"):
        s3_to_snowflake_load_raw(manifest_keys=[extra.manifest_key], settings=s3_settings)
    assert (
        _raw(s3_settings, "SELECT count(*) FROM RAW.events")[0][0] == bronze.rows + extra.rows - damaged.rows
    )

    store.write_bytes(damaged.key, original)  # re-landed: the replay below reloads it too

    # replay one day: its files' rows are replaced, the total stays exact
    day = partition_date(bronze.objects[-1].key)
    assert day is not None
    in_range = [o for o in bronze.objects + extra.objects if partition_date(o.key) == day]
    with duckdb.connect(str(s3_settings.duckdb_path)) as conn:
        conn.execute(f"DELETE FROM RAW.events WHERE file_name = '{in_range[0].key}'")  # RAW damaged by hand
    replay = bronze_replay(start=day, end=day, rebuild=False, settings=s3_settings)
    assert replay["files_loaded"] == len(in_range) and replay["rebuilt"] is False
    assert (
        _raw(s3_settings, "SELECT count(*), count(DISTINCT event_id) FROM RAW.events")[0]
        == (bronze.rows + extra.rows,) * 2
    )


def test_bootstrap_and_replay_commands(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("CARDFLOW_DATA_DIR", str(local_settings.data_dir))
    assert cli_main(["bootstrap", "--warehouse"]) == 0
    assert cli_main(["bootstrap", "--warehouse"]) == 0  # idempotent
    assert "bootstrap (duckdb)" in capsys.readouterr().out
    tables = _raw(
        local_settings, "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
    )
    assert ("RAW", "events") in tables and ("RAW", "load_history") in tables

    store = resolve_backends(local_settings).store()
    bronze = generate_bronze(store, local_settings.s3_prefix, events=300, days=1, seed=4)
    days = sorted({partition_date(o.key) for o in bronze.objects})
    assert (
        cli_main(["replay", "--start", days[0].isoformat(), "--end", days[-1].isoformat(), "--no-rebuild"])
        == 0
    )
    assert _raw(local_settings, "SELECT count(*) FROM RAW.events")[0][0] == bronze.rows
    # a reversed range is a CardflowError: exit code 1 and a message, not a traceback
    assert cli_main(["replay", "--start", "2026-01-02", "--end", "2026-01-01", "--no-rebuild"]) == 1
