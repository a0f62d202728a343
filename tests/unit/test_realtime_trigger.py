"""The Prefect-native path: Cloud webhook template -> event -> deployment trigger -> flow parameters.

Rendered with Prefect's own sandboxed template engine and parameter hydration (the code the
server runs for RunDeployment actions), so a broken template or trigger fails here, not in Cloud.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml
from prefect.server.events.actions import RunDeployment
from prefect.server.utilities.user_templates import render_user_template_sync
from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

from cardflow.sources.mq.messages import RawMessage, canonicalize

ROOT = Path(__file__).resolve().parents[2]


def _messages() -> list[dict]:
    envelope = {
        "event_id": "6f1c1f0e-1b7e-4c35-9d1e-8f0f2a7b9c01",
        "source": "cards",
        "event_type": "CardCatalogEntryInserted",
        "inserted_at": "2026-10-01T00:00:00+00:00",
        "payload": {
            "sku": "BAS-1",
            "card_name": "x",
            "sport": "Baseball",
            "player_name": "p",
            "team_name": "t",
            "parallel": "Base",
            "print_run": 10,
        },
    }
    data = base64.b64encode(json.dumps(envelope).encode()).decode()
    return [
        {
            "basicProperties": {
                "contentType": "application/json",
                "headers": {"event_type": {"bytes": list(b"CardCatalogEntryInserted")}},
            },
            "redelivered": False,
            "data": data,
        }
    ]


def _event_from_webhook(body: dict) -> dict:
    template = (ROOT / "deployments/prefect_cloud_webhook_template.j2").read_text()
    return json.loads(render_user_template_sync(template, {"body": body, "headers": {}}))


def _trigger_parameters(event: dict) -> dict:
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    (deployment,) = [d for d in deployments if d["name"] == "mq_realtime_landing"]
    assert deployment["entrypoint"] == "flows/realtime.py:mq_realtime_landing"
    (trigger,) = deployment["triggers"]
    assert trigger["expect"] == [event["event"]]
    parameters = json.loads(json.dumps(trigger["parameters"]))
    RunDeployment._upgrade_v1_templates(parameters)
    return hydrate(
        parameters, HydrationContext(render_jinja=True, raise_on_error=True, jinja_context={"event": event})
    )


def test_amazon_mq_body_becomes_the_flow_parameter() -> None:
    messages = _messages()
    body = {
        "eventSource": "aws:rmq",
        "eventSourceArn": "arn:aws:mq:us-east-1:1:broker:b:b-1",
        "rmqMessagesByQueue": {"q1::/": messages, "q2::/": messages},
    }
    event = _event_from_webhook(body)
    assert event["resource"]["prefect.resource.id"].startswith("cardflow.mq.")
    parameters = _trigger_parameters(event)
    assert parameters["messages"] == messages + messages
    assert canonicalize(RawMessage.from_wire(parameters["messages"][0])).ok


def test_messages_body_becomes_the_flow_parameter() -> None:
    messages = _messages()
    parameters = _trigger_parameters(_event_from_webhook({"messages": messages}))
    assert parameters == {"messages": messages}
