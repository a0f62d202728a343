"""The event contract: envelope, payload types, validation and exact decimal decoding.

This module is the single place that knows which fields an event has. The generator, the backfill,
the real-time landing and the tests all import it; nothing else re-declares field lists.

Decimals travel protobuf-style as ``{"units": int, "scale": int}`` meaning ``units * 10**-scale``;
they are decoded with :class:`decimal.Decimal`, never through float.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, Literal

from cardflow.errors import ContractViolation

EventType = Literal["CardCatalogEntryInserted", "OrderCreated", "ManufacturingBatch"]
Source = Literal["cards", "orders", "manufacturing"]

#: event_type -> the only source allowed to emit it
SOURCE_OF: Final[dict[str, str]] = {
    "CardCatalogEntryInserted": "cards",
    "OrderCreated": "orders",
    "ManufacturingBatch": "manufacturing",
}
EVENT_TYPES: Final[tuple[str, ...]] = tuple(SOURCE_OF)
SOURCES: Final[tuple[str, ...]] = tuple(SOURCE_OF.values())
ORDER_STATUSES: Final[tuple[str, ...]] = ("CREATED", "PAID", "SHIPPED", "CANCELLED")

#: ``source`` values that name the transport an event came by, not the service that emitted it
#: (the original system's producers send ``"source": "rabbitmq"``). They are resolved from
#: ``event_type`` (:data:`SOURCE_OF`) by :func:`normalize_record`.
TRANSPORT_SOURCES: Final = frozenset({"rabbitmq", "amazonmq", "amazon_mq", "amazon-mq", "mq", "aws:rmq"})

#: Namespace of the name-based (version 5) UUIDs given to events whose producer id is not a UUID
#: (``evt_123``): ``event_id = uuid5(PRODUCER_ID_NAMESPACE, f"{source}/{producer_id}")`` with the
#: resolved domain source, so a redelivery -- by RabbitMQ or Amazon MQ -- gets the same event_id.
#: Never change it: every such event_id already in Bronze and Silver derives from it.
PRODUCER_ID_NAMESPACE: Final = uuid.UUID("6f1c7d5e-2b0a-5c1e-9a64-3c0d2f8e4b71")

#: Envelope fields in their canonical order (Bronze records add ``ingested_at``).
ENVELOPE_FIELDS: Final[tuple[str, ...]] = ("event_id", "source", "event_type", "payload", "inserted_at")
BRONZE_FIELDS: Final[tuple[str, ...]] = (*ENVELOPE_FIELDS, "ingested_at")

FieldKind = Literal["str", "int", "decimal", "timestamp", "date", "status"]

#: Required payload fields per event type, with their kind. The one field list of the project.
PAYLOAD_FIELDS: Final[dict[str, dict[str, FieldKind]]] = {
    "CardCatalogEntryInserted": {
        "sku": "str",
        "card_name": "str",
        "sport": "str",
        "player_name": "str",
        "team_name": "str",
        "parallel": "str",
        "print_run": "int",
    },
    "OrderCreated": {
        "order_id": "str",
        "order_ts": "timestamp",
        "customer_id": "str",
        "sku": "str",
        "quantity": "int",
        "price": "decimal",
        "status": "status",
    },
    "ManufacturingBatch": {
        "batch_id": "str",
        "sku": "str",
        "production_date": "date",
        "quantity_produced": "int",
        "defect_rate_estimate": "decimal",
    },
}


# --- decimals ----------------------------------------------------------------------------------
#: The one decimal rule. Scales the contract accepts, and so the scales Silver and Gold must hold
#: exactly: every decimal column is NUMBER(WAREHOUSE_DECIMAL_PRECISION, WAREHOUSE_DECIMAL_SCALE)
#: (dbt's ``vars.payload_fields`` and ``vars.decimal_scale`` are generated from these; a unit test
#: fails when they drift).
DECIMAL_SCALES: Final[tuple[int, ...]] = tuple(range(0, 19))
WAREHOUSE_DECIMAL_PRECISION: Final = 38
WAREHOUSE_DECIMAL_SCALE: Final = max(DECIMAL_SCALES)
#: ``units`` travel as protobuf int64; Silver decodes them as decimal(19, 0) * 10^-scale, exact.
UNITS_MIN: Final = -(2**63)
UNITS_MAX: Final = 2**63 - 1
#: integer payload fields (quantities, print runs) are int64 in every warehouse column
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1
#: the largest magnitude a warehouse decimal column holds (exclusive): 10^(38 - 18)
AMOUNT_EXPONENT: Final = WAREHOUSE_DECIMAL_PRECISION - WAREHOUSE_DECIMAL_SCALE
AMOUNT_LIMIT: Final = Decimal(10) ** AMOUNT_EXPONENT
#: per scale, the magnitude of units (or of an integer times units) that reaches AMOUNT_LIMIT
_AMOUNT_UNITS_LIMIT: Final = tuple(10 ** (AMOUNT_EXPONENT + scale) for scale in DECIMAL_SCALES)


def amount_in_range(units: int, scale: int, factor: int = 1) -> bool:
    """Exactly ``|factor * units * 10**-scale| < AMOUNT_LIMIT``, in integers (a Decimal product
    would round to the context's 28 digits; this never rounds)."""
    return abs(factor * units) < _AMOUNT_UNITS_LIMIT[scale]


def dbt_field_kind(kind: FieldKind) -> str:
    """How dbt's ``vars.payload_fields`` names a field kind (decimals carry the Silver scale)."""
    return f"decimal:{WAREHOUSE_DECIMAL_SCALE}" if kind == "decimal" else kind


def dbt_payload_fields() -> dict[str, dict[str, str]]:
    """The ``vars.payload_fields`` dbt_project.yml must hold, exactly (see the unit test)."""
    return {t: {name: dbt_field_kind(kind) for name, kind in fields.items()} for t, fields in PAYLOAD_FIELDS.items()}


def decode_decimal(value: Any, *, field: str = "decimal") -> Decimal:
    """Decode ``{"units": int, "scale": int}`` to an exact :class:`Decimal`.

    Raises:
        ContractViolation: ``bad_decimal`` when the shape or types are wrong.
    """
    units, scale = decimal_parts(value, field=field)
    # built from its digits: exact at any size (``scaleb`` would round to the context precision)
    sign, digits, _ = Decimal(units).as_tuple()
    return Decimal((sign, digits, -scale))


def decimal_parts(value: Any, *, field: str = "decimal") -> tuple[int, int]:
    """The checked ``(units, scale)`` of an encoded decimal, without building a :class:`Decimal`
    (validation needs only the integers: it runs once per decimal of every message).

    Raises:
        ContractViolation: ``bad_decimal`` when the shape or types are wrong,
            ``decimal_out_of_range`` when the units do not fit 64 bits.
    """
    # ``type is dict`` first: a parsed payload's decimals are dicts, and the ABC check is the slow one
    shaped = type(value) is dict or isinstance(value, Mapping)
    if not shaped or len(value) != 2 or "units" not in value or "scale" not in value:
        raise ContractViolation("bad_decimal", f"{field} must be an object with exactly units and scale")
    units, scale = value["units"], value["scale"]
    if not _is_int(units) or not _is_int(scale):
        raise ContractViolation("bad_decimal", f"{field}.units and {field}.scale must be integers")
    if scale not in DECIMAL_SCALES:
        raise ContractViolation(
            "bad_decimal", f"{field}.scale must lie in [0, {WAREHOUSE_DECIMAL_SCALE}], got {scale}"
        )
    if not UNITS_MIN <= units <= UNITS_MAX:
        raise ContractViolation(
            "decimal_out_of_range", f"{field}.units must fit a 64-bit integer (the protobuf type), got {units}"
        )
    return units, scale


def encode_decimal(value: Decimal | str | int) -> dict[str, int]:
    """Encode an exact decimal as ``{"units", "scale"}`` (inverse of :func:`decode_decimal`)."""
    dec = Decimal(value)
    sign, digits, exponent = dec.as_tuple()
    assert isinstance(exponent, int), "NaN and infinity have no {units, scale} form"
    scale = max(0, -exponent)
    units = int("".join(map(str, digits)) or "0") * 10 ** max(0, exponent)
    return {"units": -units if sign else units, "scale": scale}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- timestamps --------------------------------------------------------------------------------
def parse_timestamp(value: Any, *, field: str = "timestamp") -> datetime:
    """Parse an ISO-8601 timestamp (or accept a datetime); naive values are taken as UTC."""
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ContractViolation("bad_timestamp", f"{field} is not ISO-8601: {value[:40]!r}") from exc
    else:
        raise ContractViolation("bad_timestamp", f"{field} must be an ISO-8601 string")
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def format_timestamp(ts: datetime) -> str:
    """Canonical text of a timestamp: UTC, microseconds, ``+00:00`` offset."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


# --- payload validation ------------------------------------------------------------------------
def validate_payload(event_type: str, payload: Any) -> dict[str, Any]:
    """Check a payload against its type's contract and return it unchanged.

    Extra fields are allowed (upstream may add some); required ones must be present and typed.

    Raises:
        ContractViolation: with reason ``payload_not_object``, ``missing_field``, ``bad_type``,
            ``bad_status``, ``negative_quantity`` or ``defect_rate_out_of_range``.
    """
    if event_type not in PAYLOAD_FIELDS:
        raise ContractViolation("unknown_event_type", f"event_type {event_type!r} is not one of {EVENT_TYPES}")
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise ContractViolation("payload_not_object", f"payload must be a JSON object, got {type(payload).__name__}")
    decimals: dict[str, tuple[int, int]] = {}
    for name, kind in PAYLOAD_FIELDS[event_type].items():
        if name not in payload or payload[name] is None:
            raise ContractViolation("missing_field", f"{event_type}.payload.{name} is required")
        value = payload[name]
        if kind == "str" and (not isinstance(value, str) or not value):
            raise ContractViolation("bad_type", f"{name} must be a non-empty string")
        if kind == "int" and not _is_int(value):
            raise ContractViolation("bad_type", f"{name} must be an integer")
        if kind == "int" and not INT_MIN <= value <= INT_MAX:
            raise ContractViolation("int_out_of_range", f"{name} must fit a 64-bit integer, got {value}")
        if kind == "decimal":
            decimals[name] = decimal_parts(value, field=name)
        if kind == "timestamp":
            parse_timestamp(value, field=name)
        if kind == "date":
            try:
                date.fromisoformat(value) if isinstance(value, str) else None
            except ValueError as exc:
                raise ContractViolation("bad_type", f"{name} must be a YYYY-MM-DD date") from exc
            if not isinstance(value, str):
                raise ContractViolation("bad_type", f"{name} must be a YYYY-MM-DD date string")
        if kind == "status" and value not in ORDER_STATUSES:
            raise ContractViolation("bad_status", f"status {value!r} is not one of {ORDER_STATUSES}")
    _check_amounts(event_type, payload, decimals)
    return dict(payload)


#: Gold amounts computed from a payload: (integer field, decimal field) -> the product Gold stores
GOLD_PRODUCTS: Final[dict[str, tuple[str, str]]] = {
    "OrderCreated": ("quantity", "price"),  # fct_orders.order_total
    "ManufacturingBatch": ("quantity_produced", "defect_rate_estimate"),  # estimated_defects
}


def _check_amounts(event_type: str, payload: Mapping[str, Any], decimals: Mapping[str, tuple[int, int]]) -> None:
    """Refuse an event whose decimal, or the Gold amount computed from it, no warehouse column holds.
    ``decimals``: the checked ``(units, scale)`` of each decimal field (:func:`decimal_parts`).

    Decimal columns are NUMBER(38, 18): magnitudes below 10^20. Refused here, at the contract (so
    the event is quarantined in Bronze with the reason), never later in a dbt model.
    """
    # |units * 10**-scale| < 10**AMOUNT_EXPONENT  <=>  |units| < 10**(AMOUNT_EXPONENT + scale): exact
    # in integers, no Decimal per message
    for name, (units, scale) in decimals.items():
        if not amount_in_range(units, scale):
            raise ContractViolation("decimal_out_of_range", f"|{name}| must be below {AMOUNT_LIMIT:.0E}")
    if event_type in GOLD_PRODUCTS:
        count, amount = GOLD_PRODUCTS[event_type]
        units, scale = decimals[amount]
        if not amount_in_range(units, scale, payload[count]):
            raise ContractViolation(
                "decimal_out_of_range", f"|{count} * {amount}| must be below {AMOUNT_LIMIT:.0E} (NUMBER(38, 18))"
            )


def check_business_rules(event_type: str, payload: Mapping[str, Any]) -> list[str]:
    """Business-rule findings that do not make an event unreadable (the quality gates act on them).

    Returns a list of reason codes: ``negative_quantity``, ``negative_price``,
    ``defect_rate_out_of_range``. Bronze keeps such events (they are real facts someone sent);
    Silver/Gold gates stop them.
    """
    findings: list[str] = []
    if event_type == "OrderCreated":
        if payload["quantity"] < 0:
            findings.append("negative_quantity")
        if decode_decimal(payload["price"]) < 0:
            findings.append("negative_price")
    elif event_type == "ManufacturingBatch":
        if payload["quantity_produced"] < 0:
            findings.append("negative_quantity")
        if not Decimal(0) <= decode_decimal(payload["defect_rate_estimate"]) <= Decimal(1):
            findings.append("defect_rate_out_of_range")
    elif event_type == "CardCatalogEntryInserted" and payload["print_run"] < 0:
        findings.append("negative_quantity")
    return findings


# --- envelope ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Envelope:
    """One validated event as every layer sees it."""

    event_id: str
    source: str
    event_type: str
    payload: dict[str, Any]
    inserted_at: datetime
    #: the producer's own id when it was not a UUID (``evt_123``); event_id then derives from it
    producer_event_id: str | None = None

    def to_bronze(self, ingested_at: datetime) -> dict[str, Any]:
        """The canonical Bronze record (guide §1): envelope plus ``ingested_at``, in field order.

        An event whose producer id was not a UUID also keeps that id as ``producer_event_id``
        (Bronze only: the load reads the envelope columns and ignores it).
        """
        record = {
            "event_id": self.event_id,
            "source": self.source,
            "event_type": self.event_type,
            "payload": self.payload,
            "inserted_at": format_timestamp(self.inserted_at),
            "ingested_at": format_timestamp(ingested_at),
        }
        if self.producer_event_id is not None:
            record["producer_event_id"] = self.producer_event_id
        return record


#: the canonical text of a UUID (what ``str(uuid.UUID(x))`` gives): such an id needs no parsing
_CANONICAL_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_uuid(value: Any) -> str:
    """``value`` as canonical UUID text; raises ``ValueError`` when it is not a UUID.

    Canonical text (nearly every id) is returned as it is: parsing it into :class:`uuid.UUID` and
    back cost two object constructions per message on the real-time path.
    """
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value
    return str(uuid.UUID(str(value)))


def validate_envelope(record: Mapping[str, Any]) -> Envelope:
    """Validate an envelope (from the event store, a message or Bronze) into an :class:`Envelope`.

    The payload may arrive as a JSON string (as from a text column) or an object.

    Raises:
        ContractViolation: reasons ``null_event_id``, ``bad_event_id``, ``missing_event_type``,
            ``unknown_event_type``, ``source_mismatch``, ``bad_timestamp``, ``payload_not_json``
            and the payload reasons.
    """
    raw_id = record.get("event_id")
    if raw_id is None or raw_id == "":
        raise ContractViolation("null_event_id", "event_id is required")
    event_type = record.get("event_type")
    try:
        event_id = canonical_uuid(raw_id)
    except ValueError as exc:
        if event_type in SOURCE_OF:
            raise ContractViolation("bad_event_id", f"event_id {str(raw_id)[:40]!r} is not a UUID") from exc
        event_id = str(raw_id)[:80]  # a producer id: the event_type is what is wrong (reported below)
    if event_type is None or event_type == "":
        raise ContractViolation("missing_event_type", "event_type is required", event_id)
    if event_type not in SOURCE_OF:
        raise ContractViolation(
            "unknown_event_type", f"event_type {event_type!r} is not one of {EVENT_TYPES}", event_id
        )
    source = record.get("source")
    if source != SOURCE_OF[event_type]:
        raise ContractViolation(
            "source_mismatch", f"{event_type} must come from {SOURCE_OF[event_type]!r}, not {source!r}", event_id
        )
    payload = record.get("payload")
    if isinstance(payload, str | bytes):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise ContractViolation("payload_not_json", "payload is not valid JSON", event_id) from exc
    try:
        payload = validate_payload(event_type, payload)
        inserted_at = parse_timestamp(record.get("inserted_at"), field="inserted_at")
    except ContractViolation as exc:
        raise ContractViolation(exc.reason, exc.detail, event_id) from exc
    producer_id = record.get("producer_event_id")
    return Envelope(event_id, source, event_type, payload, inserted_at, str(producer_id) if producer_id else None)


# --- producer shapes ---------------------------------------------------------------------------
#: Top-level keys of a flat producer body that are envelope metadata, not payload.
FLAT_METADATA_FIELDS: Final[tuple[str, ...]] = ("event_id", "id", "source", "event_type", "inserted_at")


def stable_event_id(source: str, producer_id: str) -> str:
    """The event_id of an event whose producer id is not a UUID (see :data:`PRODUCER_ID_NAMESPACE`)."""
    return str(uuid.uuid5(PRODUCER_ID_NAMESPACE, f"{source}/{producer_id}"))


def flat_to_envelope(body: Mapping[str, Any]) -> dict[str, Any]:
    """Split the original system's flat producer body into an envelope record.

    The event's own fields sit at the top level beside ``event_id`` (or ``id``), ``event_type``,
    ``source`` and ``inserted_at``: the metadata becomes the envelope, everything else the payload.
    A body with a ``payload`` object is already an envelope and is returned as it is.
    """
    if "payload" in body:
        return dict(body)
    record: dict[str, Any] = {}
    payload = dict(body)
    for name in FLAT_METADATA_FIELDS:
        if name in payload:
            value = payload.pop(name)
            target = "event_id" if name == "id" else name
            if record.get(target) in (None, ""):
                record[target] = value
    record["payload"] = payload
    return record


def normalize_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Map a producer's envelope record onto the contract's (before :func:`validate_envelope`).

    * a ``source`` naming a transport (:data:`TRANSPORT_SOURCES`), or none at all when the
      event_type is known, becomes the event type's source;
    * an ``event_id`` that is not a UUID (``evt_123``) becomes :func:`stable_event_id` of the
      resolved source and that id, and the original is kept as ``producer_event_id``.

    Records that already follow the contract come back unchanged. Never raises: what cannot be
    mapped is left for :func:`validate_envelope` to reject with its reason.
    """
    out = dict(record)
    event_type = out.get("event_type")
    domain_source = SOURCE_OF.get(event_type) if isinstance(event_type, str) else None
    source = out.get("source")
    if domain_source and (source in (None, "") or (isinstance(source, str) and source.lower() in TRANSPORT_SOURCES)):
        out["source"] = domain_source
    raw_id = out.get("event_id")
    if raw_id not in (None, "") and isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
        try:
            canonical_uuid(raw_id)
        except ValueError:
            if domain_source:
                out["producer_event_id"] = str(raw_id)
                out["event_id"] = stable_event_id(domain_source, str(raw_id))
    return out


def dumps_record(record: Mapping[str, Any]) -> str:
    """Serialize a record as one canonical NDJSON line (no trailing newline), UTF-8 safe."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
