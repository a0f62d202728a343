"""Event generator: deterministic, contract-valid, realistic, anomalies counted."""

from __future__ import annotations

from collections import Counter

from cardflow.contract import PAYLOAD_FIELDS, ContractViolation, check_business_rules, validate_envelope
from cardflow.dev.generator import PARALLELS, EventGenerator, GeneratorConfig


def test_same_seed_same_events_and_different_seed_differs() -> None:
    a = list(EventGenerator(GeneratorConfig(events=3_000, seed=7)))
    b = list(EventGenerator(GeneratorConfig(events=3_000, seed=7)))
    c = list(EventGenerator(GeneratorConfig(events=3_000, seed=8)))
    assert a == b
    assert [e["event_id"] for e in a] != [e["event_id"] for e in c]


def test_exact_count_and_unique_ids_and_all_valid_without_anomalies() -> None:
    gen = EventGenerator(GeneratorConfig(events=10_000, seed=1))
    events = list(gen)
    assert len(events) == gen.report.events == 10_000
    assert len({e["event_id"] for e in events}) == 10_000
    for e in events:
        env = validate_envelope(e)
        assert check_business_rules(env.event_type, env.payload) == []
    assert sum(gen.report.by_type.values()) == 10_000
    assert not gen.report.anomalies


def test_realistic_shape() -> None:
    gen = EventGenerator(GeneratorConfig(events=50_000, seed=3, days=14))
    events = list(gen)
    types = Counter(e["event_type"] for e in events)
    assert types["OrderCreated"] > 0.8 * len(events)
    catalog = [e["payload"] for e in events if e["event_type"] == "CardCatalogEntryInserted"]
    assert {c["sport"] for c in catalog} >= {"Baseball", "Basketball", "Football", "Hockey", "Soccer"}
    for card in catalog:
        lo, hi = PARALLELS[card["parallel"]][0]
        assert lo <= card["print_run"] <= hi
    # weekly seasonality: weekend days carry more orders per day than weekdays
    per_day = Counter(e["inserted_at"].date() for e in events if e["event_type"] == "OrderCreated")
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    weekday = [n for d, n in per_day.items() if d.weekday() < 5]
    assert sum(weekend) / len(weekend) > 1.2 * sum(weekday) / len(weekday)
    # events lie within the configured window
    cfg = gen.config
    assert all(cfg.start <= e["inserted_at"] < cfg.end for e in events)
    # re-emitted orders share order_id with a later status
    order_ids = Counter(e["payload"]["order_id"] for e in events if e["event_type"] == "OrderCreated")
    assert sum(1 for n in order_ids.values() if n > 1) == gen.report.re_emitted_orders


def test_anomalies_are_injected_and_counted() -> None:
    gen = EventGenerator(GeneratorConfig(events=40_000, seed=5, anomalies=True, anomaly_rate=0.01))
    found: Counter[str] = Counter()
    skus = set()
    events = list(gen)
    for e in events:
        if e["event_type"] == "CardCatalogEntryInserted":
            skus.add(e["payload"]["sku"])
    for e in events:
        try:
            env = validate_envelope(e)
        except ContractViolation:
            found["malformed_payload"] += 1
            continue
        for finding in check_business_rules(env.event_type, env.payload):
            found["negative_quantity" if finding == "negative_quantity" else "defect_rate_above_one"] += 1
        if env.event_type == "OrderCreated" and env.payload["sku"] not in skus:
            found["unknown_sku"] += 1
    report = gen.report.anomalies
    for kind in ("malformed_payload", "negative_quantity", "unknown_sku"):
        assert report[kind] > 0
        assert found[kind] == report[kind], kind
    assert found["defect_rate_above_one"] == report["defect_rate_above_one"]
    assert report["duplicate_delivery"] > 0 and report["late_event"] > 0


def test_payload_fields_come_from_the_contract() -> None:
    for e in EventGenerator(GeneratorConfig(events=2_000, seed=2)):
        assert set(PAYLOAD_FIELDS[e["event_type"]]) <= set(e["payload"])
