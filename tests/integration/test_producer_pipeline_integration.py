"""New users' first days: the original system's producer messages reach Gold exactly, and a store
with only orders and catalog events (no manufacturing batch yet) runs the whole pipeline.

* Flat producer bodies (event fields at the top level beside ``event_id="evt_..."``,
  ``source="rabbitmq"``, ``event_type``, ``inserted_at``; metadata repeated in headers) are posted to
  the webhook in both shapes -- ``{"messages": [{"data": base64, "basicProperties": {"headers"}}]}``
  and the Amazon MQ event (``rmqMessagesByQueue``, headers as byte arrays) -- then loaded and
  transformed: Gold holds each order with the exact unit_price and order_total, and Bronze keeps
  the producer's id beside the derived event_id.
* ``medallion_pipeline`` on a PostgreSQL store holding only OrderCreated and CardCatalogEntryInserted
  events succeeds, with every order and card in Gold.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from starlette.testclient import TestClient

from cardflow.contract import decode_decimal, stable_event_id
from cardflow.dev.generator import EventGenerator, GeneratorConfig, current_hour
from cardflow.settings import Settings, load_settings
from cardflow.sources.eventstore import store as eventstore
from deployments.webhook_app import create_app, sign
from flows.load import s3_to_snowflake_load_raw
from flows.pipeline import medallion_pipeline
from flows.transform import dbt_transform_and_test

pytestmark = pytest.mark.integration

SECRET = "producer-shapes-secret"
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
CARD = {"sku": "SKU-PROD-1", "card_name": "Rookie", "sport": "baseball", "player_name": "A. Player",
        "team_name": "Team", "parallel": "base", "print_run": 500}  # fmt: skip
ORDERS = [  # (producer id, quantity, price): the prices, one per body shape
    ("evt_1001", 3, {"units": 1234567890123, "scale": 12}),
    ("evt_1002", 2, {"units": 125000, "scale": 5}),
]


def _flat(producer_id: str, event_type: str, fields: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"event_id": producer_id, "event_type": event_type, "source": "rabbitmq",
            "inserted_at": at.isoformat(), **fields}  # fmt: skip


def _item(body: dict[str, Any], *, amazon: bool) -> dict[str, Any]:
    headers: dict[str, Any] = {k: body[k] for k in ("event_type", "source", "inserted_at")}
    if amazon:
        headers = {k: {"bytes": list(str(v).encode())} for k, v in headers.items()}
    data = base64.b64encode(json.dumps(body).encode()).decode()
    return {"data": data, "basicProperties": {"contentType": "application/json", "headers": headers}}


def _post(client: TestClient, document: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(document).encode()
    response = client.post("/mq", content=body, headers={"X-Cardflow-Signature": sign(SECRET, body)})
    assert response.status_code == 200, response.text
    return response.json()


def _order_fields(i: int, quantity: int, price: dict[str, int]) -> dict[str, Any]:
    return {"order_id": f"ORD-P{i}", "order_ts": NOW.isoformat(), "customer_id": "CUST-P", "sku": CARD["sku"],
            "quantity": quantity, "price": price, "status": "PAID"}  # fmt: skip


def test_flat_producer_messages_reach_gold_exactly(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", webhook_secret=SECRET, dbt_node_tasks=False, dbt_threads=2)
    client = TestClient(create_app(settings, emit_events=False))
    card = _flat("evt_card_1", "CardCatalogEntryInserted", CARD, NOW - timedelta(minutes=5))
    orders = [_flat(pid, "OrderCreated", _order_fields(i, q, p), NOW) for i, (pid, q, p) in enumerate(ORDERS)]

    plain = _post(client, {"messages": [_item(card, amazon=False), _item(orders[0], amazon=False)]})
    amazon = _post(client, {"eventSource": "aws:rmq",
                            "rmqMessagesByQueue": {"cards::/": [_item(orders[1], amazon=True)]}})  # fmt: skip
    assert (plain["landed"], plain["quarantined"], amazon["landed"], amazon["quarantined"]) == (2, 0, 1, 0)

    # Bronze keeps the producer id beside the derived, stable event_id
    records = [
        json.loads(line)
        for path in (settings.resolved_data_dir).rglob("part-*.json.gz")
        for line in gzip.decompress(path.read_bytes()).decode().splitlines()
    ]
    by_producer = {r["producer_event_id"]: r for r in records}
    assert set(by_producer) == {"evt_card_1", "evt_1001", "evt_1002"}
    assert by_producer["evt_1001"]["event_id"] == stable_event_id("orders", "evt_1001")
    assert by_producer["evt_1001"]["source"] == "orders"
    assert "event_id" not in by_producer["evt_1001"]["payload"]

    s3_to_snowflake_load_raw(settings=settings)
    dbt_transform_and_test(settings=settings)  # orders and catalog only: the gates pass
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        gold = {r[0]: (r[1], r[2], r[3]) for r in con.execute(
            "SELECT order_id, quantity, unit_price, order_total FROM GOLD.fct_orders").fetchall()}  # fmt: skip
        cards = con.execute("SELECT sku FROM GOLD.dim_card").fetchall()
    assert cards == [(CARD["sku"],)]
    for i, (_pid, quantity, price) in enumerate(ORDERS):
        unit = decode_decimal(price)
        assert gold[f"ORD-P{i}"] == (quantity, unit, quantity * unit)
    assert gold["ORD-P0"][1] == Decimal("1.234567890123") and gold["ORD-P1"][1] == Decimal("1.25")


def test_pipeline_with_only_orders_and_catalog_events_succeeds(pg_settings: Settings) -> None:
    settings = pg_settings.model_copy(update={"dbt_node_tasks": False})
    config = GeneratorConfig(events=1_500, seed=5, days=3, end=current_hour(), anomalies=False)
    events = [e for e in EventGenerator(config) if e["event_type"] != "ManufacturingBatch"]
    eventstore.bootstrap_event_store(settings)
    with eventstore.connect(settings) as conn:
        eventstore.insert_events(conn, events, settings)
    medallion_pipeline(settings=settings)
    orders = {e["payload"]["order_id"] for e in events if e["event_type"] == "OrderCreated"}
    skus = {e["payload"]["sku"] for e in events if e["event_type"] == "CardCatalogEntryInserted"}
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM GOLD.fct_batch_performance").fetchone()[0] == 0
        assert {r[0] for r in con.execute("SELECT order_id FROM GOLD.fct_orders").fetchall()} == orders
        assert {r[0] for r in con.execute("SELECT sku FROM GOLD.dim_card").fetchall()} == skus
