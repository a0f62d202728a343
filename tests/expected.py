"""Independent expectations computed in plain Python from the generator's own events.

Used to check Gold without trusting any of the pipeline's code: only the contract's decimal decoder
(itself unit-tested) is shared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cardflow.contract import ContractViolation, decode_decimal, validate_envelope


@dataclass(frozen=True)
class ExpectedGold:
    skus: int
    orders: int
    batches: int
    revenue: Decimal
    """Sum of order_total over the latest event per order, cancelled orders included."""
    units_produced: int


def expected_gold(events: Iterable[dict[str, Any]]) -> ExpectedGold:
    """Latest event per key wins (by inserted_at, then event_id), as the contract says."""
    cards: dict[str, tuple] = {}
    orders: dict[str, tuple] = {}
    batches: dict[str, tuple] = {}
    for raw in events:
        try:
            env = validate_envelope(raw)
        except ContractViolation:
            continue
        rank = (env.inserted_at, env.event_id)
        p = env.payload
        target, key = {
            "CardCatalogEntryInserted": (cards, "sku"),
            "OrderCreated": (orders, "order_id"),
            "ManufacturingBatch": (batches, "batch_id"),
        }[env.event_type]
        if p[key] not in target or target[p[key]][0] < rank:
            target[p[key]] = (rank, p)
    revenue = sum((decode_decimal(p["price"]) * p["quantity"] for _, p in orders.values()), Decimal(0))
    produced = sum(p["quantity_produced"] for _, p in batches.values())
    return ExpectedGold(len(cards), len(orders), len(batches), revenue, produced)
