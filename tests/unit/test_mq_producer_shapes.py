"""The original system's producer shapes: flat JSON bodies (fields beside ``event_id``/``source``/
``event_type``/``inserted_at``), metadata in headers, transport-named sources and non-UUID producer ids.

Contract: each maps onto the envelope with payload = the non-metadata fields, a transport source
resolved from event_type, event_id = uuid5(PRODUCER_ID_NAMESPACE, "<source>/<producer id>") and the
producer id kept in the Bronze record; unreadable shapes are quarantined with a precise reason.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from cardflow.contract import PRODUCER_ID_NAMESPACE, normalize_record, stable_event_id
from cardflow.sources.mq.messages import RawMessage, canonicalize
from cardflow.sources.mq.proto_bodies import payload_to_proto, protobuf_content_type

ORDER = {
    "order_id": "ord-1",
    "order_ts": "2026-11-20T10:00:00.000000+00:00",
    "customer_id": "cust-1",
    "sku": "SKU-1",
    "quantity": 3,
    "price": {"units": 125000, "scale": 5},
    "status": "PAID",
}
META = {"event_type": "OrderCreated", "source": "rabbitmq", "inserted_at": "2026-11-20T10:00:01Z"}


def _flat(**extra: Any) -> dict[str, Any]:
    return {"event_id": "evt_123", **META, **ORDER, **extra}


def test_flat_body_maps_onto_the_envelope() -> None:
    result = canonicalize(RawMessage(json.dumps(_flat()).encode(), "application/json", headers=dict(META)))
    assert result.ok, result.detail
    env = result.envelope
    assert env is not None
    assert env.source == "orders"
    assert env.payload == ORDER  # no metadata in the payload
    assert env.event_id == str(uuid.uuid5(PRODUCER_ID_NAMESPACE, "orders/evt_123"))
    assert env.producer_event_id == "evt_123"
    bronze = env.to_bronze(env.inserted_at)
    assert bronze["producer_event_id"] == "evt_123"
    assert bronze["event_id"] == stable_event_id("orders", "evt_123")


def test_producer_id_gives_the_same_event_id_by_either_transport() -> None:
    a = canonicalize(RawMessage(json.dumps(_flat()).encode()))
    b = canonicalize(RawMessage(json.dumps(_flat(source="amazonmq")).encode()))
    assert a.envelope is not None and b.envelope is not None
    assert a.envelope.event_id == b.envelope.event_id


def test_metadata_only_in_headers_and_id_fallback() -> None:
    body = {"id": "evt_9", **ORDER}
    headers = {"event_type": {"bytes": list(b"OrderCreated")}, "source": "rabbitmq",
               "inserted_at": "2026-11-20T10:00:01+00:00"}  # fmt: skip
    wire = {"data": base64.b64encode(json.dumps(body).encode()).decode(), "basicProperties": {"headers": headers}}
    result = canonicalize(RawMessage.from_wire(wire))
    assert result.ok, result.detail
    assert result.envelope is not None and result.envelope.producer_event_id == "evt_9"
    assert result.envelope.payload == ORDER


def test_header_event_id_wins_and_plain_body_is_read() -> None:
    wire = {"body": {**ORDER, **META}, "basicProperties": {"headers": {"event_id": "evt_h"}}}
    result = canonicalize(RawMessage.from_wire(wire))
    assert result.ok, result.detail
    assert result.envelope is not None and result.envelope.producer_event_id == "evt_h"


def test_domain_source_in_header_replaces_transport_source_in_body() -> None:
    result = canonicalize(RawMessage(json.dumps(_flat()).encode(), headers={"source": "orders"}))
    assert result.ok and result.envelope is not None and result.envelope.source == "orders"


def test_uuid_event_ids_are_kept_as_they_are() -> None:
    eid = str(uuid.uuid4())
    result = canonicalize(RawMessage(json.dumps(_flat(event_id=eid)).encode()))
    assert result.envelope is not None and result.envelope.event_id == eid
    assert result.envelope.producer_event_id is None
    assert "producer_event_id" not in result.envelope.to_bronze(result.envelope.inserted_at)


def test_protobuf_payload_with_producer_headers_follows_the_same_rule() -> None:
    msg = payload_to_proto("OrderCreated", ORDER)
    headers = {"event_id": "evt_123", **META}
    result = canonicalize(RawMessage(msg.SerializeToString(), protobuf_content_type("OrderCreated"), headers=headers))
    json_result = canonicalize(RawMessage(json.dumps(_flat()).encode()))
    assert result.ok, result.detail
    assert result.envelope == json_result.envelope


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        ({k: v for k, v in _flat().items() if k != "event_type"}, {}, "missing_event_type"),
        ({k: v for k, v in _flat().items() if k != "event_id"}, {}, "null_event_id"),
        (_flat(event_type="OrderShipped"), {}, "unknown_event_type"),
        (_flat(source="billing"), {}, "source_mismatch"),
        ({k: v for k, v in _flat().items() if k != "price"}, {}, "missing_field"),
        ([1, 2], {}, "body_not_object"),
    ],
)
def test_unknown_shapes_are_quarantined_with_a_precise_reason(body: Any, headers: dict, reason: str) -> None:
    result = canonicalize(RawMessage(json.dumps(body).encode(), headers=headers))
    assert not result.ok
    assert result.reason == reason, result.detail


def test_normalize_record_leaves_contract_records_unchanged() -> None:
    record = {"event_id": str(uuid.uuid4()), "source": "orders", "event_type": "OrderCreated",
              "payload": ORDER, "inserted_at": "2026-11-20T10:00:01+00:00"}  # fmt: skip
    assert normalize_record(record) == record
