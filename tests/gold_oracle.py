"""An independent computation of Silver/Gold from envelopes, in plain Python (no SQL).

The dbt tests compare every Gold table to this. It follows the business definitions, not the dbt
code: an event is usable when :func:`cardflow.contract.validate_payload` accepts it (rejections are
counted separately); copies of one event_id count once; per order/batch/SKU the latest event by
(inserted_at, event_id) wins; decimals are :class:`decimal.Decimal`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cardflow.contract import decode_decimal, parse_timestamp, validate_payload
from cardflow.errors import ContractViolation

GOLD_CONTRACT: dict[str, list[str]] = {
    "dim_card": [
        "sku",
        "card_name",
        "sport",
        "player_name",
        "team_name",
        "parallel",
        "print_run",
        "last_updated_at",
    ],
    "fct_orders": [
        "order_id",
        "order_ts",
        "customer_id",
        "sku",
        "quantity",
        "unit_price",
        "order_total",
        "status",
        "event_inserted_at",
    ],
    "fct_batch_performance": [
        "batch_id",
        "sku",
        "production_date",
        "quantity_produced",
        "defect_rate_estimate",
        "estimated_defects",
        "estimated_good_units",
        "event_inserted_at",
    ],
}


@dataclass
class Expected:
    """What Silver and Gold must hold for a set of envelopes."""

    silver_counts: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # event_id -> event_type
    fct_orders: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    fct_batch_performance: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    dim_card: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    dim_card_history: list[tuple[Any, ...]] = field(default_factory=list)
    supply_demand: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def revenue_per_sku(self) -> dict[str, Decimal]:
        revenue: dict[str, Decimal] = defaultdict(Decimal)
        for row in self.fct_orders.values():
            revenue[row[3]] += row[6]
        return dict(revenue)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def expected_from(envelopes: list[dict[str, Any]]) -> Expected:
    """Compute the expected Silver counts and Gold tables for ``envelopes`` (copies allowed)."""
    unique: dict[str, dict[str, Any]] = {}
    for event in envelopes:
        unique[event["event_id"]] = event  # copies of one event are identical
    exp = Expected()
    valid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in unique.values():
        try:
            payload = validate_payload(event["event_type"], event["payload"])
        except ContractViolation:
            exp.rejected[event["event_id"]] = event["event_type"]
            continue
        valid[event["event_type"]].append({**event, "payload": payload})
    exp.silver_counts = {t: len(v) for t, v in valid.items()}

    def latest(events: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
        best: dict[str, dict[str, Any]] = {}
        for e in events:
            k = e["payload"][key]
            if k not in best or (e["inserted_at"], e["event_id"]) > (
                best[k]["inserted_at"],
                best[k]["event_id"],
            ):
                best[k] = e
        return best

    for order_id, e in latest(valid["OrderCreated"], "order_id").items():
        p = e["payload"]
        price = decode_decimal(p["price"])
        exp.fct_orders[order_id] = (
            order_id,
            utc(parse_timestamp(p["order_ts"])),
            p["customer_id"],
            p["sku"],
            p["quantity"],
            price,
            p["quantity"] * price,
            p["status"],
            utc(e["inserted_at"]),
        )
    for batch_id, e in latest(valid["ManufacturingBatch"], "batch_id").items():
        p = e["payload"]
        rate = decode_decimal(p["defect_rate_estimate"])
        defects = p["quantity_produced"] * rate
        exp.fct_batch_performance[batch_id] = (
            batch_id,
            p["sku"],
            date.fromisoformat(p["production_date"]),
            p["quantity_produced"],
            rate,
            defects,
            p["quantity_produced"] - defects,
            utc(e["inserted_at"]),
        )
    attributes = ("card_name", "sport", "player_name", "team_name", "parallel", "print_run")
    for sku, e in latest(valid["CardCatalogEntryInserted"], "sku").items():
        exp.dim_card[sku] = (sku, *(e["payload"][a] for a in attributes), utc(e["inserted_at"]))
    by_sku: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in valid["CardCatalogEntryInserted"]:
        by_sku[e["payload"]["sku"]].append(e)
    for sku, events in by_sku.items():
        events.sort(key=lambda e: (e["inserted_at"], e["event_id"]))
        versions: list[tuple[tuple[Any, ...], datetime]] = []
        for e in events:
            values = tuple(e["payload"][a] for a in attributes)
            if not versions or versions[-1][0] != values:
                versions.append((values, utc(e["inserted_at"])))
        for i, (values, start) in enumerate(versions):
            end = versions[i + 1][1] if i + 1 < len(versions) else None
            exp.dim_card_history.append((sku, i + 1, *values, start, end, end is None))

    skus = (
        set(exp.dim_card)
        | {r[3] for r in exp.fct_orders.values()}
        | {r[1] for r in exp.fct_batch_performance.values()}
    )
    orders_of: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in exp.fct_orders.values():
        orders_of[r[3]].append(r)
    batches_of: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in exp.fct_batch_performance.values():
        batches_of[r[1]].append(r)
    for sku in skus:
        orders, batches = orders_of[sku], batches_of[sku]
        sold = sum(r[4] for r in orders if r[7] != "CANCELLED")
        good = sum((r[6] for r in batches), Decimal(0))
        exp.supply_demand[sku] = (
            sku,
            sku in exp.dim_card,
            len(batches),
            sum(r[3] for r in batches),
            good,
            len(orders),
            sold,
            sold > good,
        )
    return exp
