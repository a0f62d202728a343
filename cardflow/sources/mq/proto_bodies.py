"""Protobuf bodies of MQ messages: ``proto/cardflow_events.proto`` messages to and from the contract's
JSON payloads.

A protobuf body converts to the same dict a JSON body gives (:func:`protobuf_record`), so both land
as identical Bronze records; publishers that send protobuf build their bodies with
:func:`payload_to_proto`. Pure functions, like :mod:`cardflow.sources.mq.messages` which calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any, Final

from cardflow.contract import EVENT_TYPES, PAYLOAD_FIELDS, format_timestamp
from cardflow.errors import ContractViolation

PROTOBUF_TYPES: Final = frozenset(
    {
        "application/x-protobuf",
        "application/protobuf",
        "application/vnd.google.protobuf",
        "application/x-protobuffer",
    }
)
PROTO_PACKAGE: Final = "cardflow.events.v1"


def protobuf_record(
    body: bytes, params: Mapping[str, str], *, type_property: str | None, headers: Mapping[str, Any]
) -> dict[str, Any]:
    """The envelope record (or payload with its event type) of a protobuf body.

    The message type comes from the content type's parameters (``params``: ``messageType``,
    ``proto`` or ``type``), else the AMQP ``type`` property, else the ``event_type`` header.

    Raises:
        ContractViolation: unknown type, undecodable body, fields the schema lacks, or an
            ``event_type`` that disagrees with the message type.
    """
    from google.protobuf.message import DecodeError

    from cardflow.sources.mq.proto import cardflow_events_pb2 as pb

    type_name = params.get("messagetype") or params.get("proto") or params.get("type") or type_property
    type_name = type_name or headers.get("event_type")
    if not type_name:
        raise ContractViolation(
            "unknown_protobuf_type", "protobuf body without a messageType, type property or event_type header"
        )
    short = str(type_name).removeprefix(PROTO_PACKAGE + ".")
    cls = getattr(pb, short, None) if short in (*EVENT_TYPES, "EventEnvelope") else None
    if cls is None:
        raise ContractViolation(
            "unknown_protobuf_type", f"protobuf message type {type_name!r} is not in {PROTO_PACKAGE}"
        )
    msg = cls()
    try:
        msg.ParseFromString(body)
    except DecodeError as exc:
        raise ContractViolation(
            "bad_protobuf", f"body does not decode as {PROTO_PACKAGE}.{short}: {exc}"
        ) from exc
    _reject_unknown_fields(msg, short)
    if short == "EventEnvelope":
        kind = msg.WhichOneof("payload")
        record: dict[str, Any] = {
            "event_id": msg.event_id or None,
            "source": msg.source or None,
            "event_type": msg.event_type or None,
            "inserted_at": format_timestamp(msg.inserted_at.ToDatetime(tzinfo=UTC))
            if msg.HasField("inserted_at")
            else None,
        }
        if kind is None:
            raise ContractViolation("missing_field", "EventEnvelope carries no payload")
        inner = getattr(msg, kind)
        inner_type = type(inner).DESCRIPTOR.name
        if record["event_type"] and record["event_type"] != inner_type:
            raise ContractViolation(
                "header_body_mismatch", f"event_type {record['event_type']!r} but payload is {inner_type}"
            )
        record["event_type"] = record["event_type"] or inner_type
        record["payload"] = payload_from_proto(inner)
        return {k: v for k, v in record.items() if v is not None}
    header_type = headers.get("event_type")
    if header_type and header_type != short:
        raise ContractViolation(
            "header_body_mismatch", f"event_type header {header_type!r} but protobuf type is {short}"
        )
    return {"event_type": short, "payload": payload_from_proto(msg)}


def _reject_unknown_fields(msg: Any, short: str) -> None:
    from google.protobuf.unknown_fields import UnknownFieldSet

    if len(UnknownFieldSet(msg)):
        raise ContractViolation(
            "protobuf_schema_mismatch",
            f"body has fields that {PROTO_PACKAGE}.{short} does not define "
            "(wrong message type or schema version)",
        )


def payload_from_proto(msg: Any) -> dict[str, Any]:
    """The JSON payload of a protobuf payload message, field order and forms as in the contract."""
    event_type = type(msg).DESCRIPTOR.name
    payload: dict[str, Any] = {}
    for name, kind in PAYLOAD_FIELDS[event_type].items():
        if kind == "status":
            value = msg.DESCRIPTOR.fields_by_name[name].enum_type.values_by_number[getattr(msg, name)].name
            if value != "ORDER_STATUS_UNSPECIFIED":
                payload[name] = value
            continue
        if not msg.HasField(name):
            continue
        value = getattr(msg, name)
        if kind == "decimal":
            payload[name] = {k: getattr(value, k) for k in ("units", "scale") if value.HasField(k)}
        elif kind == "timestamp":
            payload[name] = format_timestamp(value.ToDatetime(tzinfo=UTC))
        else:
            payload[name] = value
    return payload


def payload_to_proto(event_type: str, payload: Mapping[str, Any]) -> Any:
    """Build the protobuf payload message of a (valid) JSON payload: the inverse of
    :func:`payload_from_proto`, used by publishers that send protobuf bodies."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from cardflow.contract import parse_timestamp
    from cardflow.sources.mq.proto import cardflow_events_pb2 as pb

    msg = getattr(pb, event_type)()
    for name, kind in PAYLOAD_FIELDS[event_type].items():
        if name not in payload:
            continue
        value = payload[name]
        if kind == "decimal":
            getattr(msg, name).units = value["units"]
            getattr(msg, name).scale = value["scale"]
        elif kind == "timestamp":
            ts = Timestamp()
            ts.FromDatetime(parse_timestamp(value))
            getattr(msg, name).CopyFrom(ts)
        elif kind == "status":
            setattr(msg, name, pb.OrderStatus.Value(value))
        else:
            setattr(msg, name, value)
    return msg


def protobuf_content_type(event_type: str) -> str:
    """The content type that names a payload message type."""
    return f"application/x-protobuf; messageType={PROTO_PACKAGE}.{event_type}"
