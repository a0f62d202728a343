"""Gates that recover: a failed gate holds back the events it can name, so the next run publishes the rest.

The policy (docs/runbook.md, "When a gate fails"): when a layer's gate fails, every failed
row-level expectation is turned into a query for the offending rows of the audited table, and the
events behind those rows are *held*: written to ``RAW.EVENTS_HELD`` with the gate's reason
(``gate_silver:stg_order_created:expect_column_values_to_be_between(quantity)``) and removed from
the published Silver tables. The Silver models skip held events (macro ``not_held``), so the next
run builds, gates and publishes everything else; ``cardflow quarantine list`` shows what is held
and why. The run that found them still fails (and alerts), so a held event is never silent.

Why hold instead of stopping until an operator acts: one bad event must not block later valid data
for more than one run, and the correction recipe (a corrected event under a new event_id) then
works because the bad event no longer competes with it in Silver. ``cardflow quarantine release``
puts a held event back (it is rebuilt on the next run and gated again).

Expectations that name no rows (row counts, column sets, freshness) hold nothing: such a failure
keeps stopping the layer, and the alert says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cardflow.quality.results import ExpectationOutcome, GateResult
from cardflow.quality.suites import SuiteSpec
from cardflow.warehouse.connection import WarehouseSession

logger = logging.getLogger(__name__)

HOLDS_TABLE = "EVENTS_HELD"
#: Silver models whose rows are events (event_id): held events are removed from their published tables
SILVER_EVENT_MODELS: tuple[str, ...] = (
    "stg_order_created",
    "stg_manufacturing_batch",
    "stg_card_catalog_entry_inserted",
    "int_events_rejected",
)
#: Gold model -> (its key column, the Silver model whose events make that key)
GOLD_KEYS: dict[str, tuple[str, str]] = {
    "fct_orders": ("order_id", "stg_order_created"),
    "fct_batch_performance": ("batch_id", "stg_manufacturing_batch"),
    "dim_card": ("sku", "stg_card_catalog_entry_inserted"),
}
#: Gold models that carry the event id of each row themselves
GOLD_EVENT_COLUMNS: dict[str, str] = {"dim_card_history": "source_event_id"}


@dataclass(frozen=True)
class Hold:
    """One held event and why."""

    event_id: str
    reason: str
    gate: str
    held_at: datetime | None = None


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, Mapping) and "$PARAMETER" in value:
        return parameters.get(str(value["$PARAMETER"]))
    return value


def _membership_relation(kwargs: Mapping[str, Any], parameters: Mapping[str, Any]) -> str | None:
    """The table a ``$PARAMETER`` value set is read from, when the gate passes one instead of a list
    (``known_skus`` -> ``known_skus_relation``, see :func:`cardflow.quality.gate.gate_parameters`)."""
    value_set = kwargs.get("value_set")
    if isinstance(value_set, Mapping) and "$PARAMETER" in value_set:
        relation = parameters.get(f"{value_set['$PARAMETER']}_relation")
        return str(relation) if relation else None
    return None


def offending_condition(
    outcome: ExpectationOutcome, relation: str, parameters: Mapping[str, Any]
) -> str | None:
    """A SQL predicate over ``relation``'s rows (alias ``t``) true for the rows the expectation refuses.

    None for expectations about the whole table (row counts, column sets, max/min): they name no rows.
    """
    kwargs = {k: _resolve(v, parameters) for k, v in (outcome.config.get("kwargs") or {}).items()}
    kind = str(outcome.config.get("type", ""))
    if kind == "expect_column_values_to_not_be_null":
        return f"t.{kwargs['column']} is null"
    if kind == "expect_column_values_to_be_between":
        parts = []
        if kwargs.get("min_value") is not None:
            parts.append(f"t.{kwargs['column']} < {_literal(kwargs['min_value'])}")
        if kwargs.get("max_value") is not None:
            parts.append(f"t.{kwargs['column']} > {_literal(kwargs['max_value'])}")
        return " or ".join(parts) or None
    if kind == "expect_column_values_to_be_in_set":
        values = kwargs.get("value_set")
        column = kwargs["column"]
        members = _membership_relation(outcome.config.get("kwargs") or {}, parameters)
        if values is None and members:  # DuckDB: the engine anti-joins with a table, not a list
            return f"t.{column} is not null and t.{column} not in (select {column} from {members})"
        if values is None:
            return None
        listed = ", ".join(_literal(v) for v in values) if values else None
        column = kwargs["column"]
        return f"t.{column} is not null and t.{column} not in ({listed})" if listed else f"t.{column} is not null"
    if kind in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
        columns = [kwargs["column"]] if "column" in kwargs else list(kwargs["column_list"])
        joined = ", ".join(columns)
        match = " and ".join(f"d.{c} = t.{c}" for c in columns)
        return (
            f"exists (select 1 from (select {joined} from {relation} group by {joined} "
            f"having count(*) > 1) as d where {match})"
        )
    if kind == "expect_column_pair_values_to_be_equal":
        return f"t.{kwargs['column_A']} <> t.{kwargs['column_B']}"
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        op = "<" if kwargs.get("or_equal") else "<="
        return f"t.{kwargs['column_A']} {op} t.{kwargs['column_B']}"
    return None


def holds_relation(warehouse: WarehouseSession, raw_schema: str) -> str:
    return warehouse.qualified(raw_schema, HOLDS_TABLE)


def ensure_holds_table(warehouse: WarehouseSession, raw_schema: str) -> str:
    """Create ``RAW.EVENTS_HELD`` if needed (does nothing if it exists); returns its name."""
    ts = "TIMESTAMP_TZ" if warehouse.dialect == "snowflake" else "TIMESTAMPTZ"
    relation = holds_relation(warehouse, raw_schema)
    warehouse.execute(
        f"CREATE TABLE IF NOT EXISTS {relation} (event_id VARCHAR NOT NULL, reason VARCHAR NOT NULL, "
        f"gate VARCHAR NOT NULL, held_at {ts} NOT NULL)"
    )
    return relation


def offender_queries(
    warehouse: WarehouseSession,
    result: GateResult,
    specs: Sequence[SuiteSpec],
    parameters: Mapping[str, Any],
    *,
    audit_schema: str,
    silver_schema: str,
) -> list[tuple[str, str]]:
    """(reason, SQL selecting the offending event_ids) for each failed expectation that names rows."""
    by_model = {s.name: s for s in specs}
    queries = []
    for model in result.models:
        spec = by_model.get(model.model)
        relation = warehouse.qualified(audit_schema, model.model)
        derived = ", ".join(f"{expr} as {name}" for name, expr in (spec.derived_columns if spec else {}).items())
        source = f"(select *{', ' + derived if derived else ''} from {relation})"
        for outcome in model.failed:
            condition = offending_condition(outcome, relation, parameters)
            if condition is None:
                continue
            reason = f"gate_{result.gate}:{model.model}:{outcome.name}"
            rows = f"select * from {source} as t where {condition}"
            if model.model in GOLD_KEYS:
                key, silver_model = GOLD_KEYS[model.model]
                silver = warehouse.qualified(silver_schema, silver_model)
                sql = f"select s.event_id from {silver} as s where s.{key} in (select o.{key} from ({rows}) as o)"
            elif model.model in GOLD_EVENT_COLUMNS:
                sql = f"select o.{GOLD_EVENT_COLUMNS[model.model]} as event_id from ({rows}) as o"
            elif model.model in SILVER_EVENT_MODELS:
                sql = f"select o.event_id from ({rows}) as o"
            else:
                continue  # aggregates (fct_sku_supply_demand) name no events
            queries.append((reason, sql))
    return queries


def hold_offenders(
    warehouse: WarehouseSession,
    result: GateResult,
    specs: Sequence[SuiteSpec],
    parameters: Mapping[str, Any],
    *,
    raw_schema: str,
    audit_schema: str,
    silver_schema: str,
    now: datetime | None = None,
) -> list[Hold]:
    """Hold back the events behind ``result``'s failed row-level expectations; returns the new holds.

    Does nothing if the gate passed. Holding an event again keeps its first reason.
    """
    if result.success:
        return []
    now = now or datetime.now(UTC)
    holds_table = ensure_holds_table(warehouse, raw_schema)
    already = {str(r[0]) for r in warehouse.query(f"SELECT event_id FROM {holds_table}")}
    new: dict[str, Hold] = {}
    for reason, sql in offender_queries(
        warehouse, result, specs, parameters, audit_schema=audit_schema, silver_schema=silver_schema
    ):
        for (event_id,) in warehouse.query(sql):
            key = str(event_id)
            if key not in already and key not in new:
                new[key] = Hold(key, reason, result.gate, now)
    for hold in new.values():
        param = "%s" if warehouse.dialect == "snowflake" else "?"
        warehouse.execute(
            f"INSERT INTO {holds_table} (event_id, reason, gate, held_at) VALUES ({param}, {param}, {param}, {param})",
            [hold.event_id, hold.reason, hold.gate, now],
        )
    if new:
        for model in SILVER_EVENT_MODELS:
            if warehouse.table_exists(silver_schema, model):
                warehouse.execute(
                    f"DELETE FROM {warehouse.qualified(silver_schema, model)} "
                    f"WHERE event_id IN (SELECT event_id FROM {holds_table})"
                )
    logger.warning("gate %s failed: %d event(s) held back in %s", result.gate, len(new), holds_table)
    return list(new.values())


def list_holds(warehouse: WarehouseSession, raw_schema: str) -> list[Hold]:
    """Every held event, oldest first (empty when nothing was ever held)."""
    if not warehouse.table_exists(raw_schema, HOLDS_TABLE):
        return []
    relation = holds_relation(warehouse, raw_schema)
    rows = warehouse.query(f"SELECT event_id, reason, gate, held_at FROM {relation} ORDER BY held_at, event_id")
    return [Hold(str(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


def release_holds(warehouse: WarehouseSession, raw_schema: str, event_ids: Sequence[str]) -> int:
    """Put held events back: the next transform rebuilds them (a full refresh of Silver picks them up).

    Returns how many holds were removed; does nothing for ids that are not held.
    """
    if not event_ids or not warehouse.table_exists(raw_schema, HOLDS_TABLE):
        return 0
    relation = holds_relation(warehouse, raw_schema)
    before = len(list_holds(warehouse, raw_schema))
    param = "%s" if warehouse.dialect == "snowflake" else "?"
    for event_id in event_ids:
        warehouse.execute(f"DELETE FROM {relation} WHERE event_id = {param}", [event_id])
    return before - len(list_holds(warehouse, raw_schema))
