"""The flow dbt_transform_and_test on DuckDB: nodes as Prefect tasks, warnings in an artifact, and
failures that fail the flow with the failed nodes listed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cardflow.errors import TransformError
from cardflow.settings import load_settings
from flows.transform import dbt_transform_and_test
from tests.raw_factory import generate, insert_raw_duckdb, raw_rows

pytestmark = pytest.mark.integration


def test_flow_builds_with_node_tasks_and_reports_warnings(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    path = tmp_path / "warehouse.duckdb"
    events, _ = generate(events=1_500, seed=5, anomaly_rate=0.01)
    insert_raw_duckdb(path, raw_rows(events))
    settings = load_settings(data_dir=tmp_path, duckdb_path_override=path, dbt_node_tasks=True)

    state = dbt_transform_and_test(full_refresh=True, settings=settings, return_state=True)
    assert state.is_completed()
    result = state.result()
    assert result.build["counts"]["success"] == 9  # nine models built
    assert result.warnings > 0  # negative quantities etc. are warnings, listed in the artifact
    assert result.freshness["counts"] == {"pass": 1}

    async def _read() -> tuple[int, str]:
        async with get_client() as client:
            runs = await client.read_task_runs()
            flow_runs = {r.flow_run_id for r in runs if r.name.startswith("model stg_order_created")}
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["dbt-transform"]))
            )
            return len(flow_runs), artifacts[0].data if artifacts else ""

    import asyncio

    node_task_flows, markdown = asyncio.run(_read())
    assert node_task_flows >= 1  # the dbt node ran as a Prefect task run
    assert "## Warnings" in markdown and "non_negative_stg_order_created_quantity" in markdown


def test_flow_fails_listing_the_failed_nodes(tmp_path: Path) -> None:
    """An event with a status outside the accepted values fails an error-severity test: the flow
    fails and says which test, with how many rows."""
    path = tmp_path / "warehouse.duckdb"
    events, _ = generate(events=600, seed=6, anomalies=False)
    bad = next(e for e in events if e["event_type"] == "OrderCreated")
    events.append(
        {
            **bad,
            "event_id": "40000000-0000-4000-8000-000000000001",
            "payload": {**bad["payload"], "order_id": "ORD-REFUNDED", "status": "REFUNDED"},
            "inserted_at": datetime(2026, 10, 31, tzinfo=UTC),
        }
    )
    insert_raw_duckdb(path, raw_rows(events))
    settings = load_settings(data_dir=tmp_path, duckdb_path_override=path, dbt_node_tasks=False)
    with pytest.raises(TransformError) as failure:
        dbt_transform_and_test(full_refresh=True, settings=settings)
    message = str(failure.value)
    assert "accepted_values_stg_order_created_status" in message
    assert "fail (1 failing rows)" in message
