"""Message canonicalization: headers, content types, protobuf vs JSON, reasons for bad input."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.sources.mq.messages import (
    RawMessage,
    canonicalize,
    normalize_headers,
    parse_amqp_timestamp,
)
from cardflow.sources.mq.outgoing import envelope_json, outgoing_for_event
from cardflow.sources.mq.proto import cardflow_events_pb2 as pb
from cardflow.sources.mq.proto_bodies import payload_to_proto, protobuf_content_type


def _events(n: int = 400) -> list[dict]:
    return list(EventGenerator(GeneratorConfig(events=n, seed=7)))


def _raw(outgoing) -> RawMessage:
    return RawMessage(
        body=outgoing.body,
        content_type=outgoing.content_type,
        headers=dict(outgoing.headers),
        type=outgoing.type,
    )


def test_protobuf_and_json_bodies_give_identical_bronze_records() -> None:
    """Every event type, sent once as JSON and once as protobuf, canonicalizes to the same record."""
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    seen_types = set()
    for event in _events():
        as_json = canonicalize(_raw(outgoing_for_event(event, body_format="json")))
        as_proto = canonicalize(_raw(outgoing_for_event(event, body_format="protobuf")))
        assert as_json.ok and as_proto.ok, (as_json.reason, as_proto.reason)
        assert as_proto.envelope.to_bronze(at) == as_json.envelope.to_bronze(at)
        # key order too (Bronze bytes are compared elsewhere)
        assert list(as_proto.envelope.payload) == list(as_json.envelope.payload)
        seen_types.add(event["event_type"])
    assert seen_types == {"CardCatalogEntryInserted", "OrderCreated", "ManufacturingBatch"}


def test_event_envelope_protobuf_carries_everything() -> None:
    event = next(e for e in _events() if e["event_type"] == "OrderCreated")
    env = pb.EventEnvelope(event_id=event["event_id"], source="orders", event_type="OrderCreated")
    env.inserted_at.FromDatetime(event["inserted_at"])
    env.order_created.CopyFrom(payload_to_proto("OrderCreated", event["payload"]))
    result = canonicalize(
        RawMessage(
            env.SerializeToString(), "application/x-protobuf; messageType=cardflow.events.v1.EventEnvelope"
        )
    )
    assert result.ok, result.detail
    assert result.envelope.payload == event["payload"]
    assert result.envelope.inserted_at == event["inserted_at"]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (RawMessage(b"{not json", "application/json"), "not_json"),
        (RawMessage(b"[1, 2]", "application/json"), "body_not_object"),
        (RawMessage(b"\xff\xfe", "application/json"), "not_utf8"),
        (RawMessage(b"hello", "text/plain"), "unsupported_content_type"),
        (
            RawMessage(
                b"\x0a\xff\xff", protobuf_content_type("OrderCreated"), headers={"event_type": "OrderCreated"}
            ),
            "bad_protobuf",
        ),
        (RawMessage(b"\x08\x01", "application/x-protobuf"), "unknown_protobuf_type"),
        (
            RawMessage(b"", "application/x-protobuf; messageType=cardflow.events.v1.Nope"),
            "unknown_protobuf_type",
        ),
        (RawMessage(b"abc", "application/json", content_encoding="gzip"), "bad_encoding"),
        (RawMessage(b"abc", "application/json", content_encoding="br"), "unsupported_encoding"),
    ],
)
def test_unreadable_bodies_get_a_reason(message: RawMessage, reason: str) -> None:
    result = canonicalize(message)
    assert not result.ok
    assert result.reason == reason
    assert result.detail


def test_protobuf_of_another_schema_is_rejected() -> None:
    """Fields the schema does not define (another type or version) are not silently dropped."""
    order = next(e for e in _events() if e["event_type"] == "OrderCreated")
    headers = {k: envelope_json(order)[k] for k in ("event_id", "source", "event_type", "inserted_at")}
    body = payload_to_proto("OrderCreated", order["payload"]).SerializeToString()
    assert canonicalize(RawMessage(body, protobuf_content_type("OrderCreated"), headers=headers)).ok
    unknown_field_99 = b"\x98\x06\x01"
    result = canonicalize(
        RawMessage(body + unknown_field_99, protobuf_content_type("OrderCreated"), headers=headers)
    )
    assert result.reason == "protobuf_schema_mismatch"
    batch = next(e for e in _events() if e["event_type"] == "ManufacturingBatch")
    wrong = payload_to_proto("ManufacturingBatch", batch["payload"]).SerializeToString()
    result = canonicalize(RawMessage(wrong, protobuf_content_type("OrderCreated"), headers=headers))
    assert result.reason in ("bad_protobuf", "protobuf_schema_mismatch")


def test_protobuf_missing_fields_are_reported_not_zeroed() -> None:
    msg = pb.OrderCreated(order_id="o-1", sku="s")  # no quantity, price, status...
    result = canonicalize(
        RawMessage(
            msg.SerializeToString(),
            protobuf_content_type("OrderCreated"),
            headers={
                "event_id": "0b9f1e8e-2f4a-4a57-9d43-4bb1d1e0c001",
                "source": "orders",
                "event_type": "OrderCreated",
                "inserted_at": "2026-10-01T00:00:00+00:00",
            },
        )
    )
    assert result.reason == "missing_field"


def test_envelope_from_headers_and_payload_only_body() -> None:
    event = next(e for e in _events() if e["event_type"] == "CardCatalogEntryInserted")
    env = envelope_json(event)
    headers = {k: env[k] for k in ("event_id", "source", "event_type", "inserted_at")}
    result = canonicalize(
        RawMessage(json.dumps(env["payload"]).encode(), "application/json", headers=headers)
    )
    assert result.ok
    assert result.envelope.event_id == event["event_id"]


def test_header_disagreeing_with_body_is_quarantined() -> None:
    env = envelope_json(_events()[0])
    other = "0b9f1e8e-2f4a-4a57-9d43-4bb1d1e0c001"
    result = canonicalize(
        RawMessage(json.dumps(env).encode(), "application/json", headers={"event_id": other})
    )
    assert result.reason == "header_body_mismatch"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("event_id"), "null_event_id"),
        (lambda e: e.update(event_type="CardTraded"), "unknown_event_type"),
        (lambda e: e["payload"].update(quantity="two"), "bad_type"),
        (lambda e: e.update(source="cards"), "source_mismatch"),
    ],
)
def test_contract_violations_keep_their_reason(mutate, reason: str) -> None:
    env = envelope_json(next(e for e in _events() if e["event_type"] == "OrderCreated"))
    env["payload"] = dict(env["payload"])
    mutate(env)
    result = canonicalize(RawMessage(json.dumps(env).encode(), "application/json"))
    assert result.reason == reason


def test_amazon_mq_bytes_headers_and_wire_shape() -> None:
    env = envelope_json(_events()[0])
    item = {
        "basicProperties": {
            "contentType": "application/json",
            "headers": {"event_type": {"bytes": list(env["event_type"].encode())}, "numberInHeader": 10},
            "timestamp": "Jan 1, 1970, 12:33:41 AM",
        },
        "redelivered": False,
        "data": base64.b64encode(json.dumps(env).encode()).decode(),
    }
    message = RawMessage.from_wire(item)
    assert message.headers == {"event_type": env["event_type"], "numberInHeader": 10}
    assert message.timestamp == datetime(1970, 1, 1, 0, 33, 41, tzinfo=UTC)
    assert canonicalize(message).ok
    assert RawMessage.from_wire(message.to_wire()).body == message.body


def test_wire_defects_are_quarantinable() -> None:
    assert canonicalize(RawMessage.from_wire({"data": "***not base64***"})).reason == "bad_base64"
    assert canonicalize(RawMessage.from_wire({"basicProperties": {}})).reason == "bad_message"
    bad = RawMessage.from_wire({"data": "!!", "basicProperties": {}})
    assert bad.quarantine_record()["wire"]["data"] == "!!"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        ("2026-11-20T10:00:00.5Z", datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=UTC)),
        ("Nov 20, 2026, 1:02:03 PM", datetime(2026, 11, 20, 13, 2, 3, tzinfo=UTC)),
        (None, None),
        ("garbage", None),
    ],
)
def test_timestamps_from_any_transport(value, expected) -> None:
    assert parse_amqp_timestamp(value) == expected


def test_normalize_headers_decodes_bytes_and_keeps_binary() -> None:
    assert normalize_headers({"a": b"x", "b": b"\xff", "c": {"bytes": [104, 105]}}) == {
        "a": "x",
        "b": {"base64": "/w=="},
        "c": "hi",
    }
