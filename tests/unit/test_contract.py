"""Event contract: validation reasons and exact decimal decoding."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardflow.contract import (
    BRONZE_FIELDS,
    canonical_uuid,
    check_business_rules,
    decode_decimal,
    dumps_record,
    encode_decimal,
    validate_envelope,
)
from cardflow.errors import ContractViolation

ORDER = {
    "order_id": "ORD-1",
    "order_ts": "2026-10-01T12:00:00+00:00",
    "customer_id": "CUST-1",
    "sku": "BAS-2025-00001",
    "quantity": 2,
    "price": {"units": 1999, "scale": 2},
    "status": "PAID",
}


def envelope(**overrides):
    base = {
        "event_id": "6f1c2a4e-8a0f-4c1b-9d55-0b6a3f3d9a10",
        "source": "orders",
        "event_type": "OrderCreated",
        "payload": dict(ORDER),
        "inserted_at": "2026-10-01T12:00:01.5+00:00",
    }
    return base | overrides


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ({"units": 1999, "scale": 2}, Decimal("19.99")),
        ({"units": 1, "scale": 18}, Decimal("1E-18")),
        ({"units": -250, "scale": 1}, Decimal("-25.0")),
        ({"units": 9223372036854775807, "scale": 10}, Decimal("922337203.6854775807")),
        ({"units": -9223372036854775808, "scale": 18}, Decimal("-9.223372036854775808")),
        ({"units": 7, "scale": 0}, Decimal(7)),
    ],
)
def test_decode_decimal_is_exact(encoded, expected) -> None:
    assert decode_decimal(encoded) == expected
    assert decode_decimal(encode_decimal(expected)) == expected


def test_units_beyond_64_bits_are_refused_at_the_contract() -> None:
    """No warehouse decimal column holds them exactly (Silver decodes units as decimal(19, 0))."""
    with pytest.raises(ContractViolation) as info:
        decode_decimal({"units": 2**63, "scale": 10})
    assert info.value.reason == "decimal_out_of_range"


def test_decimal_sum_has_no_float_error() -> None:
    ten_cents = {"units": 10, "scale": 2}
    assert sum((decode_decimal(ten_cents) for _ in range(3)), Decimal(0)) == Decimal("0.30")


@pytest.mark.parametrize(
    "bad", [{"units": 1.5, "scale": 2}, {"units": 1}, {"units": True, "scale": 0}, "19.99", {"units": 1, "scale": -1}]
)
def test_decode_decimal_rejects_bad_shapes(bad) -> None:
    with pytest.raises(ContractViolation) as info:
        decode_decimal(bad)
    assert info.value.reason == "bad_decimal"


def test_valid_envelope_round_trips_to_bronze() -> None:
    env = validate_envelope(envelope())
    record = env.to_bronze(datetime(2026, 10, 2, tzinfo=UTC))
    assert tuple(record) == BRONZE_FIELDS
    assert record["inserted_at"] == "2026-10-01T12:00:01.500000+00:00"
    assert record["ingested_at"] == "2026-10-02T00:00:00.000000+00:00"
    line = dumps_record(record)
    assert "\n" not in line


def test_payload_as_json_text_is_accepted() -> None:
    import json

    env = validate_envelope(envelope(payload=json.dumps(ORDER)))
    assert env.payload["sku"] == ORDER["sku"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"event_id": None}, "null_event_id"),
        ({"event_id": "not-a-uuid"}, "bad_event_id"),
        ({"event_type": "OrderShipped"}, "unknown_event_type"),
        ({"source": "cards"}, "source_mismatch"),
        ({"payload": ["ORD-1"]}, "payload_not_object"),
        ({"payload": "{not json"}, "payload_not_json"),
        ({"payload": {k: v for k, v in ORDER.items() if k != "sku"}}, "missing_field"),
        ({"payload": ORDER | {"quantity": "2"}}, "bad_type"),
        ({"payload": ORDER | {"status": "LOST"}}, "bad_status"),
        ({"payload": ORDER | {"price": 19.99}}, "bad_decimal"),
        ({"inserted_at": "yesterday"}, "bad_timestamp"),
    ],
)
def test_violations_carry_a_reason(overrides, reason) -> None:
    with pytest.raises(ContractViolation) as info:
        validate_envelope(envelope(**overrides))
    assert info.value.reason == reason


def test_business_rules_are_findings_not_rejections() -> None:
    env = validate_envelope(envelope(payload=ORDER | {"quantity": -3}))
    assert check_business_rules(env.event_type, env.payload) == ["negative_quantity"]
    batch = {
        "batch_id": "B1",
        "sku": "S",
        "production_date": "2026-10-01",
        "quantity_produced": 100,
        "defect_rate_estimate": {"units": 15000, "scale": 4},
    }
    assert check_business_rules("ManufacturingBatch", batch) == ["defect_rate_out_of_range"]


def test_text_with_quotes_backslashes_and_unicode_survives_serialization() -> None:
    import json

    tricky = ORDER | {"customer_id": 'Zoë "the \\ collector"\nline2'}
    env = validate_envelope(envelope(payload=tricky))
    line = dumps_record(env.to_bronze(datetime(2026, 1, 1, tzinfo=UTC)))
    assert json.loads(line)["payload"]["customer_id"] == tricky["customer_id"]


_SPELLINGS = [str, lambda u: str(u).upper(), lambda u: u.hex, lambda u: f"{{{u}}}", lambda u: u.urn]


@given(st.uuids(), st.sampled_from(_SPELLINGS))
def test_canonical_uuid_agrees_with_uuid_parsing(value: uuid.UUID, spell: Any) -> None:
    """The shortcut for canonical text gives what parsing gives, for every spelling of a UUID."""
    assert canonical_uuid(spell(value)) == str(value)


@pytest.mark.parametrize("bad", ["", "evt_123", "0" * 31, "g" * 32, 12])
def test_canonical_uuid_refuses_what_is_not_a_uuid(bad: Any) -> None:
    with pytest.raises(ValueError):
        canonical_uuid(bad)
