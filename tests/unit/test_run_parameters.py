"""Flow-run parameters stored on the Prefect API hold no secret and no message body.

Prefect stores every flow run's parameters on the API (JSON, shown in the UI, capped at 512 KiB).
Subflows receive ``settings=`` from their parent, so a ``Settings`` is serialized into each
subflow run: every secret in it must arrive masked. The real-time flow must receive ids, never
the batch.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from pathlib import Path

from prefect import flow, tags
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun

from cardflow.backends.chooser import resolve_backends
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.settings import Settings, load_settings
from cardflow.sources.mq.landing import land_messages
from cardflow.sources.mq.messages import PUBLISHED_AT_HEADER, RawMessage
from cardflow.sources.mq.outgoing import outgoing_for_event
from flows.load import s3_to_snowflake_load_raw
from flows.realtime import mq_realtime_landing

#: one value per secret field of Settings; none may appear in any stored parameter
SECRETS = {
    "rabbitmq_url": "amqps://cardflow:rabbit-Pa55word-7@mq.internal.example:5671/%2F",
    "postgres_password": "pg-Pa55word-7",
    "aws_access_key_id": "AKIAEXAMPLE7KEY7ID77",
    "aws_secret_access_key": "aws-Pa55word-7-secret-access-key",
    "snowflake_password": "snow-Pa55word-7",
    "webhook_secret": "webhook-Pa55word-7",
    "slack_webhook_url": "https://hooks.slack.invalid/services/T07/B07/slack-Pa55word-7",
}
NEEDLES = [*SECRETS.values(), "rabbit-Pa55word-7"]


def test_every_secret_field_is_covered() -> None:
    """A new secret field must be added to SECRETS above, or this test no longer proves anything."""
    from pydantic import SecretStr

    secret_fields = {
        name
        for name, info in Settings.model_fields.items()
        if SecretStr in getattr(info.annotation, "__args__", (info.annotation,))
    }
    assert secret_fields == set(SECRETS)


@flow(name="parameters-check-parent")
def _pipeline_like(manifest_key: str, batch_id: str, settings: Settings) -> dict:
    """Passes settings= to stage subflows, as the medallion pipeline does."""
    recorded = mq_realtime_landing(manifest_key, batch_id=batch_id, settings=settings)
    loaded = s3_to_snowflake_load_raw([manifest_key], settings=settings)
    return {"recorded": recorded, "loaded": loaded}


def _runs_tagged(tag: str) -> list[FlowRun]:
    async def read() -> list[FlowRun]:
        async with get_client() as client:
            return await client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag])))

    return asyncio.run(read())


def test_stored_parameters_hold_no_secret_and_no_message(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", **SECRETS)
    assert settings.rabbitmq_url.get_secret_value() == SECRETS["rabbitmq_url"]  # really set
    messages = []
    for event in EventGenerator(GeneratorConfig(events=50, seed=4)):
        o = outgoing_for_event(event)
        headers = o.headers | {PUBLISHED_AT_HEADER: "2026-11-20T08:00:00+00:00"}
        messages.append(RawMessage(o.body, o.content_type, headers=headers))
    landing = land_messages(messages, resolve_backends(settings, needs={"bronze"}).store(), settings.s3_prefix)
    assert landing.manifest_key is not None

    tag = f"parameters-check-{uuid.uuid4().hex[:8]}"
    with tags(tag):
        result = _pipeline_like(landing.manifest_key, landing.batch_id, settings)
    assert result["recorded"]["landed"] == 50
    assert result["loaded"]  # the subflow ran with the masked-in-storage, real-in-memory settings

    runs = _runs_tagged(tag)
    assert {run.flow_id for run in runs} and len(runs) == 3, [run.name for run in runs]
    bodies = [base64.b64encode(m.body).decode() for m in messages] + [m.body.decode() for m in messages]
    event_ids = [json.loads(m.body)["event_id"] for m in messages]
    for run in runs:
        stored = json.dumps(run.parameters)
        assert run.parameters["settings"]["rabbitmq_url"] == "**********", run.name
        for needle in NEEDLES:
            assert needle not in stored, f"{run.name} stores a secret in its parameters"
        assert not any(body in stored for body in bodies), f"{run.name} stores a message body"
        assert not any(event_id in stored for event_id in event_ids), f"{run.name} stores message content"
        assert len(stored) < 8_000, f"{run.name} parameters are bulky ({len(stored)} bytes)"
