"""The flow dbt_transform_and_test on DuckDB: dbt nodes as Prefect tasks, warnings in the run's
artifact, and dbt failures that fail the flow with the failed nodes listed (nothing published).

Adapted to the gated write-audit-publish flow (quality branch): data is clean and ends now, since
the RAW checks and the gates would (rightly) stop stale or anomalous data before dbt's own tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from cardflow.errors import TransformError
from cardflow.settings import load_settings
from flows.transform import dbt_transform_and_test
from tests.raw_factory import generate, insert_raw_duckdb, raw_rows

pytestmark = pytest.mark.integration


def test_flow_builds_with_node_tasks_and_reports_warnings(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    path = tmp_path / "warehouse.duckdb"
    events, _ = generate(events=1_500, seed=5, anomalies=False, days=10, end=datetime.now(UTC))
    insert_raw_duckdb(path, raw_rows(events))
    settings = load_settings(data_dir=tmp_path, duckdb_path_override=path, dbt_node_tasks=True)

    state = dbt_transform_and_test(full_refresh=True, settings=settings, return_state=True)
    assert state.is_completed()
    result = state.result()
    assert result.layers["silver"]["dbt_counts"]["success"] == 5  # 3 stg_* + 2 int_*
    assert result.layers["gold"]["dbt_counts"]["success"] == 5  # five marts
    assert result.layers["gold"]["dbt_warnings"]  # oversold SKUs are a warning, listed in the artifact

    async def _read() -> tuple[int, str]:
        async with get_client() as client:
            runs = await client.read_task_runs()
            flow_runs = {r.flow_run_id for r in runs if r.name.startswith("model stg_order_created")}
            artifacts = await client.read_artifacts(  # this run's (other tests' runs share the server)
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=["dbt-transform"]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
                )
            )
            return len(flow_runs), artifacts[0].data if artifacts else ""

    import asyncio

    node_task_flows, markdown = asyncio.run(_read())
    assert node_task_flows >= 1  # the dbt node ran as a Prefect task run
    assert "## dbt warnings" in markdown and "assert_no_oversold_skus" in markdown
    # where the time went, per layer, without depending on the per-node tasks
    nodes = result.layers["silver"]["dbt_nodes"]
    seconds = [n["seconds"] for n in nodes]
    assert seconds == sorted(seconds, reverse=True)  # slowest first
    assert all(n["type"] in {"model", "test"} for n in nodes)
    assert "## silver: dbt " in markdown
    # every node of each layer build has its row in the artifact, with its status and time
    assert len(nodes) == sum(result.layers["silver"]["dbt_counts"].values())
    assert all(f"| {n['type']} {n['name']} | {n['status']} | {n['seconds']:.2f} |" in markdown for n in nodes)


def test_flow_fails_listing_the_failed_nodes(tmp_path: Path) -> None:
    """An event with a status outside the accepted values fails an error-severity test in the Silver
    audit build: the flow fails, says which test with how many rows, and publishes nothing."""
    path = tmp_path / "warehouse.duckdb"
    now = datetime.now(UTC)
    events, _ = generate(events=600, seed=6, anomalies=False, days=10, end=now)
    bad = next(e for e in events if e["event_type"] == "OrderCreated")
    events.append(
        {
            **bad,
            "event_id": "40000000-0000-4000-8000-000000000001",
            "payload": {**bad["payload"], "order_id": "ORD-REFUNDED", "status": "REFUNDED"},
            "inserted_at": now - timedelta(hours=1),
        }
    )
    insert_raw_duckdb(path, raw_rows(events))
    settings = load_settings(data_dir=tmp_path, duckdb_path_override=path, dbt_node_tasks=False)
    with pytest.raises(TransformError) as failure:
        dbt_transform_and_test(full_refresh=True, settings=settings)
    message = str(failure.value)
    assert "accepted_values_stg_order_created_status" in message
    assert "fail (1 failing rows)" in message
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("SELECT table_schema FROM information_schema.tables").fetchall()
    assert ("SILVER",) not in tables and ("SILVER_AUDIT",) in tables
