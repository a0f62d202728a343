"""Turn generated events into MQ messages (JSON or protobuf bodies), as upstream services send them.

Used by ``cardflow generate --to rabbitmq``, the tests and the benchmark. JSON bodies carry the
whole envelope; protobuf bodies carry the payload message and the envelope travels in headers
(event_id, source, event_type, inserted_at), with the content type naming the message type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from cardflow.contract import format_timestamp
from cardflow.sources.mq.proto_bodies import payload_to_proto, protobuf_content_type
from cardflow.sources.mq.publisher import Outgoing

BodyFormat = Literal["json", "protobuf"]


def envelope_json(event: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON envelope of a generated event (``inserted_at`` as canonical text)."""
    inserted = event["inserted_at"]
    return {**event, "inserted_at": inserted if isinstance(inserted, str) else format_timestamp(inserted)}


def outgoing_for_event(event: Mapping[str, Any], *, body_format: BodyFormat = "json") -> Outgoing:
    """One message for one event. Protobuf needs a valid payload object (else JSON is sent)."""
    env = envelope_json(event)
    if body_format == "protobuf" and isinstance(env["payload"], Mapping):
        body = payload_to_proto(env["event_type"], env["payload"]).SerializeToString()
        headers = {name: env[name] for name in ("event_id", "source", "event_type", "inserted_at")}
        return Outgoing(
            body, protobuf_content_type(env["event_type"]), headers, env["event_id"], env["event_type"]
        )
    # the JSON body holds the whole envelope; event_type as a header lets brokers route on it
    headers = {"event_type": env["event_type"]}
    body = json.dumps(env, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Outgoing(body, "application/json", headers, env["event_id"], env["event_type"])
