"""Gate recovery: failed row-level expectations become queries for the offending events, which are
held in RAW.EVENTS_HELD with the gate's reason, removed from published Silver, listed and releasable.
Checked on a real DuckDB file (no GX: the gate's result is built by hand)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cardflow.quality.holdback import hold_offenders, list_holds, offending_condition, release_holds
from cardflow.quality.results import ExpectationOutcome, GateResult, ModelResult
from cardflow.quality.suites import suites_for
from cardflow.warehouse.connection import WarehouseSession


def _outcome(model: str, kind: str, **kwargs: object) -> ExpectationOutcome:
    name = f"{kind}({kwargs.get('column', '')})"
    return ExpectationOutcome(model, name, {"type": kind, "kwargs": kwargs}, success=False)


@pytest.mark.parametrize(
    ("kind", "kwargs", "condition"),
    [
        ("expect_column_values_to_be_between", {"column": "quantity", "min_value": 0}, "t.quantity < 0"),
        ("expect_column_values_to_not_be_null", {"column": "sku"}, "t.sku is null"),
        ("expect_column_values_to_be_in_set", {"column": "sku", "value_set": {"$PARAMETER": "known_skus"}},
         "t.sku is not null and t.sku not in ('A', 'B''s')"),
        ("expect_table_row_count_to_be_between", {"min_value": 0}, None),
    ],
)  # fmt: skip
def test_offending_condition_per_expectation(kind: str, kwargs: dict, condition: str | None) -> None:
    outcome = _outcome("stg_order_created", kind, **kwargs)
    assert offending_condition(outcome, "SILVER_AUDIT.stg_order_created", {"known_skus": ["A", "B's"]}) == condition


def test_failed_gate_holds_the_offending_events_once(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for schema in ("RAW", "SILVER", "SILVER_AUDIT"):
        con.execute(f"CREATE SCHEMA {schema}")
    for schema in ("SILVER", "SILVER_AUDIT"):
        rows = "('e1', 'O1', 2), ('e2', 'O2', -1), ('e3', 'O3', -5)"
        con.execute(
            f"CREATE TABLE {schema}.stg_order_created AS "
            f"SELECT * FROM (VALUES {rows}) AS t(event_id, order_id, quantity)"
        )
    session = WarehouseSession("duckdb", con)
    outcome = _outcome("stg_order_created", "expect_column_values_to_be_between", column="quantity", min_value=0)
    result = GateResult("silver", "SILVER_AUDIT", "duckdb", [ModelResult("stg_order_created", "x", 3, [outcome])], 0.1)
    kwargs = {"raw_schema": "RAW", "audit_schema": "SILVER_AUDIT", "silver_schema": "SILVER"}
    holds = hold_offenders(session, result, suites_for("silver"), {}, **kwargs)
    assert sorted(h.event_id for h in holds) == ["e2", "e3"]
    assert {h.reason for h in holds} == {"gate_silver:stg_order_created:expect_column_values_to_be_between(quantity)"}
    assert hold_offenders(session, result, suites_for("silver"), {}, **kwargs) == []  # held once
    assert [h.event_id for h in list_holds(session, "RAW")] == ["e2", "e3"]
    assert con.execute("SELECT event_id FROM SILVER.stg_order_created").fetchall() == [("e1",)]
    assert release_holds(session, "RAW", ["e3", "nope"]) == 1
    assert [h.event_id for h in list_holds(session, "RAW")] == ["e2"]
    con.close()
