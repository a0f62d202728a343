"""A deterministic, realistic event generator for the three upstream services.

Same seed and same parameters give byte-identical events. The catalog (about 5,000 SKUs) is the
only state held in memory; orders and batches stream day by day, so 10 million events need no more
memory than 200,000.

Realism: several sports, teams and players; parallels Base / Refractor / Gold /50 / Orange /25 /
1-of-1 with print runs to match; order prices by parallel; daily (evening peak) and weekly (weekend)
seasonality; re-emitted orders carrying status changes (the marts keep one row per order);
catalog corrections (for SCD2 history); manufacturing batches with small defect rates.

With ``anomalies`` set, a fraction of events is made bad on purpose, each kind counted in the
:class:`GenerationReport`: duplicate deliveries, late events, malformed payloads, negative
quantities, defect rates above 1 and orders for unknown SKUs.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from cardflow.contract import SOURCE_OF, encode_decimal, format_timestamp

DEFAULT_END: Final = datetime(2026, 11, 1, tzinfo=UTC)

SPORTS: Final[dict[str, dict[str, list[str]]]] = {
    "Baseball": {
        "New York Yankees": ["Aaron Judge", "Juan Soto", "Gerrit Cole", "Anthony Volpe"],
        "Los Angeles Dodgers": ["Shohei Ohtani", "Mookie Betts", "Freddie Freeman", "Yoshinobu Yamamoto"],
        "Atlanta Braves": ["Ronald Acuña Jr.", "Austin Riley", "Matt Olson"],
        "Baltimore Orioles": ["Gunnar Henderson", "Adley Rutschman", "Jackson Holliday"],
        "Seattle Mariners": ["Julio Rodríguez", "Cal Raleigh"],
    },
    "Basketball": {
        "San Antonio Spurs": ["Victor Wembanyama", "De'Aaron Fox"],
        "Dallas Mavericks": ["Luka Dončić", "Kyrie Irving", "Cooper Flagg"],
        "Denver Nuggets": ["Nikola Jokić", "Jamal Murray"],
        "Oklahoma City Thunder": ["Shai Gilgeous-Alexander", "Chet Holmgren"],
        "Boston Celtics": ["Jayson Tatum", "Jaylen Brown"],
    },
    "Football": {
        "Kansas City Chiefs": ["Patrick Mahomes", "Travis Kelce"],
        "Buffalo Bills": ["Josh Allen", "James Cook"],
        "Cincinnati Bengals": ["Joe Burrow", "Ja'Marr Chase"],
        "Detroit Lions": ["Jahmyr Gibbs", "Amon-Ra St. Brown"],
        "Washington Commanders": ["Jayden Daniels", "Terry McLaurin"],
    },
    "Hockey": {
        "Edmonton Oilers": ["Connor McDavid", "Leon Draisaitl"],
        "Chicago Blackhawks": ["Connor Bedard", "Frank Nazar"],
        "Toronto Maple Leafs": ["Auston Matthews", "Mitch Marner"],
    },
    "Soccer": {
        "Inter Miami": ["Lionel Messi", "Luis Suárez"],
        "Real Madrid": ["Kylian Mbappé", "Jude Bellingham", "Vinícius Júnior"],
        "Manchester City": ["Erling Haaland", "Phil Foden"],
    },
}

#: parallel -> (print run range, price range in dollars, share of the catalog)
PARALLELS: Final[dict[str, tuple[tuple[int, int], tuple[str, str], float]]] = {
    "Base": ((5_000, 25_000), ("1.50", "12.00"), 0.55),
    "Refractor": ((499, 499), ("8.00", "45.00"), 0.2),
    "Gold /50": ((50, 50), ("60.00", "450.00"), 0.13),
    "Orange /25": ((25, 25), ("120.00", "800.00"), 0.08),
    "1-of-1": ((1, 1), ("1500.00", "12000.00"), 0.04),
}
SETS: Final = ("Chrome", "Prizm", "Select", "Topps Series 1", "Bowman", "Optic", "Finest", "Heritage")
STATUS_FLOW: Final = ("CREATED", "PAID", "SHIPPED")
ANOMALY_KINDS: Final = (
    "duplicate_delivery",
    "late_event",
    "malformed_payload",
    "negative_quantity",
    "defect_rate_above_one",
    "unknown_sku",
)


def current_hour() -> datetime:
    """Now, floored to the hour (UTC): the default end for demos, so the data looks fresh."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. ``end`` is exclusive; events spread over ``days`` days before it."""

    events: int = 200_000
    seed: int = 42
    days: int = 30
    end: datetime = DEFAULT_END
    skus: int = 5_000
    anomalies: bool = False
    anomaly_rate: float = 0.002
    """Per anomaly kind, the share of order/batch events turned bad when ``anomalies`` is set."""

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


@dataclass
class GenerationReport:
    """Counts of what was generated (written to stdout by ``cardflow generate``)."""

    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    anomalies: Counter[str] = field(default_factory=Counter)
    re_emitted_orders: int = 0
    catalog_corrections: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "by_type": dict(self.by_type),
            "anomalies": dict(self.anomalies),
            "re_emitted_orders": self.re_emitted_orders,
            "catalog_corrections": self.catalog_corrections,
        }


@dataclass(frozen=True)
class Card:
    sku: str
    card_name: str
    sport: str
    player_name: str
    team_name: str
    parallel: str
    print_run: int

    def payload(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "card_name": self.card_name,
            "sport": self.sport,
            "player_name": self.player_name,
            "team_name": self.team_name,
            "parallel": self.parallel,
            "print_run": self.print_run,
        }


class EventGenerator:
    """Yields envelopes (dicts with ``inserted_at`` as a datetime) and fills a report."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        self.config = config or GeneratorConfig()
        self.rng = random.Random(self.config.seed)
        self.report = GenerationReport()
        # small runs (tests) get a catalog in proportion, so they still hold orders and batches
        self.sku_count = min(self.config.skus, max(20, self.config.events // 20))
        self.catalog = self._build_catalog()
        self._base_indices = [i for i, c in enumerate(self.catalog) if c.parallel == "Base"] or list(
            range(len(self.catalog))
        )
        self._order_seq = 0
        self._batch_seq = 0

    # -- ids -------------------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _envelope(self, event_type: str, payload: Any, inserted_at: datetime) -> dict[str, Any]:
        return {
            "event_id": self._uuid(),
            "source": SOURCE_OF[event_type],
            "event_type": event_type,
            "payload": payload,
            "inserted_at": inserted_at,
        }

    # -- catalog ---------------------------------------------------------------------------------
    def _build_catalog(self) -> list[Card]:
        rng = self.rng
        players = [
            (sport, team, player)
            for sport, teams in SPORTS.items()
            for team, members in teams.items()
            for player in members
        ]
        names = list(PARALLELS)
        weights = [PARALLELS[p][2] for p in names]
        cards = []
        for i in range(self.sku_count):
            sport, team, player = players[i % len(players)]
            parallel = rng.choices(names, weights)[0]
            lo, hi = PARALLELS[parallel][0]
            print_run = rng.randrange(lo, hi + 1, 500) if lo != hi else lo
            card_set = rng.choice(SETS)
            year = rng.choice((2023, 2024, 2025, 2026))
            cards.append(
                Card(
                    sku=f"{sport[:3].upper()}-{year}-{i:05d}",
                    card_name=f"{year} {card_set} {player} {parallel}",
                    sport=sport,
                    player_name=player,
                    team_name=team,
                    parallel=parallel,
                    print_run=print_run,
                )
            )
        return cards

    # -- time ------------------------------------------------------------------------------------
    def _day_weights(self) -> list[float]:
        weights = []
        for d in range(self.config.days):
            day = self.config.start + timedelta(days=d)
            weekend = 1.45 if day.weekday() >= 5 else 1.0
            trend = 1.0 + 0.3 * d / max(1, self.config.days)
            weights.append(weekend * trend)
        return weights

    def _time_in_day(self, day: datetime) -> datetime:
        # evening peak: a mixture of a broad daytime spread and a peak around 20:00 UTC
        rng = self.rng
        hour = rng.gauss(20, 2.5) if rng.random() < 0.55 else rng.uniform(0, 24)
        seconds = (int((hour % 24) * 3600) + rng.randrange(0, 60)) % 86_400
        return day + timedelta(seconds=seconds, microseconds=rng.randrange(0, 1_000_000))

    # -- events ----------------------------------------------------------------------------------
    def _price(self, card: Card) -> Decimal:
        lo, hi = (Decimal(v) for v in PARALLELS[card.parallel][1])
        cents = self.rng.randint(int(lo * 100), int(hi * 100))
        return Decimal(cents).scaleb(-2)

    def _order_payload(self, card_sku: str, card: Card, order_ts: datetime, status: str) -> dict[str, Any]:
        self._order_seq += 1
        quantity = self.rng.choice((1, 1, 1, 2, 2, 3, 5)) if card.parallel == "Base" else 1
        return {
            "order_id": f"ORD-{self.config.seed}-{self._order_seq:09d}",
            "order_ts": format_timestamp(order_ts),
            "customer_id": f"CUST-{self.rng.randrange(1, 60_000):06d}",
            "sku": card_sku,
            "quantity": quantity,
            "price": encode_decimal(self._price(card)),
            "status": status,
        }

    def _batch_payload(self, card: Card, day: datetime) -> dict[str, Any]:
        self._batch_seq += 1
        size = card.print_run if card.print_run <= 50 else self.rng.randint(200, max(201, card.print_run // 4))
        defect = self.rng.choice((5, 8, 10, 12, 15, 20, 25, 30, 45, 60, 80, 120))  # per ten thousand
        return {
            "batch_id": f"BATCH-{self.config.seed}-{self._batch_seq:07d}",
            "sku": card.sku,
            "production_date": f"{day:%Y-%m-%d}",
            "quantity_produced": size,
            "defect_rate_estimate": {"units": defect, "scale": 4},
        }

    def _anomaly(self) -> str | None:
        if not self.config.anomalies:
            return None
        roll = self.rng.random()
        rate = self.config.anomaly_rate
        for i, kind in enumerate(ANOMALY_KINDS):
            if roll < rate * (i + 1):
                return kind
        return None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        cfg = self.config
        # 1. the catalog is inserted in the first hours of the window
        for i, card in enumerate(self.catalog):
            if self.report.events >= cfg.events:
                return
            yield self._counted(
                self._envelope(
                    "CardCatalogEntryInserted", card.payload(), cfg.start + timedelta(seconds=i % 7200, microseconds=i)
                )
            )
        remaining = max(0, cfg.events - len(self.catalog))
        corrections = min(len(self.catalog) // 30, remaining // 50)
        batches = remaining // 20
        # re-emitted status changes and duplicate deliveries add events on top of the planned
        # orders; plan fewer and let the last day fill up to exactly ``events``
        orders = round((remaining - corrections - batches) / 1.09)
        weights = self._day_weights()
        total_weight = sum(weights)
        emitted_orders = emitted_batches = emitted_corrections = 0
        for d, weight in enumerate(weights):
            day = cfg.start + timedelta(days=d)
            last = d == cfg.days - 1
            n_orders = orders - emitted_orders if last else round(orders * weight / total_weight)
            n_batches = batches - emitted_batches if last else batches // cfg.days
            n_corr = corrections - emitted_corrections if last else corrections // cfg.days
            n_orders = max(0, min(n_orders, orders - emitted_orders))
            emitted_orders += n_orders
            emitted_batches += n_batches
            emitted_corrections += n_corr
            for stream in (self._corrections(day, n_corr), self._batches(day, n_batches), self._orders(day, n_orders)):
                for event in stream:
                    if self.report.events >= cfg.events:
                        return
                    yield self._counted(event)
        while self.report.events < cfg.events:
            for event in self._orders(cfg.end - timedelta(days=1), 1):
                if self.report.events >= cfg.events:
                    return
                yield self._counted(event)

    def _counted(self, event: dict[str, Any]) -> dict[str, Any]:
        """Count an event as it leaves the generator (so the report matches what was emitted)."""
        self.report.events += 1
        self.report.by_type[event["event_type"]] += 1
        kind = event.pop("_anomaly", None)
        if kind == "re_emitted_order":
            self.report.re_emitted_orders += 1
        elif kind == "catalog_correction":
            self.report.catalog_corrections += 1
        elif kind:
            self.report.anomalies[kind] += 1
        return event

    def _corrections(self, day: datetime, n: int) -> Iterator[dict[str, Any]]:
        teams = [(sport, team) for sport, ts in SPORTS.items() for team in ts]
        for _ in range(n):
            card = self.rng.choice(self.catalog)
            same_sport = [t for s, t in teams if s == card.sport and t != card.team_name]
            corrected = Card(**{**card.__dict__, "team_name": self.rng.choice(same_sport)})
            event = self._envelope("CardCatalogEntryInserted", corrected.payload(), self._time_in_day(day))
            yield {**event, "_anomaly": "catalog_correction"}

    def _batches(self, day: datetime, n: int) -> Iterator[dict[str, Any]]:
        for _ in range(n):
            card = self.rng.choice(self.catalog)
            payload = self._batch_payload(card, day)
            kind = self._anomaly()
            if kind == "defect_rate_above_one":
                payload["defect_rate_estimate"] = {"units": self.rng.randint(10_001, 30_000), "scale": 4}
            elif kind == "negative_quantity":
                payload["quantity_produced"] = -self.rng.randint(1, 500)
            elif kind == "malformed_payload":
                del payload["sku"]
            else:
                kind = None
            event = self._envelope("ManufacturingBatch", payload, self._time_in_day(day))
            yield {**event, "_anomaly": kind} if kind else event

    def _popular_index(self) -> int:
        """Catalog index of an ordered card.

        40% of orders follow a Pareto tail over the Base cards (chase players sell most); the rest
        spread over the whole catalog, but a numbered parallel (print run under 500) keeps its pick
        only in proportion to its print run, otherwise the buyer takes a Base card: a 1-of-1 sells
        about once, not thousands of times.
        """
        rng = self.rng
        base = self._base_indices
        if rng.random() < 0.4:
            return base[min(len(base) - 1, int(rng.paretovariate(1.1)) * 7 + rng.randrange(0, 7))]
        idx = rng.randrange(len(self.catalog))
        print_run = self.catalog[idx].print_run
        if print_run < 500 and rng.random() * 500 > print_run:
            return base[rng.randrange(len(base))]
        return idx

    def _orders(self, day: datetime, n: int) -> Iterator[dict[str, Any]]:
        rng = self.rng
        # popularity: a few chase players sell much more (Zipf-like over the catalog)
        for _ in range(n):
            card = self.catalog[self._popular_index()]
            inserted_at = self._time_in_day(day)
            order_ts = inserted_at - timedelta(seconds=rng.randint(0, 90))
            status = rng.choices((*STATUS_FLOW, "CANCELLED"), (0.35, 0.45, 0.15, 0.05))[0]
            payload = self._order_payload(card.sku, card, order_ts, status)
            kind = self._anomaly()
            if kind == "negative_quantity":
                payload["quantity"] = -rng.randint(1, 5)
            elif kind == "unknown_sku":
                payload["sku"] = f"UNK-{rng.randrange(10**6):06d}"
            elif kind == "malformed_payload":
                payload = rng.choice(([payload["order_id"], payload["sku"]], f"order {payload['order_id']}"))
            elif kind == "late_event":
                payload["order_ts"] = format_timestamp(order_ts - timedelta(days=rng.randint(2, 6)))
            event = self._envelope("OrderCreated", payload, inserted_at)
            if kind in ("negative_quantity", "unknown_sku", "malformed_payload", "late_event"):
                event["_anomaly"] = kind
            yield event
            if kind == "duplicate_delivery":
                # an upstream retry re-sent the same order under a new event_id, a few seconds later
                resent_at = inserted_at + timedelta(seconds=rng.randint(1, 30))
                again = self._envelope("OrderCreated", dict(payload), resent_at)
                yield {**again, "_anomaly": kind}
            elif kind is None and isinstance(payload, dict) and status in ("CREATED", "PAID") and rng.random() < 0.12:
                # a status change arrives later as a new event for the same order_id
                nxt = STATUS_FLOW[STATUS_FLOW.index(status) + 1]
                later = inserted_at + timedelta(minutes=rng.randint(5, 600))
                if later < self.config.end:
                    again = self._envelope("OrderCreated", {**payload, "status": nxt}, later)
                    yield {**again, "_anomaly": "re_emitted_order"}

