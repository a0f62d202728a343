"""Message canonicalization: one MQ message in, one envelope record (or a reason to quarantine) out.

Messages reach cardflow three ways -- the RabbitMQ consumer (pika), the webhook (Amazon MQ's
``rmqMessagesByQueue`` event or the simpler ``{"messages": [...]}`` shape) and a Prefect event
trigger -- and all of them become a :class:`RawMessage` first, so one code path decides what an
event is:

* The envelope fields (``event_id``, ``source``, ``event_type``, ``inserted_at``) come from the
  AMQP headers or from the body; when both carry a field they must agree.
* ``application/json`` (or no content type): the body is the whole envelope (``{"event_id", ...,
  "payload": {...}}``) or, when it has no ``payload`` key, the original system's *flat* body: the
  event's own fields at the top level, beside whichever of ``event_id`` (else ``id``),
  ``event_type``, ``source`` and ``inserted_at`` the producer put there; the rest of the envelope
  travels in the headers (:func:`cardflow.contract.flat_to_envelope`).
* Producer conventions are then mapped onto the contract (:func:`cardflow.contract.normalize_record`):
  a transport name as ``source`` (``rabbitmq``, ``amazonmq``) becomes the event type's source, and
  a producer id that is not a UUID (``evt_123``) becomes a name-based UUID, the original kept in
  Bronze as ``producer_event_id``.
* ``application/x-protobuf`` (also ``application/protobuf``, ``application/vnd.google.protobuf``):
  the message type named by the content type's ``messageType`` parameter, the AMQP ``type``
  property or the ``event_type`` header, from ``proto/cardflow_events.proto``. Converted to the same
  dict a JSON body gives, so both land as identical Bronze records.
* Anything else (other content types, undecodable bodies) is kept base64-wrapped and quarantined
  with a reason; nothing is dropped.

Nothing here touches the network or the store: these are pure functions the landing calls.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from cardflow.contract import (
    TRANSPORT_SOURCES,
    Envelope,
    flat_to_envelope,
    format_timestamp,
    normalize_record,
    validate_envelope,
)
from cardflow.errors import ContractViolation
from cardflow.sources.mq.proto_bodies import PROTOBUF_TYPES, protobuf_record

ENVELOPE_HEADERS: Final[tuple[str, ...]] = ("event_id", "source", "event_type", "inserted_at")
#: Header our publishers set with the publish time (microseconds, ISO-8601); see ``batch_ingested_at``.
PUBLISHED_AT_HEADER: Final = "published_at"
JSON_TYPES: Final = frozenset({"application/json", "text/json", "application/x-json"})
_AMAZON_TS = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4},? \d{1,2}:\d{2}:\d{2}\s?[AP]M$")


# --- the message -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RawMessage:
    """One message as received, transport details removed (pika, webhook and flow agree on it).

    ``defect`` is set when the message could not even be read as a message (e.g. its ``data`` is
    not base64); such a message is quarantined with that reason.
    """

    body: bytes
    content_type: str | None = None
    content_encoding: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None
    message_id: str | None = None
    type: str | None = None
    delivery_tag: int | None = None
    redelivered: bool = False
    defect: tuple[str, str] | None = None
    raw_wire: Any = None

    @classmethod
    def from_wire(cls, item: Any) -> RawMessage:
        """Build from the JSON shape of the webhook and the flow parameter.

        ``{"data": "<base64>", "basicProperties": {"contentType", "contentEncoding", "headers",
        "timestamp", "messageId", "type"}, "redelivered": bool}``; header string values may be
        ``{"bytes": [...]}`` arrays (Amazon MQ). As the original Lambda did, a plain ``body`` (text,
        or a JSON object) is read when there is no ``data``. Never raises: unreadable items carry a
        ``defect``.
        """
        if not isinstance(item, Mapping):
            return cls(
                b"",
                defect=("bad_message", f"a message must be a JSON object, got {type(item).__name__}"),
                raw_wire=_json_safe(item),
            )
        props = item.get("basicProperties") or {}
        if not isinstance(props, Mapping):
            props = {}
        raw_headers = props.get("headers") or {}
        headers = normalize_headers(raw_headers) if isinstance(raw_headers, Mapping) else {}
        data = item.get("data")
        plain = item.get("body")
        defect = None
        body = b""
        if data is None and isinstance(plain, str):
            body = plain.encode("utf-8")
        elif data is None and isinstance(plain, Mapping):
            body = json.dumps(plain, ensure_ascii=False).encode("utf-8")
        elif not isinstance(data, str):
            defect = ("bad_message", "message has no base64 'data' string (nor a plain 'body')")
        else:
            try:
                body = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                defect = ("bad_base64", "message 'data' is not valid base64")
        return cls(
            body=body,
            content_type=_opt_str(props.get("contentType")),
            content_encoding=_opt_str(props.get("contentEncoding")),
            headers=headers,
            timestamp=parse_amqp_timestamp(props.get("timestamp")),
            message_id=_opt_str(props.get("messageId")),
            type=_opt_str(props.get("type")),
            redelivered=bool(item.get("redelivered", False)),
            defect=defect,
            raw_wire=_json_safe(dict(item)) if defect else None,
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON shape :meth:`from_wire` reads (for the webhook body and flow parameters)."""
        props: dict[str, Any] = {"headers": _json_safe(self.headers)}
        if self.content_type:
            props["contentType"] = self.content_type
        if self.content_encoding:
            props["contentEncoding"] = self.content_encoding
        if self.timestamp:
            props["timestamp"] = int(self.timestamp.timestamp())
        if self.message_id:
            props["messageId"] = self.message_id
        if self.type:
            props["type"] = self.type
        return {
            "data": base64.b64encode(self.body).decode("ascii"),
            "basicProperties": props,
            "redelivered": self.redelivered,
        }

    def fingerprint(self) -> str:
        """A stable identity for a message that has no valid event_id (content hash)."""
        digest = hashlib.sha256()
        digest.update(self.body)
        digest.update(b"\0" + (self.content_type or "").encode())
        digest.update(b"\0" + json.dumps(_json_safe(self.headers), sort_keys=True, default=str).encode())
        if self.raw_wire is not None:
            digest.update(b"\0" + json.dumps(self.raw_wire, sort_keys=True, default=str).encode())
        return "sha256:" + digest.hexdigest()

    def quarantine_record(self) -> dict[str, Any]:
        """The message as received, base64-wrapped, without per-delivery details (delivery tag,
        redelivered flag), so a redelivery quarantines the same bytes."""
        record: dict[str, Any] = {
            "data_base64": base64.b64encode(self.body).decode("ascii"),
            "content_type": self.content_type,
            "content_encoding": self.content_encoding,
            "headers": _json_safe(self.headers),
            "timestamp": format_timestamp(self.timestamp) if self.timestamp else None,
            "message_id": self.message_id,
            "type": self.type,
        }
        if self.raw_wire is not None:
            record["wire"] = self.raw_wire
        return record


@dataclass(frozen=True, slots=True)
class Canonical:
    """The outcome for one message: a validated envelope, or a reason to quarantine it."""

    message: RawMessage
    envelope: Envelope | None = None
    reason: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.envelope is not None

    @property
    def identity(self) -> str:
        """event_id when valid, else the message's content hash: what batch ids are made of."""
        return self.envelope.event_id if self.envelope else self.message.fingerprint()

    @property
    def stamp(self) -> datetime | None:
        """When this message entered the bus: publisher header, AMQP timestamp, else inserted_at."""
        published = parse_amqp_timestamp(self.message.headers.get(PUBLISHED_AT_HEADER))
        if published:
            return published
        if self.message.timestamp:
            return self.message.timestamp
        return self.envelope.inserted_at if self.envelope else None


# --- headers and timestamps --------------------------------------------------------------------
def normalize_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Decode AMQP header values to JSON-friendly Python values.

    Amazon MQ's event source mapping sends string headers as ``{"bytes": [118, 97, ...]}``; pika
    gives ``bytes`` for long strings it could not decode and ``datetime`` for AMQP timestamps.
    """
    return {str(k): _header_value(v) for k, v in headers.items()}


def _header_value(value: Any) -> Any:
    if type(value) is str or type(value) is int:
        return value
    if isinstance(value, Mapping) and set(value) == {"bytes"} and isinstance(value["bytes"], list):
        try:
            value = bytes(int(b) & 0xFF for b in value["bytes"])
        except (TypeError, ValueError):
            return _json_safe(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): _header_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_header_value(v) for v in value]
    return _json_safe(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping) and "bytes" in value:
        decoded = _header_value(value)
        return decoded if isinstance(decoded, str) else None
    return str(value)


def parse_amqp_timestamp(value: Any) -> datetime | None:
    """A message timestamp from any transport, as aware UTC, or None when absent/unreadable.

    Accepts epoch seconds (AMQP ``timestamp`` property), ISO-8601 text, ``datetime`` and Amazon
    MQ's Java rendering ``"Jan 1, 1970, 12:33:41 AM"``.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = " ".join(value.replace("\u202f", " ").split())
        if _AMAZON_TS.match(text):
            for fmt in ("%b %d, %Y, %I:%M:%S %p", "%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S%p"):
                try:
                    return datetime.strptime(text, fmt).replace(tzinfo=UTC)
                except ValueError:
                    continue
            return None
        try:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return None


# --- content types -----------------------------------------------------------------------------
@lru_cache(maxsize=256)
def parse_content_type(value: str | None) -> tuple[str | None, Mapping[str, str]]:
    """``"application/x-protobuf; messageType=X"`` -> (``"application/x-protobuf"``, {"messagetype": "X"})."""
    if not value:
        return None, MappingProxyType({})
    main, *params = value.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        if "=" in param:
            key, _, val = param.partition("=")
            parsed[key.strip().lower()] = val.strip().strip('"')
    return main.strip().lower(), MappingProxyType(parsed)


# --- canonicalization --------------------------------------------------------------------------
def canonicalize(message: RawMessage) -> Canonical:
    """Turn one message into a validated envelope or a quarantine reason. Never raises for bad input."""
    if message.defect:
        return Canonical(message, reason=message.defect[0], detail=message.defect[1])
    try:
        record = normalize_record(_envelope_record(message))
        return Canonical(message, envelope=validate_envelope(record))
    except ContractViolation as exc:
        return Canonical(message, reason=exc.reason, detail=exc.detail)


def _envelope_record(message: RawMessage) -> dict[str, Any]:
    body = message.body
    encoding = (message.content_encoding or "").lower()
    if encoding in ("gzip", "x-gzip"):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise ContractViolation(
                "bad_encoding", "content encoding says gzip but the body is not gzip"
            ) from exc
    elif encoding not in ("", "identity", "utf-8", "utf8"):
        raise ContractViolation(
            "unsupported_encoding", f"content encoding {message.content_encoding!r} is not supported"
        )
    media, params = parse_content_type(message.content_type)
    if media in PROTOBUF_TYPES:
        body_record = protobuf_record(body, params, type_property=message.type, headers=message.headers)
    elif media is None or media in JSON_TYPES or media.endswith("+json"):
        body_record = _json_record(body)
    else:
        raise ContractViolation(
            "unsupported_content_type",
            f"content type {message.content_type!r} is neither JSON nor protobuf; kept base64-wrapped",
        )
    return _merge_headers(body_record, message.headers)


def _json_record(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractViolation("not_utf8", "JSON body is not UTF-8 text") from exc
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ContractViolation("not_json", f"body is not valid JSON ({exc.msg} at char {exc.pos})") from exc
    if not isinstance(value, dict):
        raise ContractViolation("body_not_object", f"JSON body must be an object, got {type(value).__name__}")
    # an envelope as it is, or a flat producer body split into envelope and payload
    return flat_to_envelope(value)


def _merge_headers(record: dict[str, Any], headers: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(record)
    for name in ENVELOPE_HEADERS:
        if name not in headers or headers[name] in (None, ""):
            continue
        header = headers[name]
        if name not in merged or merged[name] in (None, "") or _is_transport(name, merged[name]):
            merged[name] = header
        elif not _same(name, merged[name], header):
            raise ContractViolation(
                "header_body_mismatch", f"header {name}={str(header)[:60]!r} disagrees with the body's value"
            )
    return merged


def _is_transport(name: str, value: Any) -> bool:
    """A ``source`` that names the transport says nothing: a header's domain source may replace it."""
    return name == "source" and isinstance(value, str) and value.lower() in TRANSPORT_SOURCES


def _same(name: str, body_value: Any, header_value: Any) -> bool:
    if _is_transport(name, header_value):
        return True
    if name == "inserted_at":
        a, b = parse_amqp_timestamp(body_value), parse_amqp_timestamp(header_value)
        return a is not None and a == b
    if name == "event_id":
        return str(body_value).lower() == str(header_value).lower()
    return str(body_value) == str(header_value)
