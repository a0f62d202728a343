"""prefect.yaml: every deployment points at a flow that imports, with parameters that validate.

Also checks what every flow must carry (the shared failure hook, a run name saying what it
processed) and that ``cardflow serve`` builds the same schedules and triggers as prefect.yaml.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

import flows
from cardflow.errors import DeploymentConflict
from deployments.serve import PREFECT_YAML, build_deployments, describe_spec, read_specs
from tasks.alerts import alert_on_failure

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = yaml.safe_load(PREFECT_YAML.read_text())
DEPLOYMENTS = {d["name"]: d for d in DOCUMENT["deployments"]}
EXPECTED = {
    "events_backfill_to_s3",
    "s3_to_snowflake_load_raw",
    "dbt_transform_and_test",
    "medallion_pipeline",
    "mq_realtime_landing",
    "bronze_replay",
    "nightly_reconciliation",
}
# parameters a deployment leaves to the person starting the run (no schedule may rely on them)
RUN_TIME_PARAMETERS = {
    "bronze_replay": {"start": "2026-11-01", "end": "2026-11-02"},
    "mq_realtime_landing": {"manifest_key": "bronze/_manifests/origin=realtime/20261120T120000000000Z-abc.json"},
}


def _flow(entrypoint: str) -> Flow[..., Any]:
    return load_flow_from_entrypoint(str(ROOT / entrypoint), use_placeholder_flow=False)


def test_every_flow_module_imports() -> None:
    names = [m.name for m in pkgutil.iter_modules(flows.__path__)]
    assert {"backfill", "load", "transform", "pipeline", "realtime", "replay"} <= set(names)
    for name in names:
        importlib.import_module(f"flows.{name}")


def test_reconciliation_runs_nightly_with_reconcile_true() -> None:
    spec = DEPLOYMENTS["nightly_reconciliation"]
    assert spec["entrypoint"] == "flows/transform.py:dbt_transform_and_test"
    assert spec["parameters"]["reconcile"] is True
    (schedule,) = spec["schedules"]
    assert schedule["active"] and schedule["timezone"] == "UTC"
    assert schedule["cron"].split()[2:] == ["*", "*", "*"], "once a day"


def test_one_deployment_per_flow_on_the_process_pool() -> None:
    assert set(DEPLOYMENTS) == EXPECTED
    for spec in DEPLOYMENTS.values():
        assert spec["work_pool"]["name"] == "cardflow-process"
        assert "cardflow" in spec["tags"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entrypoint_loads_and_parameters_validate(name: str) -> None:
    spec = DEPLOYMENTS[name]
    flow = _flow(spec["entrypoint"])
    schema = parameter_schema(flow).model_dump_for_openapi()
    defaults = {**(spec.get("parameters") or {}), **RUN_TIME_PARAMETERS.get(name, {})}
    if name in RUN_TIME_PARAMETERS:
        assert not spec.get("schedules"), "a schedule cannot supply run-time parameters"
    for parameters in [defaults] + [{**defaults, **(s.get("parameters") or {})} for s in spec.get("schedules") or []]:
        jsonschema.validate(parameters, schema)  # what the server enforces on a run
        flow.validate_parameters(parameters)  # what the flow engine does before running
    assert list(flow.parameters.properties)[-1] == "settings", "settings must be the last parameter"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_flow_alerts_on_failure_and_names_its_runs(name: str) -> None:
    flow = _flow(DEPLOYMENTS[name]["entrypoint"])
    assert alert_on_failure in flow.on_failure_hooks
    assert alert_on_failure in flow.on_crashed_hooks
    assert flow.flow_run_name, f"{flow.name} has no flow_run_name saying what a run processed"


def test_schedules_are_cron_with_timezones() -> None:
    for spec in DEPLOYMENTS.values():
        for schedule in spec.get("schedules") or []:
            assert schedule["cron"] and schedule["timezone"]
    assert any(s["active"] for s in DEPLOYMENTS["medallion_pipeline"]["schedules"])


def test_realtime_trigger_renders_ids_not_messages() -> None:
    """The event trigger passes the landed batch's manifest key and id; no parameter holds messages."""
    spec = DEPLOYMENTS["mq_realtime_landing"]
    (trigger,) = spec["triggers"]
    parsed = DeploymentEventTrigger.model_validate(trigger)
    assert parsed.expect == {"cardflow.mq.batch.landed"}
    payload = {"batch_id": "abc", "manifest_key": "bronze/_manifests/origin=realtime/x-abc.json", "messages": 3}
    rendered = hydrate(
        trigger["parameters"],
        HydrationContext(render_jinja=True, jinja_context={"event": {"payload": payload}}),
    )
    assert rendered == {"manifest_key": payload["manifest_key"], "batch_id": "abc"}
    flow = _flow(spec["entrypoint"])
    jsonschema.validate(rendered, parameter_schema(flow).model_dump_for_openapi())
    assert flow.validate_parameters(rendered)["manifest_key"] == payload["manifest_key"]
    assert "messages" not in flow.parameters.properties


def test_serve_builds_the_same_deployments() -> None:
    specs = {s.name: s for s in read_specs()}
    built = {d.name: d for d in build_deployments()}
    assert set(built) == EXPECTED
    for name, deployment in built.items():
        expected = [(s["cron"], s["timezone"], s.get("active", True)) for s in specs[name].schedules]
        got = [(s.schedule.cron, s.schedule.timezone, s.active) for s in deployment.schedules or []]
        assert got == expected
        assert deployment.parameters == specs[name].parameters
    assert len(built["mq_realtime_landing"].triggers) == 1


def test_serve_list_shows_per_schedule_parameters() -> None:
    lines = {s.name: describe_spec(s) for s in read_specs()}
    assert len(lines) == 7  # six flows; the transform twice (nightly_reconciliation)
    pipeline = lines["medallion_pipeline"]
    assert '30 3 * * * America/New_York with {"full_refresh": true}' in pipeline
    assert '"full_refresh": false' in pipeline  # the deployment's own parameters
    assert "(inactive)" in lines["events_backfill_to_s3"]
    assert "cardflow.mq.batch.landed" in lines["mq_realtime_landing"]


def test_serve_refuses_beside_worker_pool_deployments(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal names every deployment in the way and the ways out; no conflict, no refusal."""
    import deployments.serve as serve

    monkeypatch.setattr(serve, "worker_deployments_in_the_way", lambda _: {})
    serve.refuse_if_deployed([])  # nothing deployed: serving is safe
    held = {
        "medallion_pipeline/medallion_pipeline": "cardflow-process",
        "bronze_replay/bronze_replay": "cardflow-process",
    }
    monkeypatch.setattr(serve, "worker_deployments_in_the_way", lambda _: held)
    with pytest.raises(DeploymentConflict) as caught:
        serve.refuse_if_deployed([])
    message = str(caught.value)
    assert "medallion_pipeline/medallion_pipeline (work pool cardflow-process)" in message
    assert "bronze_replay/bronze_replay (work pool cardflow-process)" in message
    assert "prefect worker start --pool cardflow-process" in message
    assert "prefect deployment delete bronze_replay/bronze_replay" in message
    assert "PREFECT_API_URL" in message


def test_serve_sees_only_worker_pool_deployments_as_conflicts() -> None:
    """Against the test API: a served (pool-less) deployment of the same name is serve's own; the
    same name deployed to a work pool is in the way."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    from deployments.serve import worker_deployments_in_the_way

    built = [d for d in build_deployments() if d.name == "bronze_replay"]
    assert worker_deployments_in_the_way(built) == {}  # nothing registered yet
    built[0].apply()  # what `cardflow serve` registers: no work pool
    assert worker_deployments_in_the_way(built) == {}

    async def _pool() -> None:
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="cardflow-unit-pool", type="process"), overwrite=True)

    asyncio.run(_pool())
    built[0].apply(work_pool_name="cardflow-unit-pool")  # what `prefect deploy` registers
    assert worker_deployments_in_the_way(built) == {"bronze_replay/bronze_replay": "cardflow-unit-pool"}
