"""What each starter query of ``sql/examples.sql`` must return, computed in plain Python from events.

Independent of dbt and SQL: only the contract's (unit-tested) envelope validation, timestamp
parsing and exact decimal decoding are shared. The rules are the Gold contract's: the latest event
per key wins (by inserted_at, then event_id); revenue counts orders whose latest status is not
CANCELLED; the card history opens a version whenever a catalog event changes any attribute.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cardflow.contract import ContractViolation, decode_decimal, parse_timestamp, validate_envelope

UNKNOWN_SPORT = "(unknown sku)"
CARD_ATTRIBUTES = ("card_name", "sport", "player_name", "team_name", "parallel", "print_run")


@dataclass(frozen=True)
class Order:
    order_id: str
    order_ts: datetime
    sku: str
    quantity: int
    order_total: Decimal
    status: str

    @property
    def day(self) -> date:
        return self.order_ts.astimezone(UTC).date()


@dataclass(frozen=True)
class Batch:
    batch_id: str
    sku: str
    production_date: date
    quantity_produced: int
    defect_rate_estimate: Decimal

    @property
    def estimated_defects(self) -> Decimal:
        return self.quantity_produced * self.defect_rate_estimate

    @property
    def estimated_good_units(self) -> Decimal:
        return self.quantity_produced - self.estimated_defects


@dataclass(frozen=True)
class Version:
    sku: str
    version_number: int
    attributes: dict[str, Any]
    valid_from: datetime
    valid_to: datetime | None


class GoldModel:
    """Gold rebuilt in Python from envelopes; one method per starter query, rows as tuples."""

    def __init__(self, events: Iterable[dict[str, Any]]) -> None:
        latest: dict[str, dict[str, tuple[tuple[datetime, str], dict[str, Any]]]] = defaultdict(dict)
        catalog_events: dict[str, list[tuple[tuple[datetime, str], dict[str, Any]]]] = defaultdict(list)
        for raw in events:
            try:
                env = validate_envelope(raw)
            except ContractViolation:
                continue
            rank = (env.inserted_at, env.event_id)
            key = {"CardCatalogEntryInserted": "sku", "OrderCreated": "order_id", "ManufacturingBatch": "batch_id"}[
                env.event_type
            ]
            table = latest[env.event_type]
            if env.payload[key] not in table or table[env.payload[key]][0] < rank:
                table[env.payload[key]] = (rank, env.payload)
            if env.event_type == "CardCatalogEntryInserted":
                catalog_events[env.payload["sku"]].append((rank, env.payload))

        self.cards = {sku: p for sku, (_, p) in latest["CardCatalogEntryInserted"].items()}
        self.orders = [
            Order(oid, parse_timestamp(p["order_ts"]), p["sku"], p["quantity"],
                  p["quantity"] * decode_decimal(p["price"]), p["status"])
            for oid, (_, p) in latest["OrderCreated"].items()
        ]
        self.batches = [
            Batch(bid, p["sku"], date.fromisoformat(p["production_date"]), p["quantity_produced"],
                  decode_decimal(p["defect_rate_estimate"]))
            for bid, (_, p) in latest["ManufacturingBatch"].items()
        ]
        self.versions: dict[str, list[Version]] = {}
        for sku, evs in catalog_events.items():
            evs.sort(key=lambda e: e[0])
            starts: list[tuple[datetime, dict[str, Any]]] = []
            previous = None
            for (inserted_at, _), payload in evs:
                fingerprint = tuple(payload[a] for a in CARD_ATTRIBUTES)
                if fingerprint != previous:
                    starts.append((inserted_at, {a: payload[a] for a in CARD_ATTRIBUTES}))
                previous = fingerprint
            self.versions[sku] = [
                Version(sku, i + 1, attrs, start, starts[i + 1][0] if i + 1 < len(starts) else None)
                for i, (start, attrs) in enumerate(starts)
            ]

    # -- helpers -------------------------------------------------------------------------------
    @property
    def sold(self) -> list[Order]:
        return [o for o in self.orders if o.status != "CANCELLED"]

    def card(self, sku: str, attribute: str) -> Any:
        card = self.cards.get(sku)
        return card[attribute] if card else None

    def version_at(self, sku: str, ts: datetime) -> Version | None:
        """The catalog version valid at ``ts``; the first version counts from the beginning."""
        for version in self.versions.get(sku, []):
            if (ts >= version.valid_from or version.version_number == 1) and (
                version.valid_to is None or ts < version.valid_to
            ):
                return version
        return None

    # -- the starter queries ---------------------------------------------------------------------
    def top_skus_by_revenue(self) -> list[tuple]:
        agg: dict[str, list] = defaultdict(lambda: [0, 0, Decimal(0)])
        for o in self.sold:
            a = agg[o.sku]
            a[0] += 1
            a[1] += o.quantity
            a[2] += o.order_total
        rows = [
            (sku, self.card(sku, "card_name"), self.card(sku, "sport"), self.card(sku, "player_name"),
             self.card(sku, "parallel"), n, units, revenue)
            for sku, (n, units, revenue) in agg.items()
        ]
        return sorted(rows, key=lambda r: (-r[7], r[0]))[:20]

    def top_players_by_revenue(self) -> list[tuple]:
        agg: dict[tuple[str, str], list] = defaultdict(lambda: [set(), 0, Decimal(0)])
        for o in self.sold:
            if o.sku not in self.cards:
                continue
            a = agg[(self.card(o.sku, "player_name"), self.card(o.sku, "sport"))]
            a[0].add(o.sku)
            a[1] += o.quantity
            a[2] += o.order_total
        rows = [(player, sport, len(skus), units, revenue) for (player, sport), (skus, units, revenue) in agg.items()]
        return sorted(rows, key=lambda r: (-r[4], r[0]))[:15]

    def revenue_by_sport_by_day(self) -> list[tuple]:
        agg: dict[tuple[date, str], list] = defaultdict(lambda: [0, 0, Decimal(0)])
        for o in self.sold:
            a = agg[(o.day, self.card(o.sku, "sport") or UNKNOWN_SPORT)]
            a[0] += 1
            a[1] += o.quantity
            a[2] += o.order_total
        return sorted((day, sport, n, units, revenue) for (day, sport), (n, units, revenue) in agg.items())

    def revenue_by_team_by_day(self) -> list[tuple]:
        agg: dict[tuple[date, str, str], list] = defaultdict(lambda: [0, Decimal(0)])
        for o in self.sold:
            version = self.version_at(o.sku, o.order_ts)
            if version is None:
                continue
            a = agg[(o.day, version.attributes["sport"], version.attributes["team_name"])]
            a[0] += 1
            a[1] += o.order_total
        return sorted((*key, n, revenue) for key, (n, revenue) in agg.items())

    def revenue_by_player_by_day(self) -> list[tuple]:
        agg: dict[tuple[date, str, str], list] = defaultdict(lambda: [0, Decimal(0)])
        for o in self.sold:
            if o.sku not in self.cards:
                continue
            a = agg[(o.day, self.card(o.sku, "sport"), self.card(o.sku, "player_name"))]
            a[0] += 1
            a[1] += o.order_total
        return sorted((*key, n, revenue) for key, (n, revenue) in agg.items())

    def defect_rate_by_sku(self) -> list[tuple]:
        """Rows sorted by sku (the SQL's order by a rounded ratio is checked separately)."""
        agg: dict[str, list] = defaultdict(lambda: [0, 0, Decimal(0)])
        for b in self.batches:
            a = agg[b.sku]
            a[0] += 1
            a[1] += b.quantity_produced
            a[2] += b.estimated_defects
        rows = []
        for sku, (n, units, defects) in agg.items():
            rate = round(defects / units, 6) if units else None
            rows.append((sku, self.card(sku, "card_name"), self.card(sku, "sport"), n, units, defects, rate))
        return sorted(rows)

    def defect_rate_by_batch(self) -> list[tuple]:
        rows = [
            (b.batch_id, b.sku, self.card(b.sku, "sport") or UNKNOWN_SPORT, b.production_date, b.quantity_produced,
             b.defect_rate_estimate, b.estimated_defects, b.estimated_good_units)
            for b in self.batches
        ]
        return sorted(rows, key=lambda r: (-r[5], r[0]))

    def _supply_demand(self) -> list[dict[str, Any]]:
        skus = set(self.cards) | {o.sku for o in self.orders} | {b.sku for b in self.batches}
        rows = []
        for sku in skus:
            batches = [b for b in self.batches if b.sku == sku]
            good = sum((b.estimated_good_units for b in batches), Decimal(0))
            sold = sum(o.quantity for o in self.sold if o.sku == sku)
            rows.append({
                "sku": sku, "card_name": self.card(sku, "card_name"), "parallel": self.card(sku, "parallel"),
                "print_run": self.card(sku, "print_run"), "is_known_sku": sku in self.cards,
                "batches_count": len(batches), "units_produced": sum(b.quantity_produced for b in batches),
                "estimated_good_units": good, "units_sold": sold, "is_oversold": sold > good,
            })
        return rows

    def supply_vs_demand(self) -> list[tuple]:
        cols = ("sku", "card_name", "parallel", "print_run", "batches_count", "units_produced",
                "estimated_good_units", "units_sold", "is_oversold")
        rows = sorted(self._supply_demand(), key=lambda r: (-r["units_sold"], r["sku"]))
        return [tuple(r[c] for c in cols) for r in rows]

    def oversold_skus(self) -> list[tuple]:
        rows = [
            (r["sku"], r["card_name"], r["is_known_sku"], r["units_produced"], r["estimated_good_units"],
             r["units_sold"], r["units_sold"] - r["estimated_good_units"])
            for r in self._supply_demand()
            if r["is_oversold"]
        ]
        return sorted(rows, key=lambda r: (-r[6], r[0]))

    def latest_catalog_entries(self) -> list[tuple]:
        rows = [
            (v.sku, v.version_number, *(v.attributes[a] for a in CARD_ATTRIBUTES), v.valid_from, v.valid_to is None)
            for versions in self.versions.values()
            for v in versions
        ]
        rows.sort(key=lambda r: r[0])
        rows.sort(key=lambda r: r[8], reverse=True)  # newest first, sku ascending among equals
        return rows[:20]
