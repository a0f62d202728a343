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


def test_cli_lists_held_and_bronze_quarantined_events_with_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from cardflow.backends.chooser import resolve_backends
    from cardflow.bronze.writer import quarantine_entry, write_quarantine
    from cardflow.cli import main
    from cardflow.quality.holdback import ensure_holds_table
    from cardflow.settings import load_settings

    monkeypatch.setenv("CARDFLOW_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("CREATE SCHEMA RAW")
        table = ensure_holds_table(WarehouseSession("duckdb", con), "RAW")
        con.execute(f"INSERT INTO {table} VALUES ('e-held', 'gate_silver:stg_x:why', 'silver', now())")
    at = datetime(2026, 11, 20, tzinfo=UTC)
    entry = quarantine_entry(
        "null_event_id", "event_id is required", {"event_id": None}, origin="realtime", seen_at=at
    )
    store = resolve_backends(settings, needs={"bronze"}).store()
    write_quarantine(store, settings.s3_prefix, "realtime", [entry | {"identity": "sha256:abc"}], identity="x", at=at)
    assert main(["quarantine", "list"]) == 0
    out = capsys.readouterr().out
    assert "held\te-held\tgate_silver:stg_x:why" in out
    assert "bronze\tsha256:abc\tnull_event_id\tevent_id is required" in out
