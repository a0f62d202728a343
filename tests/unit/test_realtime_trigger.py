"""The Prefect-native path: a landed batch -> ``cardflow.mq.batch.landed`` -> trigger -> a recording run.

The trigger is rendered with Prefect's own parameter hydration (the code the server runs for
RunDeployment actions), so a broken trigger fails here, not on the server. The event and the
parameters carry the batch id and the manifest key; the run reads what landed from Bronze.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.events.schemas.events import Event
from prefect.server.events.actions import RunDeployment
from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

from cardflow.backends.chooser import resolve_backends
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.errors import ManifestError
from cardflow.settings import Settings, load_settings
from cardflow.sources.mq.landing import BatchLanding, land_messages
from cardflow.sources.mq.messages import PUBLISHED_AT_HEADER, RawMessage
from cardflow.sources.mq.outgoing import outgoing_for_event
from flows.realtime import mq_realtime_landing
from tasks.realtime import BATCH_LANDED_EVENT, BATCH_RESOURCE_PREFIX, batch_landed_payload

ROOT = Path(__file__).resolve().parents[2]


def _messages(n: int) -> list[RawMessage]:
    out = []
    for event in EventGenerator(GeneratorConfig(events=n, seed=21)):
        o = outgoing_for_event(event)
        headers = o.headers | {PUBLISHED_AT_HEADER: "2026-11-20T12:00:00+00:00"}
        out.append(RawMessage(o.body, o.content_type, headers=headers))
    return [*out, RawMessage(b"not json at all", "application/json")]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
def landed(settings: Settings) -> BatchLanding:
    return land_messages(_messages(40), resolve_backends(settings, needs={"bronze"}).store(), settings.s3_prefix)


def _trigger() -> dict:
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    (deployment,) = [d for d in deployments if d["name"] == "mq_realtime_landing"]
    assert deployment["entrypoint"] == "flows/realtime.py:mq_realtime_landing"
    (trigger,) = deployment["triggers"]
    return trigger


def _event(landing: BatchLanding) -> Event:
    """The event exactly as :func:`tasks.realtime.emit_batch_landed` builds it."""
    return Event(
        event=BATCH_LANDED_EVENT,
        resource={
            "prefect.resource.id": f"{BATCH_RESOURCE_PREFIX}{landing.batch_id}",
            "prefect.resource.name": f"MQ batch {landing.batch_id}",
        },
        payload=batch_landed_payload(landing),
    )


def _trigger_parameters(event: Event) -> dict:
    trigger = _trigger()
    parsed = DeploymentEventTrigger.model_validate(trigger)
    assert parsed.expect == {event.event}
    assert parsed.match.matches(event.resource), "the trigger must match the landed event's resource"
    parameters = json.loads(json.dumps(trigger["parameters"]))
    RunDeployment._upgrade_v1_templates(parameters)
    return hydrate(
        parameters,
        HydrationContext(
            render_jinja=True, raise_on_error=True, jinja_context={"event": event.model_dump(mode="json")}
        ),
    )


def test_landed_event_carries_ids_and_counts_only(landed: BatchLanding) -> None:
    payload = batch_landed_payload(landed)
    assert set(payload) == {
        "batch_id",
        "manifest_key",
        "ingested_at",
        "messages",
        "landed",
        "duplicates",
        "quarantined",
        "objects",
        "quarantine_objects",
        "reasons",
    }
    assert (payload["messages"], payload["landed"], payload["quarantined"]) == (41, 40, 1)
    assert payload["reasons"] == {"not_json": 1}
    text = json.dumps(payload)
    assert "not json at all" not in text and "payload" not in text and "data" not in text


def test_trigger_renders_the_manifest_key_and_batch_id(landed: BatchLanding) -> None:
    parameters = _trigger_parameters(_event(landed))
    assert parameters == {"manifest_key": landed.manifest_key, "batch_id": landed.batch_id}


def test_triggered_run_records_what_landed(settings: Settings, landed: BatchLanding) -> None:
    """The run the trigger starts reads the manifest back: the same landing, as counts and an artifact."""
    parameters = _trigger_parameters(_event(landed))
    state = mq_realtime_landing(**parameters, settings=settings, return_state=True)
    assert state.is_completed()
    assert state.result() == landed.counts()

    async def artifact_markdown() -> str:
        run_id = ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
        async with get_client() as client:
            (artifact,) = await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=run_id))
            return str(artifact.data)

    markdown = asyncio.run(artifact_markdown())
    assert landed.batch_id in markdown and "| not_json | 1 |" in markdown
    assert all(o["key"] in markdown for o in [*landed.objects, *landed.quarantine])


def test_run_for_a_missing_or_foreign_manifest_fails(settings: Settings, landed: BatchLanding) -> None:
    assert landed.manifest_key is not None
    with pytest.raises(ManifestError, match="not found"):
        mq_realtime_landing(landed.manifest_key.replace(landed.batch_id, "0" * 20), settings=settings)
    with pytest.raises(ManifestError, match="not 1234"):
        mq_realtime_landing(landed.manifest_key, batch_id="1234", settings=settings)
    # a manifest whose objects were removed from Bronze does not count as landed
    part = settings.lake_dir / landed.objects[0]["key"]
    part.unlink()
    with pytest.raises(ManifestError, match="missing from Bronze"):
        mq_realtime_landing(landed.manifest_key, settings=settings)
