"""Conflicting duplicates (one event_id, different content) resolve by one rule on every run and are
counted: latest inserted_at, then latest ingested_at, then the larger payload hash -- never the
order the copies were loaded in.

The issue's case: the same event_id and inserted_at with quantity 1 in one batch and 9 in another.
Two warehouses load the two batches in opposite orders, each building after each batch
(incremental), and a third builds both at once (full): Gold agrees everywhere and
int_event_conflicts counts the event once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cardflow.settings import load_settings
from cardflow.transform.dbt import invoke_dbt
from cardflow.warehouse.connection import DuckDBTarget
from tests.raw_factory import insert_raw_duckdb, raw_rows

pytestmark = pytest.mark.integration

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
EVENT_ID = str(uuid.uuid4())


def _order(quantity: int) -> dict[str, Any]:
    payload = {"order_id": "ORD-C", "order_ts": AT.isoformat(), "customer_id": "C", "sku": "S",
               "quantity": quantity, "price": {"units": 250, "scale": 2}, "status": "PAID"}  # fmt: skip
    envelope = {"event_id": EVENT_ID, "source": "orders", "event_type": "OrderCreated", "payload": payload}
    return envelope | {"inserted_at": AT}


def _batch(quantity: int, name: str, loaded_at: datetime) -> list[Any]:
    # both copies carry the same ingested_at: only content can decide
    return raw_rows([_order(quantity)], file_prefix=name, ingested_at=AT + timedelta(minutes=1), loaded_at=loaded_at)


def _build(path: Path, workdir: Path) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    settings = load_settings(data_dir=workdir / "data", duckdb_path_override=path)
    summary = invoke_dbt(
        ["run", "--select", "+fct_orders", "int_event_conflicts", "--target-path", str(workdir / "target")],
        settings,
        DuckDBTarget(path),
    )
    assert not summary.failed, [n.describe() for n in summary.failed]
    with duckdb.connect(str(path), read_only=True) as con:
        gold = con.execute("SELECT order_id, quantity, order_total FROM GOLD.fct_orders").fetchall()
        conflicts = con.execute(
            "SELECT event_id, copies, distinct_payloads, kept_payload_hash FROM SILVER.int_event_conflicts"
        ).fetchall()
    assert len(gold) == 1
    return gold[0], conflicts


def test_conflicting_copies_across_batches_give_the_same_gold_every_run(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    one, nine = _order(1)["payload"], _order(9)["payload"]
    # the rule: equal inserted_at and ingested_at -> the larger MD5 of the payload text wins
    texts = {q: json.dumps(p, ensure_ascii=False, separators=(",", ":")) for q, p in ((1, one), (9, nine))}
    winner = max(texts, key=lambda q: hashlib.md5(texts[q].encode()).hexdigest())

    results = []
    for order_name, first, second in (("a", 1, 9), ("b", 9, 1)):
        path = tmp_path / order_name / "w.duckdb"
        insert_raw_duckdb(path, _batch(first, f"{order_name}1", now - timedelta(minutes=10)))
        _build(path, tmp_path / order_name)
        insert_raw_duckdb(path, _batch(second, f"{order_name}2", now))
        results.append(_build(path, tmp_path / order_name))
    full = tmp_path / "full" / "w.duckdb"
    insert_raw_duckdb(full, _batch(9, "f1", now) + _batch(1, "f2", now))
    results.append(_build(full, tmp_path / "full"))

    golds = {r[0] for r in results}
    assert golds == {("ORD-C", winner, winner * Decimal("2.50"))}
    for _gold, conflicts in results:
        assert len(conflicts) == 1
        event_id, copies, distinct_payloads, kept = conflicts[0]
        assert (event_id, copies, distinct_payloads) == (EVENT_ID, 2, 2)
        assert kept == hashlib.md5(texts[winner].encode()).hexdigest()
