"""medallion_pipeline's composition: stage order, warehouse slot, transient-only retries, one alert;
and the slot ownership of :mod:`tasks.limits` (nested flows, strict limits, waiting writers).

The stage flows are replaced by small flows so the behaviour of the pipeline itself is what is
tested (the real stages run end to end in tests/integration/test_pipeline_integration.py and
test_deploy_integration.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client

import flows.pipeline as pipeline
from cardflow.errors import ConfigurationError, QualityGateFailed
from cardflow.settings import Settings
from tasks.limits import WAREHOUSE_LIMIT, ensure_warehouse_limit


def _active_slots() -> int | None:
    """Slots of the warehouse limit in use now; None when the limit does not exist."""
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT).active_slots
        except ObjectNotFound:
            return None


@pytest.fixture
def warehouse_limit() -> Iterator[None]:
    assert ensure_warehouse_limit(1) in ("created", "updated")
    yield
    ensure_warehouse_limit(1)  # the session's limit stays (every warehouse flow needs it on a server)


@pytest.fixture
def no_warehouse_limit() -> Iterator[None]:
    """The harness server without the limit (as a fresh server before `cardflow limits`)."""
    with get_client(sync_client=True) as client:
        client.delete_global_concurrency_limit_by_name(WAREHOUSE_LIMIT)
    yield
    ensure_warehouse_limit(1)


@pytest.fixture
def stages(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Fake stages recording calls and the warehouse slots held while each ran."""
    seen: dict[str, Any] = {"calls": [], "slots": {}, "load_failures": [], "transform_error": None}

    @flow(name="fake_backfill")
    def backfill(settings: Settings | None = None) -> dict[str, Any]:
        seen["calls"].append("backfill")
        seen["settings"] = settings
        return seen.get("backfill_result", {"rows": 10})

    @flow(name="fake_load")
    def load(manifest_keys: list[str] | None = None, settings: Settings | None = None) -> dict[str, int]:
        seen["calls"].append("load")
        seen["manifest_keys"] = manifest_keys
        seen["slots"].setdefault("load", []).append(_active_slots())
        if seen["load_failures"]:
            raise seen["load_failures"].pop(0)
        return {"files": 2}

    @flow(name="fake_transform")
    def transform(full_refresh: bool = False, settings: Settings | None = None) -> dict[str, Any]:
        seen["calls"].append("transform")
        seen["slots"].setdefault("transform", []).append(_active_slots())
        if seen["transform_error"]:
            raise seen["transform_error"]
        return {"models": 9, "full_refresh": full_refresh}

    monkeypatch.setattr(pipeline, "events_backfill_to_s3", backfill)
    monkeypatch.setattr(pipeline, "s3_to_snowflake_load_raw", load)
    monkeypatch.setattr(pipeline, "dbt_transform_and_test", transform)
    return seen


def test_stages_run_in_order_each_warehouse_stage_holding_one_slot(
    warehouse_limit: None, stages: dict[str, Any], local_settings: Settings
) -> None:
    result = pipeline.medallion_pipeline(full_refresh=True, settings=local_settings)
    assert stages["calls"] == ["backfill", "load", "transform"]
    assert stages["slots"] == {"load": [1], "transform": [1]}  # held while running, one at a time
    assert _active_slots() == 0  # released afterwards
    assert result == {"backfill": {"rows": 10}, "load": {"files": 2}, "transform": {"models": 9, "full_refresh": True}}


def test_transient_stage_failure_is_retried(
    warehouse_limit: None, stages: dict[str, Any], local_settings: Settings
) -> None:
    stages["load_failures"] = [ConnectionResetError("warehouse connection reset")]
    pipeline.medallion_pipeline(retries=2, retry_delay_seconds=0.01, settings=local_settings)
    assert stages["calls"] == ["backfill", "load", "load", "transform"]
    assert _active_slots() == 0  # the failed attempt released its slot


def test_data_error_is_not_retried(warehouse_limit: None, stages: dict[str, Any], local_settings: Settings) -> None:
    """A gate failure is final: no retry, and the slot is released."""
    stages["transform_error"] = QualityGateFailed("gold", ["fct_orders.quantity > 0: 3 rows"])
    state = pipeline.medallion_pipeline(retries=3, retry_delay_seconds=0.01, settings=local_settings, return_state=True)
    assert state.is_failed()
    assert stages["calls"] == ["backfill", "load", "transform"]
    assert _active_slots() == 0
    with pytest.raises(QualityGateFailed):
        state.result()


def test_a_missing_limit_on_a_server_fails_naming_cardflow_limits(
    no_warehouse_limit: None, stages: dict[str, Any], local_settings: Settings
) -> None:
    """On a server the slot is strict: no limit means no warehouse write, and the error says how to fix it."""
    state = pipeline.medallion_pipeline(retries=0, settings=local_settings, return_state=True)
    assert state.is_failed()
    assert stages["calls"] == ["backfill"]  # the warehouse stages never ran unprotected
    with pytest.raises(ConfigurationError, match="cardflow limits"):
        state.result()


def test_stages_resolve_the_environment_themselves_when_no_settings_are_given(
    stages: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A deployment run passes no settings: the stages then get None (and resolve the environment
    themselves), so no configuration is stored in their flow-run parameters."""
    monkeypatch.setenv("CARDFLOW_DATA_DIR", str(tmp_path / "data"))
    pipeline.medallion_pipeline(retries=0)
    assert stages["settings"] is None


def test_stages_get_the_callers_settings_when_given(stages: dict[str, Any], local_settings: Settings) -> None:
    pipeline.medallion_pipeline(retries=0, settings=local_settings)
    assert stages["settings"] is local_settings


def _backfill_result(keys: list[str]) -> dict[str, Any]:
    """What the backfill flow returns (its real shape: a renamed field cannot silently send every
    load to the cursor)."""
    from cardflow.sources.eventstore.finish import BackfillResult

    return BackfillResult(
        run_id="x",
        mode="incremental",
        rows_read=10,
        rows_written=10,
        rows_already_in_bronze=0,
        quarantined=0,
        objects_written=len(keys),
        quarantine_objects_written=0,
        manifest_key=keys[-1],
        manifest_keys=keys,
        manifest_objects=len(keys),
        watermark_before=None,
        watermark_after=None,
        chunks=len(keys),
    ).as_dict()


def test_load_reads_the_manifests_the_backfill_wrote(
    warehouse_limit: None, stages: dict[str, Any], local_settings: Settings
) -> None:
    """No listing when the backfill names its manifests (one per chunk); the load cursor when it
    wrote none, or more than a run parameter should carry."""
    pipeline.medallion_pipeline(settings=local_settings)
    assert stages["manifest_keys"] is None
    keys = [f"bronze/_manifests/origin=backfill/x-c{i:06d}.json" for i in range(3)]
    stages["backfill_result"] = _backfill_result(keys)
    pipeline.medallion_pipeline(settings=local_settings)
    assert stages["manifest_keys"] == keys
    stages["backfill_result"] = _backfill_result([f"k{i}" for i in range(pipeline.MAX_MANIFEST_PARAMETERS + 1)])
    pipeline.medallion_pipeline(settings=local_settings)
    assert stages["manifest_keys"] is None


def test_stage_subflows_that_take_the_slot_themselves_do_not_deadlock(
    warehouse_limit: None, stages: dict[str, Any], local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stage flows hold the slot when run alone; under the pipeline (which owns it, limit 1)
    they run inside its slot instead of waiting forever for a second one."""
    from tasks.limits import holds_warehouse_slot

    @flow(name="fake_load_with_slot")
    @holds_warehouse_slot("load")
    def load(settings: Settings | None = None) -> dict[str, int]:
        stages["calls"].append("load")
        stages["slots"].setdefault("load", []).append(_active_slots())
        return {"files": 1}

    monkeypatch.setattr(pipeline, "s3_to_snowflake_load_raw", load)
    pipeline.medallion_pipeline(retries=0, settings=local_settings)
    assert stages["calls"] == ["backfill", "load", "transform"]
    assert stages["slots"]["load"] == [1]
    load(settings=local_settings)  # alone: takes the slot itself
    assert stages["slots"]["load"] == [1, 1] and _active_slots() == 0


def test_a_manual_transform_during_a_pipeline_run_waits_for_the_slot(
    warehouse_limit: None, stages: dict[str, Any], local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injected: the real ``dbt_transform_and_test`` flow is started by hand while a pipeline
    holds the warehouse in its transform stage. Its first step must run only after the pipeline's
    stage ended (it waited on the slot), never interleaved with it."""
    import threading
    import time

    import flows.transform as transform_flow

    order: list[str] = []
    holding, release, attempting = threading.Event(), threading.Event(), threading.Event()

    @flow(name="fake_blocking_transform")
    def blocking_transform(full_refresh: bool = False, settings: Settings | None = None) -> dict[str, Any]:
        order.append("pipeline transform start")
        holding.set()
        release.wait(timeout=120)
        order.append("pipeline transform end")
        return {}

    def first_step_of_manual_transform(settings: Settings) -> Any:
        order.append("manual transform start")
        raise RuntimeError("stop: only the waiting is under test")

    monkeypatch.setattr(pipeline, "dbt_transform_and_test", blocking_transform)
    monkeypatch.setattr(transform_flow, "raw_events_checks_task", first_step_of_manual_transform)
    states: dict[str, Any] = {}

    def manual() -> None:
        attempting.set()
        states["manual"] = transform_flow.dbt_transform_and_test(settings=local_settings, return_state=True)

    runner = threading.Thread(target=lambda: pipeline.medallion_pipeline(retries=0, settings=local_settings))
    runner.start()
    assert holding.wait(timeout=300), "the pipeline never reached its transform stage"
    other = threading.Thread(target=manual)
    other.start()
    assert attempting.wait(timeout=60)
    time.sleep(3)  # room for the manual run to (wrongly) start while the slot is held
    assert order == ["pipeline transform start"], "the manual transform ran inside the pipeline's slot"
    release.set()
    runner.join(timeout=300)
    other.join(timeout=300)
    assert order == ["pipeline transform start", "pipeline transform end", "manual transform start"]
    assert states["manual"].is_failed() and _active_slots() == 0
