"""Gold amounts against an independent Python ``Decimal`` computation, on DuckDB and fakesnow.

Shared by the deterministic decimal tests and the hypothesis property tests: orders with the given
``(units, scale, quantity)`` go into RAW.EVENTS, dbt builds fct_orders, and every unit_price and
order_total must equal ``Decimal(units) * 10**-scale`` and ``quantity * that``, exactly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cardflow.backends.chooser import resolve_backends
from cardflow.contract import decode_decimal, validate_envelope
from cardflow.settings import Settings, load_settings
from cardflow.transform.dbt import invoke_dbt
from cardflow.warehouse.connection import DuckDBTarget
from tests.raw_factory import create_raw_snowflake, insert_raw_duckdb, insert_raw_snowflake, raw_rows

Order = tuple[int, int, int]  # units, scale, quantity
#: models fct_orders needs (no tests: business-rule tests are not what this checks)
SELECT = ["run", "--select", "+fct_orders"]


def order_envelopes(orders: list[Order]) -> list[dict[str, Any]]:
    """Contract-valid OrderCreated envelopes, one order_id per entry."""
    at = datetime.now(UTC) - timedelta(hours=1)
    envelopes = []
    for i, (units, scale, quantity) in enumerate(orders):
        envelope = {
            "event_id": str(uuid.UUID(int=i + 1)),
            "source": "orders",
            "event_type": "OrderCreated",
            "payload": {
                "order_id": f"O{i:04d}",
                "order_ts": "2026-11-20T10:00:00+00:00",
                "customer_id": "C1",
                "sku": "S1",
                "quantity": quantity,
                "price": {"units": units, "scale": scale},
                "status": "PAID",
            },
            "inserted_at": at,
        }
        validate_envelope(envelope)  # the generator only makes what the contract accepts
        envelopes.append(envelope)
    return envelopes


def expected(orders: list[Order]) -> dict[str, tuple[Decimal, Decimal]]:
    """order_id -> (unit_price, order_total), computed with Python decimals only."""
    out = {}
    for i, (units, scale, quantity) in enumerate(orders):
        price = decode_decimal({"units": units, "scale": scale})
        out[f"O{i:04d}"] = (price, quantity * price)
    return out


def gold_duckdb(orders: list[Order], workdir: Path) -> dict[str, tuple[Decimal, Decimal]]:
    import duckdb

    path = workdir / "warehouse.duckdb"
    insert_raw_duckdb(path, raw_rows(order_envelopes(orders)))
    settings = load_settings(data_dir=workdir / "data", duckdb_path_override=path)
    summary = invoke_dbt([*SELECT, "--target-path", str(workdir / "target")], settings, DuckDBTarget(path))
    assert not summary.failed, [n.describe() for n in summary.failed]
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("select order_id, unit_price, order_total from GOLD.fct_orders").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def snowflake_settings(port: int, database: str, workdir: Path) -> Settings:
    return load_settings(
        data_dir=workdir / "sf",
        warehouse_choice="snowflake",
        snowflake_account="fake",
        snowflake_user="cardflow",
        snowflake_password="fakesnow-password",
        snowflake_database=database,
        snowflake_host="localhost",
        snowflake_port=port,
        snowflake_protocol="http",
    )


def gold_fakesnow(orders: list[Order], workdir: Path, port: int) -> dict[str, tuple[Decimal, Decimal]]:
    import snowflake.connector

    database = f"CARDFLOW_DEC_{uuid.uuid4().hex[:8].upper()}"
    conn = snowflake.connector.connect(
        account="fake", user="cardflow", password="fakesnow-password", host="localhost", port=port,
        protocol="http", database=database,
    )  # fmt: skip
    try:
        create_raw_snowflake(conn, database)
        insert_raw_snowflake(conn, raw_rows(order_envelopes(orders)), database, workdir / "stage")
        settings = snowflake_settings(port, database, workdir)
        summary = invoke_dbt(
            [*SELECT, "--target-path", str(workdir / "target-sf")],
            settings,
            resolve_backends(settings, needs={"warehouse"}).target,
        )
        assert not summary.failed, [n.describe() for n in summary.failed]
        cur = conn.cursor()
        cur.execute(f"SELECT order_id, unit_price, order_total FROM {database}.GOLD.FCT_ORDERS")
        return {r[0]: (Decimal(r[1]), Decimal(r[2])) for r in cur.fetchall()}
    finally:
        conn.close()


def assert_exact(gold: dict[str, tuple[Decimal, Decimal]], orders: list[Order]) -> None:
    """Every order in Gold, each amount equal (as a number: trailing zeros do not count)."""
    want = expected(orders)
    assert sorted(gold) == sorted(want)
    for order_id, (price, total) in want.items():
        assert gold[order_id][0] == price, (order_id, gold[order_id][0], price)
        assert gold[order_id][1] == total, (order_id, gold[order_id][1], total)
