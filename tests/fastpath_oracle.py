"""The backfill fast path against the contract, on multi-row groups (shared by the seeded and the
hypothesis property tests of ``cardflow.sources.eventstore.partitions``).

Agreement means: for every row of a group, :func:`prepare_group` lands exactly the line
``validate_envelope`` would render (``dumps_record(to_bronze)``), or quarantines it with the
reason ``validate_envelope`` gives -- whatever the other rows of the group look like.
"""

from __future__ import annotations

import json
import random
from typing import Any

from cardflow.contract import dumps_record, validate_envelope
from cardflow.errors import ContractViolation
from cardflow.sources.eventstore.partitions import prepare_group
from tests.unit.test_eventstore_partitions import (
    HOUR,
    INGESTED,
    group,
    ids,
    jsonb_text,
    order,
    read_originals,
    sql_line,
)

#: single-field changes that make a row invalid, non-canonical or merely unusual
MUTATIONS: list[dict[str, Any]] = [
    {"customer_id": ...},
    {"sku": ...},
    {"price": ...},
    {'x"customer_id': "C"},
    {'x"sku': "S"},
    {"extra": "value"},
    {"customer_id": 'a": b'},
    {"customer_id": "Jr."},
    {"sku": "a, b"},
    {"sku": ""},
    {"quantity": -3},
    {"quantity": 1.5},
    {"quantity": "1"},
    {"quantity": True},
    {"quantity": 10**19},
    {"quantity": 2**63},
    {"price": {"units": 1, "scale": 19}},
    {"price": {"units": 10**17, "scale": 0}, "quantity": 10**4},
    {"price": {"units": 5, "scale": 2, "sku": "S"}},
    {"price": {"units": "5", "scale": 2}},
    {"order_ts": "2026-02-30T20:11:03.123456+00:00"},
    {"order_ts": "2026-10-05T20:11:03+00:00"},
    {"status": "LOST"},
    {"status": None},
    {"order_id": ["a"]},
    {"order_id": {"nested": "x"}},
]


def row_payload(rng: random.Random) -> dict[str, Any]:
    """A valid order with 0-2 random mutations."""
    price = {"units": rng.randint(-(10**9), 10**9), "scale": rng.randint(0, 18)}
    payload = order(quantity=rng.randint(0, 10**6), price=price)
    for _ in range(rng.choice((0, 0, 1, 2))):
        payload.update(rng.choice(MUTATIONS))
    return {k: v for k, v in payload.items() if v is not ...}


def contract_verdict(payload: Any, event_id: str) -> tuple[str, str]:
    """("line", the canonical line) or ("quarantine", reason), from validate_envelope alone."""
    row = {"event_id": event_id, "source": "orders", "event_type": "OrderCreated",
           "payload": json.loads(jsonb_text(payload)), "inserted_at": HOUR}  # fmt: skip
    try:
        return "line", dumps_record(validate_envelope(row).to_bronze(INGESTED))
    except ContractViolation as exc:
        return "quarantine", exc.reason


def assert_fast_path_agrees(payloads: list[dict[str, Any]]) -> None:
    event_ids = ids(len(payloads))
    prepared = prepare_group(group([sql_line(p, event_id=e) for p, e in zip(payloads, event_ids, strict=True)]),
                             ingested_at=INGESTED, originals=read_originals)  # fmt: skip
    # split on "\n" only: U+0085, U+2028 ... are data inside a record, not line ends
    landed = set(prepared.body.decode().split("\n")[:-1]) if prepared.body else set()
    quarantined = {str(e["record"]["event_id"]): e["reason"] for e in prepared.quarantine}
    for payload, event_id in zip(payloads, event_ids, strict=True):
        kind, value = contract_verdict(payload, event_id)
        if kind == "line":
            assert value in landed, (payload, "contract accepts, fast path did not land it canonically")
        else:
            assert quarantined.get(event_id) == value, (payload, value, quarantined.get(event_id))
    assert len(landed) + len(quarantined) == len(payloads)
