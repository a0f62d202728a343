"""Whole-table checks the DuckDB gate runs as SQL aggregates instead of streaming rows through GX.

Two kinds of expectation are facts about the whole table, not about the rows a run wrote, and a
row-by-row engine pays for the whole table to learn them:

* uniqueness (``expect_column_values_to_be_unique``, ``expect_compound_columns_to_be_unique``):
  ``GROUP BY key HAVING count(*) > 1``, counting every row of a duplicated key (as GX does) and
  keeping a few keys as examples;
* membership in another table (``expect_column_values_to_be_in_set`` whose value set is the
  ``$PARAMETER`` named in :data:`RELATION_PARAMETERS`): an anti-join with that table (the audited
  ``dim_card`` for ``known_skus``) instead of a value list the size of the catalog.

Both fill the same :class:`~cardflow.quality.results.ExpectationOutcome` the GX passes fill.
"""

from __future__ import annotations

from typing import Any

from cardflow.quality.results import PARTIAL_VALUES, ExpectationOutcome
from cardflow.warehouse.connection import WarehouseSession

#: ``$PARAMETER`` of a value set -> (parameter naming the relation, its key column)
RELATION_PARAMETERS: dict[str, tuple[str, str]] = {"known_skus": ("known_skus_relation", "sku")}


def relation_parameter(config: dict[str, Any], parameters: dict[str, Any]) -> tuple[str, str] | None:
    """(relation, key column) when ``config`` is a set membership the gate checks by anti-join."""
    if config.get("type") != "expect_column_values_to_be_in_set":
        return None
    value_set = (config.get("kwargs") or {}).get("value_set")
    if not isinstance(value_set, dict) or "$PARAMETER" not in value_set:
        return None
    names = RELATION_PARAMETERS.get(str(value_set["$PARAMETER"]))
    if names is None or names[0] not in parameters:
        return None
    return str(parameters[names[0]]), names[1]


def check_unique(warehouse: WarehouseSession, outcome: ExpectationOutcome, relation: str, key: tuple[str, ...]) -> None:
    """Fill ``outcome`` with the duplicates of ``key`` over the whole ``relation``."""
    cols = ", ".join(key)
    present = " OR ".join(f"{c} IS NOT NULL" for c in key)
    duplicates = (
        f"SELECT {cols}, count(*) AS copies FROM {relation} WHERE {present} GROUP BY {cols} HAVING count(*) > 1"
    )
    total, missing = warehouse.query(f"SELECT count(*), count(*) FILTER (WHERE NOT ({present})) FROM {relation}")[0]
    unexpected = warehouse.query(f"SELECT coalesce(sum(copies), 0) FROM ({duplicates})")[0][0]
    examples = warehouse.query(f"{duplicates} ORDER BY {cols} LIMIT {PARTIAL_VALUES}") if unexpected else []
    outcome.counted = True
    outcome.element_count = int(total)
    outcome.missing_count = int(missing)
    outcome.unexpected_count = int(unexpected)
    outcome.partial_unexpected = [
        row[0] if len(key) == 1 else dict(zip(key, row[:-1], strict=True)) for row in examples
    ]
    outcome.success = outcome.unexpected_count == 0


def check_in_relation(
    warehouse: WarehouseSession,
    outcome: ExpectationOutcome,
    source: str,
    column: str,
    relation: str,
    relation_key: str,
) -> None:
    """Fill ``outcome`` with the rows of ``source`` whose ``column`` is not a key of ``relation``."""
    orphans = (
        f"FROM {source} WHERE {column} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {relation} AS known WHERE known.{relation_key} = gated.{column})"
    )
    total, missing = warehouse.query(f"SELECT count(*), count(*) FILTER (WHERE {column} IS NULL) FROM {source}")[0]
    unexpected = warehouse.query(f"SELECT count(*) {orphans}")[0][0]
    examples = (
        warehouse.query(f"SELECT DISTINCT {column} {orphans} ORDER BY 1 LIMIT {PARTIAL_VALUES}") if unexpected else []
    )
    outcome.counted = True
    outcome.element_count = int(total)
    outcome.missing_count = int(missing)
    outcome.unexpected_count = int(unexpected)
    outcome.partial_unexpected = [r[0] for r in examples]
    outcome.success = outcome.unexpected_count == 0
